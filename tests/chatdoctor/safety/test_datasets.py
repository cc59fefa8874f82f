"""The shipped labelled sets: well-formed, covering every category, and the training set kept apart."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from rapidfuzz import fuzz, process

from chatdoctor.safety.classifier import LABELS, LABELS_EMERGENCY, read_labelled
from chatdoctor.safety.rules import DATA_DIR
from chatdoctor.safety.text import normalise

HELD_OUT = [
    "eval_set.jsonl",
    "heldout_set.jsonl",
    "heldout2_set.jsonl",
    "heldout3_set.jsonl",
    "heldout4_set.jsonl",
    "heldout5_set.jsonl",
]
NEAR_DUPLICATE = 90  # rapidfuzz ratio on normalised text


def _rows(name: str) -> list[dict]:
    path = DATA_DIR / name
    if not path.exists():
        pytest.skip(f"{name} not shipped")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", HELD_OUT)
def test_held_out_rows_are_well_formed(name):
    for row in _rows(name):
        assert row["level"] in ("emergency", "urgent", "routine", "self-care") and row["lang"] in ("en", "zh")
        assert (row["category"] in LABELS_EMERGENCY) == (row["level"] == "emergency"), row


def test_eval_set_has_several_hundred_messages_covering_every_category_in_both_languages():
    rows = _rows("eval_set.jsonl")
    assert len(rows) >= 300
    seen = Counter((r["category"] or r["level"], r["lang"]) for r in rows)
    for label in (*LABELS_EMERGENCY, "urgent", "routine"):
        for lang in ("en", "zh"):
            assert seen[(label, lang)] >= 5, (label, lang)
    assert sum(r.get("tag") == "tricky_negative" for r in rows) >= 30


def test_training_set_labels_are_known():
    assert {r["label"] for r in read_labelled(DATA_DIR / "train_set.jsonl")} == set(LABELS)


@pytest.mark.parametrize("name", HELD_OUT)
def test_no_training_sentence_is_an_exact_or_near_duplicate_of_a_held_out_one(name):
    train = [normalise(r["text"]) for r in read_labelled(DATA_DIR / "train_set.jsonl")]
    held = [normalise(r["text"]) for r in _rows(name)]
    assert not set(train) & set(held)
    close = [
        (h, m[0], m[1])
        for h in held
        if (m := process.extractOne(h, train, scorer=fuzz.ratio)) and m[1] >= NEAR_DUPLICATE
    ]
    assert close == []


def test_held_out_sets_do_not_share_sentences():
    sets = [{normalise(r["text"]) for r in _rows(n)} for n in HELD_OUT if (DATA_DIR / n).exists()]
    for i, a in enumerate(sets):
        for b in sets[i + 1 :]:
            assert not a & b
