"""Batching: right-pad ids, pad labels with -100 (never derive labels from the pad id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training.encode import IGNORE


@dataclass
class Collator:
    """Pads a list of features into tensors.

    >>> Collator(pad_id=0)([{"input_ids": [5, 6], "labels": [-100, 6]}, {"input_ids": [7], "labels": [7]}])
    {'input_ids': [[5, 6], [7, 0]], 'labels': [[-100, 6], [7, -100]], 'attention_mask': [[1, 1], [1, 0]]}
    (as tensors). Packed features carry ``position_ids``: then no attention mask is sent, and the
    model builds a block-diagonal causal mask from the restarting positions (transformers'
    packed-sequence path for sdpa/eager, varlen for flash-attention), so samples never see each other.
    Padding continues as one more "sample" starting at position 0, with labels -100.
    """

    pad_id: int
    pad_to_multiple_of: int = 8
    tensors: bool = True

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        longest = max(len(f["input_ids"]) for f in features)
        m = self.pad_to_multiple_of
        width = -(-longest // m) * m if m > 1 else longest
        packed = "position_ids" in features[0]
        batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
        batch["position_ids" if packed else "attention_mask"] = []
        for f in features:
            n = len(f["input_ids"])
            pad = width - n
            batch["input_ids"].append(list(f["input_ids"]) + [self.pad_id] * pad)
            batch["labels"].append(list(f["labels"]) + [IGNORE] * pad)
            if packed:
                batch["position_ids"].append(list(f["position_ids"]) + list(range(pad)))
            else:
                batch["attention_mask"].append([1] * n + [0] * pad)
        if not self.tensors:
            return batch
        import torch

        return {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}
