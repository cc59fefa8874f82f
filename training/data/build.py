"""``build(cfg)``: sources → clean → dedup → decontaminate → mix → split → files + manifest + card.

Everything is written into a temporary directory renamed into place at the end, so an interrupted
build leaves the previous output (or nothing), never a half-written dataset.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from chatdoctor.config import to_dict
from chatdoctor.errors import DataError
from chatdoctor.io import atomic_dir, sha256_file
from chatdoctor.records import InstructionRecord
from training.data import clean
from training.data.card import render_card
from training.data.config import BuildConfig, SourceConfig, resolve
from training.data.dedup import Decontaminator, content_text, exact_dedup, near_dedup
from training.data.formats import publish_mode, to_hf_dataset, write_records
from training.data.loaders import load
from training.data.mix import SPLITS, presample, sample_source, split_records
from training.data.pii import get_scrubber

SCHEMA = "chatdoctor.instruction/v1"
BUCKETS = (64, 128, 256, 512, 1024, 2048, 4096)


def _cleaner(cfg: BuildConfig, scrub: Any) -> clean.Cleaner:
    c = clean.Cleaner()
    if cfg.clean.strip_artefacts:
        c.add("strip_artefacts", clean.artefact_step)
    if cfg.clean.scrub_pii:
        c.add("scrub_pii", clean.pii_step(scrub, frozenset(s.name for s in cfg.sources if not s.scrub_pii)))
    c.add("language", clean.lang_step(cfg.clean.languages))
    c.add(
        "length",
        clean.length_step(cfg.clean.min_prompt_chars, cfg.clean.min_response_chars, cfg.clean.max_chars),
    )
    return c


def _load_sources(cfg: BuildConfig, root: Path, cleaner: clean.Cleaner, inputs: list, skipped: list) -> list:
    records: list[InstructionRecord] = []
    for src in cfg.sources:
        builtin = src.path.startswith("builtin:")
        path = Path(src.path) if builtin else resolve(src.path, root)
        if not builtin and not path.exists():
            if src.required:
                raise DataError(f"input of source {src.name!r} not found (fetch it or fix 'path')", path=path)
            skipped.append({"name": src.name, "path": str(path), "reason": "file not found"})
            continue
        inputs.append(_describe_input(src, path))
        loaded = load(src.loader, path, source=src.name, **src.options)
        if src.sample is not None:
            loaded = presample(list(loaded), src.sample, f"{cfg.seed}:{src.name}:sample")
        first = cleaner.counts[cleaner.steps[0][0]]
        before = first.input
        workers = cfg.clean.workers or os.cpu_count() or 1
        kept = list(cleaner.run(tqdm(loaded, desc=f"load {src.name}", unit="rec", leave=False), workers))
        inputs[-1].update(records_loaded=first.input - before, records_after_cleaning=len(kept))
        records.extend(kept)
    return records


def _describe_input(src: SourceConfig, path: Path) -> dict[str, Any]:
    if not path.exists():  # builtin:starter and the like ship with the package
        return {"name": src.name, "loader": src.loader, "path": str(path), "files": []}
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {
        "name": src.name,
        "loader": src.loader,
        "path": str(path),
        "files": [{"path": str(f), "bytes": f.stat().st_size, "sha256": sha256_file(f)} for f in files],
    }


def _filter(step: str, records: list, keep: list[bool], steps: list) -> list:
    out = [r for r, k in zip(records, keep) if k]
    removed = Counter(r.source for r, k in zip(records, keep) if not k)
    steps.append(
        {
            "step": step,
            "input": len(records),
            "output": len(out),
            "removed": len(records) - len(out),
            "removed_by_source": dict(sorted(removed.items())),
        }
    )
    return out


def _decontam(cfg: BuildConfig, root: Path, records: list, steps: list, inputs: list) -> list:
    texts: list[str] = []
    for ev in cfg.decontaminate.eval_sets:
        path = resolve(ev.path, root)
        if not path.exists():
            if ev.required:
                raise DataError(f"evaluation set {ev.name!r} not found", path=path)
            continue
        inputs.append({**_describe_input(ev, path), "role": "decontamination"})
        texts.extend(content_text(r) for r in load(ev.loader, path, source=ev.name, **ev.options))
    if not texts:
        return records
    dc = Decontaminator(texts, cfg.decontaminate.n, cfg.decontaminate.n_cjk)
    return _filter("decontaminate", records, [not dc.contaminated(r) for r in records], steps)


def histogram(values: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        edge = next((b for b in BUCKETS if v < b), None)
        label = f"<{edge}" if edge else f">={BUCKETS[-1]}"
        out[label] = out.get(label, 0) + 1
    return {k: out[k] for k in [f"<{b}" for b in BUCKETS] + [f">={BUCKETS[-1]}"] if k in out}


def _split_stats(recs: list[InstructionRecord]) -> dict[str, Any]:
    return {
        "records": len(recs),
        "by_source": dict(sorted(Counter(r.source for r in recs).items())),
        "by_lang": dict(sorted(Counter(r.lang or "unknown" for r in recs).items())),
        "turns": dict(sorted(Counter(len(r.messages) // 2 for r in recs).items())),
        "prompt_chars": histogram([len(r.prompt) for r in recs]),
        "response_chars": histogram([len(r.response) for r in recs]),
    }


def _select(
    cfg: BuildConfig, root: Path, records: list, steps: list, inputs: list
) -> list[InstructionRecord]:
    """Exact dedup → decontaminate → mix → near dedup, each step appended to ``steps``."""
    if cfg.dedup.exact:
        keep = [not dup for _, dup in exact_dedup(records, cfg.dedup.exact_key)]
        records = _filter("exact_dedup", records, keep, steps)
    records = _decontam(cfg, root, records, steps, inputs)
    by_source: dict[str, list[InstructionRecord]] = {s.name: [] for s in cfg.sources}
    for r in records:
        by_source[r.source].append(r)
    mixed = [r for s in cfg.sources for r in sample_source(by_source[s.name], s, cfg.seed)]
    steps.append(
        {"step": "mix", "input": len(records), "output": len(mixed), "removed": len(records) - len(mixed)}
    )
    if cfg.dedup.near:  # after mixing: only records that will be written need comparing
        bar = tqdm(mixed, desc="near-dup", unit="rec", leave=False)
        marks = near_dedup(bar, cfg.dedup.near_threshold, cfg.dedup.near_key)
        mixed = _filter("near_dedup", mixed, [dup is None for _, dup in marks], steps)
    return mixed


def build(cfg: BuildConfig, root: Path, *, config_path: Path | None = None) -> Path:
    """Run the build described by ``cfg``; returns the output directory."""
    scrubber, scrub = get_scrubber()
    cleaner = _cleaner(cfg, scrub)
    inputs: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    records = _load_sources(cfg, root, cleaner, inputs, skipped)
    if not records:
        raise DataError("no records left after loading and cleaning; check the sources", path=config_path)
    steps: list[dict[str, Any]] = [{**s, "scope": "per record"} for s in cleaner.report()]
    splits = split_records(_select(cfg, root, records, steps, inputs), cfg.split, cfg.seed)
    manifest = {
        "schema": SCHEMA,
        "name": cfg.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config_path": str(config_path) if config_path else None,
        "config": to_dict(cfg),
        "pii_scrubber": scrubber if cfg.clean.scrub_pii else None,
        "inputs": inputs,
        "skipped_sources": skipped,
        "steps": steps,
        "splits": {s: _split_stats(splits[s]) for s in SPLITS},
        "files": {},
    }
    out = resolve(cfg.output_dir, root)
    with atomic_dir(out) as tmp:
        for s in SPLITS:
            manifest["files"][s] = _write_split(tmp, s, splits[s], cfg.formats)
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
        config_yaml = yaml.safe_dump(to_dict(cfg), allow_unicode=True, sort_keys=False)
        (tmp / "config.yaml").write_text(config_yaml, "utf-8")
        (tmp / "README.md").write_text(render_card(manifest, cfg.description), "utf-8")
        for p in [tmp, *tmp.rglob("*")]:
            publish_mode(p)
    return out


def _write_split(tmp: Path, split: str, recs: list[InstructionRecord], formats: list[str]) -> list[str]:
    names = []
    for fmt in formats:
        if fmt == "hf":  # a datasets.Dataset saved with save_to_disk (load_from_disk reads it)
            to_hf_dataset(recs).save_to_disk(str(tmp / f"{split}.hf"))
            names.append(f"{split}.hf")
            continue
        name = {"jsonl": f"{split}.jsonl", "parquet": f"{split}.parquet"}.get(fmt, f"{split}.{fmt}.json")
        write_records(tmp / name, recs, "messages" if fmt in ("jsonl", "parquet") else fmt)
        names.append(name)
    return names
