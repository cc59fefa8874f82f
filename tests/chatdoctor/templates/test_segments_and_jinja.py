"""Segments for label masking, exactly one BOS, and the exported Jinja against transformers' renderer."""

from __future__ import annotations

import pytest

from chatdoctor.templates import TEMPLATES, get_template, render, segments, to_jinja
from chatdoctor.types import Message

CONVERSATIONS = {
    "one_turn": [Message("user", "头痛三天了"), Message("assistant", "建议测量血压。")],
    "system_two_turns": [
        Message("system", "You are a careful doctor."),
        Message("user", "I have a fever."),
        Message("assistant", "How high is it?"),
        Message("user", "39 C {since} yesterday"),
        Message("assistant", 'Take paracetamol; "see a doctor" if it lasts.'),
    ],
    "three_turns": [
        Message("user", "q1"),
        Message("assistant", "a1"),
        Message("user", "q2"),
        Message("assistant", "a2"),
        Message("user", "q3"),
        Message("assistant", "a3"),
    ],
}
OPEN_CONVERSATIONS = {
    "user_only": [Message("user", "Is ibuprofen safe?")],
    "system_and_history": [
        Message("system", "系统提示"),
        Message("user", "q1"),
        Message("assistant", "a1"),
        Message("user", "q2"),
    ],
    "empty_system": [Message("system", ""), Message("user", "hi")],
}
NAMES = TEMPLATES.names()


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir)


@pytest.mark.parametrize("conv", sorted(CONVERSATIONS))
@pytest.mark.parametrize("name", NAMES)
def test_segments_concatenate_to_the_training_render(name, conv):
    t = get_template(name)
    msgs = CONVERSATIONS[conv]
    segs = segments(t, msgs)
    assert "".join(s.text for s in segs) == render(t, msgs, add_generation_prompt=False)
    replies = [s.text for s in segs if s.train]
    assistants = [m.content for m in msgs if m.role == "assistant"]
    assert len(replies) == len(assistants)
    for text, content in zip(replies, assistants):
        assert content in text
    assert replies[-1].endswith(t.eos), "the last reply must carry the end-of-turn marker"
    assert all(not s.train for s in segs[::2]) and all(s.train for s in segs[1::2])


@pytest.mark.parametrize("name", NAMES)
def test_prompt_segments_never_contain_reply_text(name):
    segs = segments(get_template(name), CONVERSATIONS["three_turns"])
    prompts = "".join(s.text for s in segs if not s.train)
    assert not any(a in prompts for a in ("a1", "a2", "a3"))


@pytest.mark.parametrize("name", NAMES)
def test_rendered_prompt_tokenises_with_exactly_one_bos(name, tokenizer):
    t = get_template(name)
    text = render(t, CONVERSATIONS["system_two_turns"], add_generation_prompt=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if t.bos:
        bos_ids = tokenizer(t.bos, add_special_tokens=False)["input_ids"]
        n = len(bos_ids)
        assert ids[:n] == bos_ids and ids[n : 2 * n] != bos_ids, "BOS must open the text exactly once"
    if t.eos:
        eos_id = tokenizer.convert_tokens_to_ids(t.eos)
        assert eos_id != tokenizer.unk_token_id and ids[-1] == eos_id


@pytest.mark.parametrize("gen", [True, False])
@pytest.mark.parametrize("conv", sorted(CONVERSATIONS) + sorted(OPEN_CONVERSATIONS))
@pytest.mark.parametrize("name", NAMES)
def test_exported_jinja_renders_the_same_string_as_the_registry(name, conv, gen, tokenizer):
    t = get_template(name)
    msgs = CONVERSATIONS.get(conv) or OPEN_CONVERSATIONS[conv]
    via_hf = tokenizer.apply_chat_template(
        [m.to_dict() for m in msgs], chat_template=to_jinja(t), tokenize=False, add_generation_prompt=gen
    )
    assert via_hf == render(t, msgs, add_generation_prompt=gen)


def test_exported_jinja_refuses_non_alternating_roles(tokenizer):
    from jinja2.exceptions import TemplateError

    with pytest.raises(TemplateError, match="alternate"):
        tokenizer.apply_chat_template(
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            chat_template=to_jinja(get_template("llama3")),
            tokenize=False,
        )
