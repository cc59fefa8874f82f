"""Records per second for load -> clean -> dedup on GenMedGPT-5k replicated to N records.

    python bench/data_pipeline.py                    # 100,000 records
    python bench/data_pipeline.py --records 20000

Replica k of each record gets " (case k)" appended to the patient's message, so exact dedup keeps
them and the MinHash near-duplicate pass has to do the work. Prints one line per stage.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from training.data.build import _cleaner
from training.data.config import BuildConfig
from training.data.dedup import exact_dedup, near_dedup
from training.data.loaders import load
from training.data.pii import get_scrubber

SOURCE = Path(__file__).resolve().parents[2] / "shared/data/chatdoctor/chatdoctor5k.json"


def replicate(src: Path, n: int, dst: Path) -> None:
    rows = json.loads(src.read_text("utf-8"))
    with dst.open("w", encoding="utf-8") as f:
        f.write("[\n")
        for i in range(n):
            row = dict(rows[i % len(rows)])
            k = i // len(rows)
            if k:
                row["input"] = f"{row['input']} (case {k})"
            f.write(("," if i else "") + json.dumps(row) + "\n")
        f.write("]\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--workers", type=int, default=1, help="cleaning processes")
    parser.add_argument("--no-pii", action="store_true", help="skip PII scrubbing (the costliest step)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "genmedgpt_x.json"
        replicate(args.source, args.records, path)
        mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        records = list(load("genmedgpt_5k", path))
        t1 = time.perf_counter()
        cfg = BuildConfig()
        cfg.clean.scrub_pii = not args.no_pii
        scrubber, scrub = get_scrubber()
        cleaned = list(_cleaner(cfg, scrub).run(records, args.workers))
        t2 = time.perf_counter()
        unique = [r for r, dup in exact_dedup(cleaned) if not dup]
        t3 = time.perf_counter()
        kept = [r for r, dup in near_dedup(unique, 0.85) if dup is None]
        t4 = time.perf_counter()
    n = len(records)
    pii = "off" if args.no_pii else scrubber
    print(
        f"input: {n} records, {mb:.1f} MB (GenMedGPT-5k x{n / 5452:.1f}); PII scrub: {pii}; workers {args.workers}"
    )
    for name, count, secs in [
        ("load", n, t1 - t0),
        ("clean", n, t2 - t1),
        ("exact dedup", len(cleaned), t3 - t2),
        ("near dedup", len(unique), t4 - t3),
    ]:
        print(f"{name:12} {count:>7} rec in {secs:6.2f} s = {count / secs:9.0f} rec/s")
    print(
        f"{'total':12} {n:>7} rec in {t4 - t0:6.2f} s = {n / (t4 - t0):9.0f} rec/s  -> {len(kept)} records kept"
    )


if __name__ == "__main__":
    main()
