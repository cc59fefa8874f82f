"""Fixtures for the training tests: small real instruction sets (GenMedGPT-5k) in our JSONL schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatdoctor.records import InstructionRecord


def write_genmedgpt(shared_data: Path, out: Path, n: int, skip: int = 0) -> Path:
    """The first ``n`` GenMedGPT-5k records (after ``skip``) as our ``messages`` JSON Lines."""
    rows = json.loads((shared_data / "chatdoctor" / "chatdoctor5k.json").read_text(encoding="utf-8-sig"))
    with out.open("w", encoding="utf-8") as f:
        for i, row in enumerate(rows[skip : skip + n]):
            rec = InstructionRecord.from_alpaca(row, source="genmedgpt_5k", id=f"genmedgpt-{skip + i}")
            f.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
    return out


@pytest.fixture(scope="session")
def genmed_jsonl(shared_data, tmp_path_factory) -> Path:
    """200 real GenMedGPT-5k dialogues as our JSONL."""
    return write_genmedgpt(shared_data, tmp_path_factory.mktemp("genmed") / "genmed.jsonl", 200)


@pytest.fixture(scope="session")
def genmed_small_jsonl(shared_data, tmp_path_factory) -> Path:
    """64 other GenMedGPT-5k dialogues (a second stage's data)."""
    return write_genmedgpt(
        shared_data, tmp_path_factory.mktemp("genmed_small") / "genmed_small.jsonl", 64, skip=300
    )


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
