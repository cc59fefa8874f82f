"""``chatdoctor data stats``: what a dataset holds, at a glance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from chatdoctor.records import InstructionRecord


def _percentiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {
        "mean": round(float(arr.mean()), 1),
        **{f"p{p}": float(np.percentile(arr, p)) for p in (50, 90, 99)},
        "max": int(arr.max()),
    }


def summarize(records: Iterable[InstructionRecord]) -> dict[str, Any]:
    by_source: Counter[str] = Counter()
    by_lang: Counter[str] = Counter()
    turns: Counter[int] = Counter()
    prompt, response = [], []
    with_system = 0
    for r in records:
        by_source[r.source] += 1
        by_lang[r.lang or "unknown"] += 1
        turns[len(r.messages) // 2] += 1
        prompt.append(len(r.prompt))
        response.append(len(r.response))
        with_system += bool(r.system)
    return {
        "records": sum(by_source.values()),
        "by_source": dict(by_source.most_common()),
        "by_lang": dict(by_lang.most_common()),
        "turns": dict(sorted(turns.items())),
        "with_system": with_system,
        "prompt_chars": _percentiles(prompt),
        "response_chars": _percentiles(response),
    }
