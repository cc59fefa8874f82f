"""Padding never decides labels, and packed samples cannot see each other."""

from __future__ import annotations

import itertools

import pytest

from chatdoctor.templates import get_template
from training.collate import Collator
from training.encode import IGNORE, encode_records, pack, read_dataset


def test_labels_are_padded_with_ignore_even_when_pad_equals_eos():
    eos = 2
    batch = Collator(pad_id=eos, pad_to_multiple_of=1, tensors=False)(
        [{"input_ids": [5, 6, eos], "labels": [IGNORE, 6, eos]}, {"input_ids": [7], "labels": [7]}]
    )
    assert batch["input_ids"] == [[5, 6, eos], [7, eos, eos]]
    assert batch["labels"] == [[IGNORE, 6, eos], [7, IGNORE, IGNORE]]  # the real EOS stays a target
    assert batch["attention_mask"] == [[1, 1, 1], [1, 0, 0]]


def test_pack_fills_rows_without_splitting_samples():
    features = [{"input_ids": [i] * n, "labels": [i] * n} for i, n in enumerate([5, 3, 7, 2, 1, 6], 1)]
    rows = pack(features, max_length=8)
    assert all(len(r["input_ids"]) <= 8 for r in rows)
    assert sorted(x for r in rows for x in r["input_ids"]) == sorted(
        x for f in features for x in f["input_ids"]
    )
    assert len(rows) == 3  # 24 tokens in rows of 8
    for r in rows:
        starts = [i for i, p in enumerate(r["position_ids"]) if p == 0]
        for a, b in zip(starts, [*starts[1:], len(r["input_ids"])], strict=True):
            assert len(set(r["input_ids"][a:b])) == 1, "a sample's tokens stay together, positions restart"


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logits_equal_unpacked_logits_per_sample(tiny_llama_dir, genmed_jsonl, tiny_tokenizer, attn):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, attn_implementation=attn).eval()
    records = read_dataset(genmed_jsonl, max_samples=12)
    features, _ = encode_records(tiny_tokenizer, get_template("chatdoctor"), records, 48, progress=False)
    features = [{k: v[: 10 + 3 * i] for k, v in f.items()} for i, f in enumerate(features)]  # varied lengths
    rows = pack(features, max_length=64)
    assert len(rows) < len(features)
    batch = Collator(pad_id=tiny_tokenizer.pad_token_id)(rows)
    assert "attention_mask" not in batch
    with torch.no_grad():
        packed = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
        ).logits
        checked = 0
        for r, row in enumerate(rows):
            starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [len(row["input_ids"])]
            for a, b in itertools.pairwise(starts):
                alone = model(input_ids=torch.tensor([row["input_ids"][a:b]]), use_cache=False).logits[0]
                torch.testing.assert_close(packed[r, a:b], alone, atol=1e-5, rtol=1e-4)
                checked += 1
    assert checked == len(features)
