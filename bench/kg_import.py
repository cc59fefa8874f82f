"""Benchmark: import + save + load of the largest graph buildable from ../shared/data (all sources merged).

    python bench/kg_import.py                    # uses ../shared/data, writes to a temp dir
    python bench/kg_import.py --data DIR --repeat 5 --keep out.cdkg

Prints per-source import seconds and counts, then save/load seconds and file size (plain and gzip).
Load times are the median of --repeat loads in this process (wall clock and CPU time).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from knowledge import store
from knowledge.graph import KnowledgeGraph
from knowledge.importers import import_file

ROOT = Path(__file__).resolve().parents[1]
#: (path under the data folder, format) in import order: the biggest Chinese graph first
INPUTS = [
    ("kg39_medicalgraph/disease.csv", "kg39"),
    ("qasystem_medical_sample/medical2.json.bak", "qasystem"),
    ("cmekg_tools/train_example.json", "cmekg"),
    ("qasystem_medicalkg/dict", "wordlist"),
    ("chatdoctor/format_dataset.csv", "chatdoctor"),
    ("hsdn/symptoms-DO.tsv", "hsdn"),
    ("kaggle_disease_symptom", "kaggle"),
    ("medicine_recommendation", "kaggle"),
]


def _timed(fn, *args, **kw):
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=5, help="loads to time (median reported)")
    ap.add_argument("--keep", type=Path, default=None, help="also keep the graph file here")
    args = ap.parse_args()

    kg = KnowledgeGraph(name="bench")
    total = 0.0
    print(
        f"{'source':42} {'fmt':10} {'read':>7} {'imported':>8} {'entities':>9} {'facts':>8} {'wall s':>7} {'cpu s':>6}"
    )
    for rel, fmt in INPUTS:
        path = args.data / rel
        if not path.exists():
            print(f"{rel:42} missing, skipped")
            continue
        report, wall, cpu = _timed(import_file, kg, path, fmt, progress=False)
        total += wall
        s = kg.stats()
        print(
            f"{rel:42} {fmt:10} {report.read:>7} {report.imported:>8} {s['entities']:>9} {s['facts']:>8} "
            f"{wall:>7.2f} {cpu:>6.2f}"
        )
    stats = kg.stats()
    print(
        f"\nimport total: {total:.2f} s wall; graph: {stats['entities']} entities "
        f"({stats.get('entities.disease', 0)} diseases), {stats['facts']} facts"
    )
    print(
        "  " + ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in stats.items() if k.startswith("entities."))
    )

    with tempfile.TemporaryDirectory() as tmp:
        for compress in (False, True):
            path = Path(tmp) / f"bench{'.gz' if compress else ''}.cdkg"
            size, wall, cpu = _timed(store.save, kg, path, compress=compress)
            loads = [_timed(store.load, path)[1:] for _ in range(args.repeat)]
            walls, cpus = [w for w, _ in loads], [c for _, c in loads]
            label = "gzip" if compress else "plain"
            print(
                f"{label:6} save {wall:.2f} s ({cpu:.2f} cpu) | size {size / 1e6:.1f} MB | load median "
                f"{statistics.median(walls):.3f} s wall, {statistics.median(cpus):.3f} s cpu "
                f"(min {min(walls):.3f}, n={len(walls)})"
            )
            if args.keep and not compress:
                store.save(kg, args.keep)

        kg39 = KnowledgeGraph(name="kg39")
        import_file(kg39, args.data / INPUTS[0][0], "kg39", progress=False)
        path = Path(tmp) / "kg39.cdkg"
        size = store.save(kg39, path)
        loads = [_timed(store.load, path)[1:] for _ in range(args.repeat)]
        s = kg39.stats()
        print(
            f"39.net alone: {s['entities']} entities ({s['entities.disease']} diseases), {s['facts']} facts, "
            f"{size / 1e6:.1f} MB, load median {statistics.median(w for w, _ in loads):.3f} s wall, "
            f"{statistics.median(c for _, c in loads):.3f} s cpu"
        )


if __name__ == "__main__":
    main()
