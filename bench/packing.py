"""Packing vs. padding on GenMedGPT-5k lengths: share of non-padding tokens and trained tokens per second.

    python bench/packing.py [--data ../shared/data/chatdoctor/chatdoctor5k.json] [--steps 10] [--max-length 512]

Same tiny random LLaMA (built by training.tiny from the data) and the same micro batch of rows for both
modes; the padded mode batches samples in dataset order and pads each batch to its longest sample,
as the Trainer does. Tokens/s counts only real (non-padding) tokens through forward + backward.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "chatdoctor" / "chatdoctor5k.json"


def _jsonl(src: Path, out: Path) -> Path:
    from chatdoctor.records import InstructionRecord

    rows = json.loads(src.read_text(encoding="utf-8-sig"))
    with out.open("w", encoding="utf-8") as f:
        for i, row in enumerate(rows):
            f.write(json.dumps(InstructionRecord.from_alpaca(row, id=str(i)).to_dict()) + "\n")
    return out


def _step(model, opt, rows, collate) -> tuple[int, int, float]:
    """One optimizer step: (real tokens, tokens incl. padding, seconds)."""
    batch = collate(rows)
    start = time.perf_counter()
    model(**batch, use_cache=False).loss.backward()
    opt.step()
    opt.zero_grad()
    return sum(len(r["input_ids"]) for r in rows), batch["input_ids"].numel(), time.perf_counter() - start


def _measure(model, modes: dict[str, list], collate) -> dict[str, tuple[float, float]]:
    """{mode: (non-padding share, real tokens/s)}; steps alternate between modes so load spikes hit both."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    sums = {name: [0, 0, 0.0] for name in modes}
    for batches in zip(*modes.values(), strict=False):
        for name, rows in zip(modes, batches, strict=True):
            for i, x in enumerate(_step(model, opt, rows, collate)):
                sums[name][i] += x
    return {name: (real / total, real / secs) for name, (real, total, secs) in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=10, help="batches measured per mode")
    parser.add_argument("--batch", type=int, default=4, help="rows per micro batch")
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chatdoctor.templates import get_template
    from training.collate import Collator
    from training.encode import encode_records, pack, read_dataset
    from training.tiny import build_tiny

    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp(prefix="bench-packing-"))
    data = _jsonl(args.data, tmp / "genmedgpt.jsonl")
    model_dir = build_tiny("tiny-random:llama", tmp / "tiny", str(data))
    tok = AutoTokenizer.from_pretrained(model_dir)
    features, report = encode_records(tok, get_template("chatdoctor"), read_dataset(data), args.max_length)
    random.Random(0).shuffle(features)
    packed = pack(features, args.max_length)
    random.Random(1).shuffle(packed)  # pack() orders rows longest-first
    collate = Collator(pad_id=tok.pad_token_id, pad_to_multiple_of=1)
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="sdpa")
    padded_batches = [features[i : i + args.batch] for i in range(0, len(features), args.batch)][: args.steps]
    packed_batches = [packed[i : i + args.batch] for i in range(0, len(packed), args.batch)][: args.steps]
    _measure(model, {"padded": padded_batches[:2], "packed": packed_batches[:2]}, collate)  # warm-up
    result = _measure(model, {"padded": padded_batches, "packed": packed_batches}, collate)
    (pad_share, pad_tps), (pack_share, pack_tps) = result["padded"], result["packed"]
    whole = sum(len(f["input_ids"]) for f in features)
    print(
        f"records {report.records}, kept {report.kept}, truncated {report.truncated}, mean length {whole / len(features):.0f}"
    )
    print(
        f"rows: {len(features)} padded vs {len(packed)} packed ({len(features) / len(packed):.2f} samples per row)"
    )
    print(f"non-padding share: padded {pad_share:.3f}, packed {pack_share:.3f}")
    print(
        f"real tokens/s:     padded {pad_tps:.0f}, packed {pack_tps:.0f}  -> ratio {pack_tps / pad_tps:.2f}x"
    )


if __name__ == "__main__":
    main()
