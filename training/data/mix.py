"""Seeded mixtures and leak-free train/validation/test splits (split by near-duplicate cluster)."""

from __future__ import annotations

import random
from collections import defaultdict

from chatdoctor.records import InstructionRecord
from training.data.config import SourceConfig, SplitConfig
from training.data.dedup import clusters

SPLITS = ("train", "validation", "test")


def sample_source(records: list[InstructionRecord], src: SourceConfig, seed: int) -> list[InstructionRecord]:
    """Keep ``fraction`` of a source's records (then at most ``max_records``), in their original order."""
    want = round(len(records) * src.fraction)
    if src.max_records is not None:
        want = min(want, src.max_records)
    if want >= len(records):
        return list(records)
    rng = random.Random(f"{seed}:{src.name}")
    keep = sorted(rng.sample(range(len(records)), want))
    return [records[i] for i in keep]


def presample(records: list[InstructionRecord], n: int, seed: str) -> list[InstructionRecord]:
    """``n`` records drawn with ``seed``, in file order (all of them when there are fewer)."""
    if n >= len(records):
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), n))
    return [records[i] for i in keep]


def split_records(
    records: list[InstructionRecord], cfg: SplitConfig, seed: int
) -> dict[str, list[InstructionRecord]]:
    """Assign whole near-duplicate clusters to splits, so no near-duplicate crosses a split boundary."""
    labels = clusters(records, cfg.cluster_threshold)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    targets = {"test": round(len(records) * cfg.test), "validation": round(len(records) * cfg.validation)}
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for label in order:
        members = groups[label]
        split = next((s for s in ("test", "validation") if len(out[s]) + len(members) <= targets[s]), "train")
        out[split].extend(members)
    return {s: [records[i] for i in sorted(idx)] for s, idx in out.items()}
