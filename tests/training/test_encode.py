"""Label masking and truncation, checked token by token on every registered template."""

from __future__ import annotations

import pytest

from chatdoctor.errors import DataError
from chatdoctor.records import InstructionRecord
from chatdoctor.templates import TEMPLATES, get_template, render, segments
from chatdoctor.types import Message
from training.encode import IGNORE, encode_messages, encode_records, infer_seqlen, read_dataset

SINGLE = [Message("user", "I have a fever and a cough."), Message("assistant", "Rest and drink fluids.")]
MULTI = [
    Message("system", "You are a careful doctor."),
    Message("user", "My chest hurts."),
    Message("assistant", "When does it hurt?"),
    Message("user", "When I climb stairs."),
    Message("assistant", "Please see a cardiologist soon."),
]


def _runs(labels: list[int]) -> list[list[int]]:
    """Contiguous runs of learned (non -100) label ids."""
    runs: list[list[int]] = []
    prev = IGNORE
    for x in labels:
        if x != IGNORE:
            if prev == IGNORE:
                runs.append([])
            runs[-1].append(x)
        prev = x
    return runs


@pytest.mark.parametrize("name", TEMPLATES.names())
@pytest.mark.parametrize("messages", [SINGLE, MULTI], ids=["single_turn", "multi_turn"])
def test_prompt_tokens_are_masked_and_every_reply_token_with_eos_is_learned(tiny_tokenizer, name, messages):
    template = get_template(name)
    encoded = encode_messages(tiny_tokenizer, template, messages, max_length=4096)
    assert encoded is not None
    feature, truncated = encoded
    assert not truncated
    ids, labels = feature["input_ids"], feature["labels"]
    assert tiny_tokenizer.decode(ids) == render(template, messages, add_generation_prompt=False)
    pos = 0
    for seg in segments(template, messages):
        seg_ids = tiny_tokenizer.encode(seg.text, add_special_tokens=False)
        assert ids[pos : pos + len(seg_ids)] == seg_ids
        for i, token in enumerate(seg_ids):
            assert labels[pos + i] == (token if seg.train else IGNORE), (seg.text, i)
        pos += len(seg_ids)
    assert pos == len(ids)
    replies = [m.content for m in messages if m.role == "assistant"]
    runs = _runs(labels)
    assert len(runs) == len(replies)
    for run, reply in zip(runs, replies, strict=True):
        assert reply in tiny_tokenizer.decode(run)
    eos_id = tiny_tokenizer.convert_tokens_to_ids(template.eos)
    assert runs[-1][-1] == eos_id, "the last reply must end with the template's EOS as a target"
    assert labels[0] == IGNORE


@pytest.mark.parametrize(
    ("source", "target", "budget", "expected"),
    [
        (10, 100, 50, (10, 40)),  # short prompt keeps its length, the reply is cut
        (100, 10, 50, (40, 10)),  # short reply keeps its length, the prompt is cut
        (100, 100, 50, (25, 25)),  # both long: proportional
        (5, 5, 50, (5, 5)),  # everything fits
    ],
)
def test_infer_seqlen_splits_the_budget_like_llama_factory(source, target, budget, expected):
    assert infer_seqlen(source, target, budget) == expected


def test_long_prompt_loses_its_middle_and_keeps_both_headers_and_the_full_reply(tiny_tokenizer):
    template = get_template("chatdoctor")
    msgs = [Message("user", "fever and cough " * 200), Message("assistant", "Rest.")]
    feature, truncated = encode_messages(tiny_tokenizer, template, msgs, max_length=64)
    assert truncated and len(feature["input_ids"]) == 64
    text = tiny_tokenizer.decode(feature["input_ids"])
    assert text.startswith("<s>Below is an instruction")
    assert text.endswith("### Response:Rest.</s>")
    assert tiny_tokenizer.decode([x for x in feature["labels"] if x != IGNORE]) == "Rest.</s>"


def test_long_reply_is_cut_at_its_tail_without_eos(tiny_tokenizer):
    template = get_template("llama3")
    msgs = [Message("user", "Why?"), Message("assistant", "Because the fever " * 100)]
    feature, truncated = encode_messages(tiny_tokenizer, template, msgs, max_length=48)
    assert truncated and len(feature["input_ids"]) == 48
    eot = tiny_tokenizer.convert_tokens_to_ids("<|eot_id|>")
    learned = [x for x in feature["labels"] if x != IGNORE]
    assert learned and eot not in learned
    assert tiny_tokenizer.decode(learned).startswith("Because the fever")


def test_turns_past_the_budget_are_dropped(tiny_tokenizer):
    template = get_template("llama2")
    full = encode_messages(tiny_tokenizer, template, MULTI, max_length=4096)[0]
    first_turn = len(
        tiny_tokenizer.encode(
            "".join(s.text for s in segments(template, MULTI)[:2]), add_special_tokens=False
        )
    )
    feature, truncated = encode_messages(tiny_tokenizer, template, MULTI, max_length=first_turn)
    assert truncated
    assert len(_runs(feature["labels"])) == 1
    assert feature["input_ids"] == full["input_ids"][: len(feature["input_ids"])]


def test_records_with_no_target_left_are_dropped_and_counted(tiny_tokenizer):
    template = get_template("alpaca")
    records = [
        InstructionRecord([Message("user", "x " * 300), Message("assistant", "a long answer " * 50)]),
        InstructionRecord([Message("user", "Hi"), Message("assistant", "Hello")]),
    ]
    assert encode_messages(tiny_tokenizer, template, records[0].messages, max_length=1) is None
    features, report = encode_records(tiny_tokenizer, template, records, max_length=1, progress=False)
    assert report.records == 2 and report.dropped_no_target == 2 and features == []
    fits = len(encode_messages(tiny_tokenizer, template, records[1].messages, 4096)[0]["input_ids"])
    features, report = encode_records(tiny_tokenizer, template, records, max_length=fits, progress=False)
    assert report.kept == 2 and report.truncated == 1 and report.longest == fits
    assert report.target_tokens == sum(1 for f in features for x in f["labels"] if x != IGNORE)


def test_train_on_prompt_learns_prompt_tokens_too(tiny_tokenizer):
    template = get_template("chatdoctor")
    feature, _ = encode_messages(tiny_tokenizer, template, SINGLE, 4096, train_on_prompt=True)
    assert feature["labels"] == feature["input_ids"]


def test_read_dataset_accepts_messages_alpaca_and_sharegpt_rows(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n'
        '{"instruction": "c", "input": "d", "output": "e"}\n'
        '{"conversations": [{"from": "human", "value": "f"}, {"from": "gpt", "value": "g"}]}\n',
        encoding="utf-8",
    )
    records = read_dataset(path)
    assert [r.response for r in records] == ["b", "e", "g"]
    assert records[1].prompt == "c\nd"


def test_read_dataset_names_file_and_line_of_a_bad_record(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n{"text": 1}\n'
    )
    with pytest.raises(DataError, match=r"bad.jsonl:2"):
        read_dataset(path)
