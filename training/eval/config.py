"""Evaluation suite configuration: which systems answer, which tasks they sit, where results go.

A suite YAML looks like::

    name: medical-smoke
    out: runs/eval/medical-smoke
    systems:
      - {name: kg, chat: {backend: knowledge}}
      - {name: tiny, chat: {backend: hf, model: outputs/export}}
    tasks:
      - {name: genmedgpt, type: generation, path: ../shared/data/chatdoctor/chatdoctor5k.json, limit: 50}
      - {name: medqa, type: mcq, format: medqa, path: data/medqa.jsonl, mode: loglik}
      - {name: triage, type: safety}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from chatdoctor.config import ChatConfig
from chatdoctor.errors import ConfigError
from chatdoctor.types import GenParams


@dataclass
class SystemConfig:
    name: str  # label in reports
    chat: ChatConfig = field(default_factory=ChatConfig)
    engine: bool = (
        False  # True: answer through ChatEngine (grounding + safety) as deployed; False: the bare model
    )
    workers: int = 1  # concurrent requests (useful for openai backends)


@dataclass
class TaskConfig:
    name: str
    type: Literal["generation", "mcq", "safety", "consistency"] = "generation"
    path: str | None = None  # dataset file (safety: defaults to the shipped triage evaluation set)
    format: str = "auto"  # generation: auto; mcq: medqa | medmcqa | pubmedqa | cmexam
    limit: int | None = None  # first N records
    metrics: list[str] = field(default_factory=lambda: ["rouge-1", "rouge-2", "rouge-l", "bleu-4"])
    mode: Literal["loglik", "generate"] = "loglik"  # mcq scoring
    shots: int = 0  # mcq few-shot examples taken from the start of the file (excluded from scoring)
    max_new_tokens: int | None = None  # override the suite's


@dataclass
class SuiteConfig:
    name: str = "suite"
    out: str = "runs/eval"
    systems: list[SystemConfig] = field(default_factory=list)
    tasks: list[TaskConfig] = field(default_factory=list)
    params: GenParams = field(default_factory=lambda: GenParams(max_new_tokens=256, temperature=0.0))
    bertscore_model: str | None = None  # a LOCAL model dir; BERTScore is "not computed" without it
    seed: int = 0
    n_boot: int = 1000

    def __post_init__(self) -> None:
        names = [s.name for s in self.systems]
        if len(set(names)) != len(names):
            raise ConfigError(f"systems: duplicate names in {names}")
        tnames = [t.name for t in self.tasks]
        if len(set(tnames)) != len(tnames):
            raise ConfigError(f"tasks: duplicate names in {tnames}")
