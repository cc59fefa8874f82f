"""Resumable prediction logs: one JSON line per answered item, appended and flushed as it comes."""

from __future__ import annotations

import json
from pathlib import Path


def read_done(path: Path) -> dict[str, dict]:
    """Records already written (a torn last line from a crash is ignored and redone)."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[str(rec["id"])] = rec
    return done


class PredictionLog:
    """Append-only JSONL; reopen to resume."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.done = read_done(path)
        if path.exists():  # drop a torn tail so appends start on a fresh line
            path.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.done.values()),
                encoding="utf-8",
            )
        self._f = path.open("a", encoding="utf-8")

    def write(self, rec: dict) -> None:
        self._f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._f.flush()
        self.done[str(rec["id"])] = rec

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
