"""Evaluation sets: (prompt messages, reference) pairs from the formats users bring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chatdoctor.errors import ConfigError, DataError
from chatdoctor.types import Message


@dataclass
class GenItem:
    id: str
    messages: list[Message]  # conversation up to (not including) the reference answer
    reference: str
    meta: dict = field(default_factory=dict)


def read_json_records(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line-or-index, record) from a JSON array or JSON Lines file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    with path.open(encoding="utf-8-sig") as f:
        head = f.read(1)
        while head and head.isspace():
            head = f.read(1)
        f.seek(0)
        if head == "[":
            try:
                data = json.load(f)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON ({exc.msg})", path=path, line=exc.lineno) from None
            yield from enumerate(data)
            return
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON Lines record ({exc.msg})", path=path, line=lineno) from None


def _to_item(idx: int, rec: dict, path: Path) -> GenItem:
    """Accept our `messages` records, Alpaca {instruction,input,output}, iCliniq and Med-ChatGLM rows."""
    rid = str(rec.get("id", idx))
    if "messages" in rec:
        msgs = [Message(m["role"], m["content"]) for m in rec["messages"]]
        if not msgs or msgs[-1].role != "assistant":
            raise DataError(
                "the last message must be the reference assistant reply",
                path=path,
                line=idx,
                field="messages",
            )
        return GenItem(rid, msgs[:-1], msgs[-1].content)
    if "answer_icliniq" in rec:
        return GenItem(rid, [Message("user", rec["input"])], rec["answer_icliniq"])
    if "context" in rec and "target" in rec:
        q = rec["context"].removeprefix("问题：").split("\n回答")[0]
        return GenItem(rid, [Message("user", q)], rec["target"])
    if "output" in rec and ("instruction" in rec or "input" in rec):
        instr, inp = rec.get("instruction", ""), rec.get("input", "")
        msgs = [Message("system", instr), Message("user", inp)] if inp else [Message("user", instr)]
        return GenItem(rid, msgs, rec["output"])
    raise DataError(f"unknown record shape with keys {sorted(rec)}", path=path, line=idx)


def load_generation_set(path: str | Path, limit: int | None = None) -> list[GenItem]:
    path = Path(path)
    items = []
    for idx, rec in read_json_records(path):
        if not isinstance(rec, dict):
            raise DataError("expected a JSON object", path=path, line=idx)
        items.append(_to_item(idx, rec, path))
        if limit is not None and len(items) >= limit:
            break
    return items


def require_path(task) -> str:
    """The task's dataset path, or a ConfigError naming the task."""
    if not task.path:
        raise ConfigError(f"tasks.{task.name}.path: a dataset file is required for {task.type} tasks")
    return task.path
