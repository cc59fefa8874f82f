"""``BuildConfig``: one YAML file (``configs/data/<stage>.yaml``) describes one dataset build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatdoctor.errors import ConfigError


@dataclass
class SourceConfig:
    """One input: a loader over a local file, and how much of it the mixture keeps."""

    name: str  # source tag written into every record (unique within a build)
    loader: str  # a LOADERS name: genmedgpt_5k, huatuo_llama_data, alpaca, kg_qa, ...
    path: str  # local file; relative paths resolve against the project root
    fraction: float = 1.0  # share of the cleaned records kept (e.g. 0.1 to replay general data)
    max_records: int | None = None  # cap after ``fraction`` (seeded sample)
    sample: int | None = None  # draw this many records (seeded) BEFORE cleaning: fast small builds
    required: bool = True  # false: skip (and say so in the manifest) when the file is absent
    scrub_pii: bool = True  # false for public/synthetic text with no patient data (scrubbers misfire on it)
    options: dict[str, Any] = field(default_factory=dict)  # extra loader arguments

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ConfigError(f"source {self.name!r}: fraction must be within (0, 1]")


@dataclass
class CleanConfig:
    strip_artefacts: bool = True  # drop "Chat Doctor" anonymisation sentences, greetings and sign-offs
    min_prompt_chars: int = 2  # shortest user turn kept
    min_response_chars: int = 2  # shortest assistant turn kept
    max_chars: int = 8000  # longest record (all turns) kept
    languages: list[str] = field(default_factory=list)  # keep only these (zh, en); empty: keep all
    scrub_pii: bool = True  # chatdoctor.safety.pii.scrub, then a regex pass (regex alone when absent)
    workers: int = 1  # processes for cleaning (PII scrubbing dominates); 0: one per CPU


@dataclass
class DedupConfig:
    exact: bool = True
    exact_key: str = "prompt"  # prompt: same question twice is a duplicate | conversation
    near: bool = True
    near_threshold: float = 0.85  # MinHash Jaccard estimate above which a record is dropped
    near_key: str = "conversation"


@dataclass
class DecontamConfig:
    """Drop training records that share an n-gram with an evaluation set."""

    eval_sets: list[SourceConfig] = field(default_factory=list)
    n: int = 13  # n-gram length in English words
    n_cjk: int = 30  # n-gram length in CJK characters (short Chinese n-grams hit stock phrases)


@dataclass
class SplitConfig:
    validation: float = 0.02
    test: float = 0.02
    cluster_threshold: float = 0.6  # near-duplicates above this stay in one split

    def __post_init__(self) -> None:
        if self.validation < 0 or self.test < 0 or self.validation + self.test >= 1:
            raise ConfigError("split: validation and test must be >= 0 and sum below 1")


@dataclass
class BuildConfig:
    """A stage dataset: sources → clean → dedup → decontaminate → mix → split → write with a card."""

    name: str = "dataset"
    output_dir: str = "outputs/data/dataset"  # relative to the project root
    description: str = ""  # one paragraph for the dataset card
    seed: int = 42
    sources: list[SourceConfig] = field(default_factory=list)
    clean: CleanConfig = field(default_factory=CleanConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontaminate: DecontamConfig = field(default_factory=DecontamConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    formats: list[str] = field(default_factory=lambda: ["jsonl"])  # also: parquet, alpaca, sharegpt, hf

    def __post_init__(self) -> None:
        names = [s.name for s in self.sources]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"sources: duplicate name(s) {sorted(dup)}")
        bad = set(self.formats) - {"jsonl", "parquet", "alpaca", "sharegpt", "hf"}
        if bad:
            raise ConfigError(f"formats: unknown {sorted(bad)}; use jsonl, parquet, alpaca, sharegpt, hf")


def project_root(start: Path | None = None) -> Path:
    """The nearest directory holding ``pyproject.toml`` above ``start``, else above this package."""
    for origin in (start, Path(__file__)):
        if origin is None:
            continue
        here = origin.resolve()
        for parent in [here, *here.parents]:
            if (parent / "pyproject.toml").is_file():
                return parent
    return Path.cwd()


def resolve(path: str | Path, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root / p).resolve()
