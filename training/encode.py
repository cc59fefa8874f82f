"""Records → token ids with labels: the same template as serving, prompts masked, replies (with EOS) learned.

Each conversation is split by ``chatdoctor.templates.segments`` into prompt and reply pieces, tokenised
piece by piece (``add_special_tokens=False``: BOS/EOS are written in the template text), so the label
of every prompt/system/user token is -100 and every reply token, its end-of-turn marker included, is a
target. Padding never decides a label (pad may equal EOS: transformers #22794).

Truncation follows LLaMA-Factory's ``infer_seqlen``: turn by turn, the remaining budget is split between
prompt and reply (a short reply keeps its length, a short prompt keeps its length, else proportional).
A prompt loses its middle, so the instruction header and the reply header both survive; a reply loses
its tail. Records left with no target are dropped and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatdoctor.errors import DataError
from chatdoctor.records import InstructionRecord, RecordError
from chatdoctor.templates import Template, segments
from chatdoctor.types import Message

IGNORE = -100
log = logging.getLogger(__name__)


@dataclass
class EncodeReport:
    """What tokenisation did to a dataset; saved in the stage manifest."""

    records: int = 0
    kept: int = 0
    truncated: int = 0
    dropped_no_target: int = 0
    tokens: int = 0
    target_tokens: int = 0
    longest: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def read_dataset(path: str | Path, max_samples: int | None = None) -> list[InstructionRecord]:
    """Our ``messages`` JSONL, or Alpaca / ShareGPT rows (detected per row), as records."""
    from training.data.formats import iter_rows

    out: list[InstructionRecord] = []
    for line, row in iter_rows(path):
        try:
            if "messages" in row:
                out.append(InstructionRecord.from_dict(row))
            elif "conversations" in row:
                out.append(InstructionRecord.from_sharegpt(row, id=str(row.get("id", line))))
            elif "output" in row:
                out.append(InstructionRecord.from_alpaca(row, id=str(row.get("id", line))))
            else:
                raise RecordError("expected 'messages', 'conversations' or Alpaca 'instruction'/'output'")
        except RecordError as exc:
            raise DataError(str(exc), path=path, line=line, field=exc.field) from None
        if max_samples and len(out) >= max_samples:
            break
    if not out:
        raise DataError("no records", path=path)
    return out


def record_messages(record: InstructionRecord) -> list[Message]:
    """The record as one message list, its system prompt first when present."""
    return ([Message("system", record.system)] if record.system else []) + list(record.messages)


def infer_seqlen(source_len: int, target_len: int, budget: int) -> tuple[int, int]:
    """LLaMA-Factory's split of ``budget`` tokens between a prompt and its reply."""
    if target_len * 2 < budget:
        max_target = budget
    elif source_len * 2 < budget:
        max_target = budget - source_len
    else:
        max_target = int(budget * (target_len / (source_len + target_len)))
    new_target = min(max_target, target_len)
    new_source = min(max(budget - new_target, 0), source_len)
    return new_source, new_target


def _cut_middle(ids: list[int], n: int) -> list[int]:
    if n >= len(ids):
        return ids
    if n <= 0:
        return []
    head = (n + 1) // 2
    return ids[:head] + ids[len(ids) - (n - head) :]


def encode_messages(
    tokenizer: Any,
    template: Template,
    messages: list[Message] | list[dict],
    max_length: int,
    train_on_prompt: bool = False,
) -> tuple[dict[str, list[int]], bool] | None:
    """``({"input_ids", "labels"}, truncated)`` for one conversation, or None if no target survives."""
    pieces = [
        (tokenizer.encode(s.text, add_special_tokens=False), s.train) for s in segments(template, messages)
    ]
    pairs: list[tuple[list[int], list[int]]] = []
    source: list[int] = []
    for ids, train in pieces:
        if train:
            pairs.append((source, ids))
            source = []
        else:
            source = source + ids
    input_ids: list[int] = []
    labels: list[int] = []
    truncated = False
    for src, tgt in pairs:
        budget = max_length - len(input_ids)
        if budget <= 0:
            truncated = True
            break
        n_src, n_tgt = infer_seqlen(len(src), len(tgt), budget)
        truncated |= n_src < len(src) or n_tgt < len(tgt)
        src, tgt = _cut_middle(src, n_src), tgt[:n_tgt]
        input_ids += src + tgt
        labels += (src if train_on_prompt else [IGNORE] * len(src)) + tgt
    if not any(label != IGNORE for label in labels):
        return None
    return {"input_ids": input_ids, "labels": labels}, truncated


def encode_records(
    tokenizer: Any,
    template: Template,
    records: Iterable[InstructionRecord],
    max_length: int,
    train_on_prompt: bool = False,
    progress: bool = True,
) -> tuple[list[dict[str, list[int]]], EncodeReport]:
    """Encode every record; the report counts truncated and dropped ones."""
    from tqdm import tqdm

    report = EncodeReport()
    out: list[dict[str, list[int]]] = []
    records = list(records)
    for record in tqdm(records, desc="tokenising", disable=not progress, unit="rec"):
        report.records += 1
        encoded = encode_messages(tokenizer, template, record_messages(record), max_length, train_on_prompt)
        if encoded is None:
            report.dropped_no_target += 1
            continue
        feature, truncated = encoded
        out.append(feature)
        report.kept += 1
        report.truncated += int(truncated)
        report.tokens += len(feature["input_ids"])
        report.target_tokens += sum(1 for x in feature["labels"] if x != IGNORE)
        report.longest = max(report.longest, len(feature["input_ids"]))
    return out, report


def describe_example(tokenizer: Any, feature: dict[str, list[int]]) -> str:
    """One decoded example: the whole input and the learned tokens only (logged once per run)."""
    text = tokenizer.decode(feature["input_ids"], skip_special_tokens=False)
    target = tokenizer.decode([t for t in feature["labels"] if t != IGNORE], skip_special_tokens=False)
    return f"input:\n{text}\nlabels (learned tokens only):\n{target}"


def pack(features: list[dict[str, list[int]]], max_length: int) -> list[dict[str, list[int]]]:
    """First-fit-decreasing packing into rows of at most ``max_length``; positions restart per sample."""
    order = sorted(range(len(features)), key=lambda i: -len(features[i]["input_ids"]))
    bins: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = len(features[i]["input_ids"])
        slot = next((b for b, free in enumerate(room) if free >= n), None)
        if slot is None:
            bins.append([i])
            room.append(max_length - n)
        else:
            bins[slot].append(i)
            room[slot] -= n
    return [_concat([features[i] for i in sorted(b)]) for b in bins]


def _concat(parts: list[dict[str, list[int]]]) -> dict[str, list[int]]:
    row: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": []}
    for p in parts:
        row["input_ids"] += p["input_ids"]
        row["labels"] += p["labels"]
        row["position_ids"] += list(range(len(p["input_ids"])))
    return row


def iter_lengths(features: Iterable[dict[str, list[int]]]) -> Iterator[int]:
    """Token count of each feature (for length reports and the packing benchmark)."""
    for f in features:
        yield len(f["input_ids"])
