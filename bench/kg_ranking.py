"""Symptom → disease ranking latency: the inverted index (``SymptomIndex.rank``) vs a naive scan.

    python bench/kg_ranking.py                      # the largest graph ../shared/data allows (39.net + HSDN + ...)
    python bench/kg_ranking.py --kg var/kg/graph.cdkg --queries 2000
    python bench/kg_ranking.py --starter            # the bundled starter graph

Queries are realistic symptom sets: 1–4 symptoms of a random disease plus, half the time, one random
other symptom and one denied symptom. Both methods rank the same queries on the same graph and must
return the same top 10; the script prints median and p99 latency for each and their ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.graph import KnowledgeGraph  # noqa: E402
from knowledge.lookup import SymptomIndex, naive_rank  # noqa: E402

#: (path under the shared data folder, importer format) — biggest first; missing ones are skipped
SOURCES = [
    ("kg39_medicalgraph/disease.csv", "kg39"),
    ("qasystem_medical_sample/medical2.json.bak.utf8.jsonl", "qasystem"),
    ("hsdn/symptoms-DO.tsv", "hsdn"),
    ("chatdoctor/format_dataset.csv", "chatdoctor"),
]


def build_graph(args: argparse.Namespace) -> tuple[KnowledgeGraph, str]:
    if args.kg:
        from knowledge.store import load

        return load(args.kg), str(args.kg)
    if args.starter:
        from knowledge.starter import load_starter

        return load_starter(), "starter"
    from knowledge.importers import import_file

    kg = KnowledgeGraph(name="bench")
    used = []
    for rel, fmt in SOURCES:
        path = Path(args.data) / rel
        if path.exists():
            t = time.perf_counter()
            import_file(kg, path, fmt, progress=False)
            used.append(f"{rel} ({time.perf_counter() - t:.1f}s)")
    if not used:
        from knowledge.starter import load_starter

        return load_starter(), "starter (no shared data found)"
    return kg, " + ".join(used)


def queries(index: SymptomIndex, n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    diseases = index.diseases
    symptoms = sorted(index.idf)
    out = []
    for _ in range(n):
        own = list(index.weights[rng.choice(diseases)])
        present = rng.sample(own, min(len(own), rng.randint(1, 4)))
        denied: list[str] = []
        if rng.random() < 0.5:
            present.append(rng.choice(symptoms))
            denied.append(rng.choice(symptoms))
        out.append((present, denied))
    return out


def timed(fn, qs) -> tuple[list[float], list[float], list]:
    """Wall and CPU milliseconds per query (CPU time is immune to other processes on a shared machine)."""
    wall, cpu, results = [], [], []
    for present, denied in qs:
        t, c = time.perf_counter(), time.process_time()
        results.append(fn(present, denied))
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return wall, cpu, results


def p99(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="shared data folder")
    ap.add_argument("--kg", help="a saved .cdkg graph instead of importing")
    ap.add_argument("--starter", action="store_true", help="use the bundled starter graph")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--naive-queries", type=int, default=100, help="the scan is slow: fewer queries for it")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t = time.perf_counter()
    kg, what = build_graph(args)
    print(f"graph: {what}  [{time.perf_counter() - t:.1f}s]")
    stats = kg.stats()
    print(
        f"  {stats.get('entities.disease', 0)} diseases, {stats.get('entities.symptom', 0)} symptoms, "
        f"{stats.get('facts.has_symptom', 0)} has_symptom facts"
    )
    t = time.perf_counter()
    index = SymptomIndex(kg)
    print(
        f"index build: {(time.perf_counter() - t) * 1000:.0f} ms over {len(index.diseases)} diseases with symptoms"
    )
    qs = queries(index, args.queries, args.seed)
    fast_t, fast_c, fast_r = timed(lambda p, d: index.rank(p, d, k=10), qs)
    slow_qs = qs[: args.naive_queries]
    slow_t, slow_c, slow_r = timed(lambda p, d: naive_rank(index, p, d, k=10), slow_qs)
    same = sum(
        [(c.score, c.key) for c in f] == [(round(s, 4), d) for s, d in s_]
        for f, s_ in zip(fast_r, slow_r, strict=False)
    )
    print(f"queries: {len(qs)} (index), {len(slow_qs)} (naive); identical top-10 on {same}/{len(slow_qs)}")
    for clock, fast, slow in (("wall", fast_t, slow_t), ("cpu", fast_c, slow_c)):
        fm, fp, sm, sp = statistics.median(fast), p99(fast), statistics.median(slow), p99(slow)
        print(f"{clock:4} index : median {fm:8.3f} ms   p99 {fp:8.3f} ms")
        print(f"{clock:4} naive : median {sm:8.3f} ms   p99 {sp:8.3f} ms")
        print(
            f"{clock:4} speed-up (naive / index): median {sm / max(fm, 1e-6):.1f}x   p99 {sp / max(fp, 1e-6):.1f}x"
        )


if __name__ == "__main__":
    main()
