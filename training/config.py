"""Typed training configuration: one pipeline YAML = base model + method + a list of stages.

    model: ./models/llama-7b
    template: chatdoctor
    method: lora
    deepspeed: zero2
    stage_defaults: {epochs: 3, learning_rate: 3e-4}
    stages:
      - {name: general, dataset: data/alpaca.jsonl}
      - {name: genmedgpt, dataset: data/genmedgpt.jsonl, chain: merge}

Overrides: ``key=value`` for the pipeline, ``stage.key=value`` for every stage and
``stages.NAME.key=value`` for one stage. Defaults are the published ChatDoctor / Alpaca values
(FIELD_NOTES 3.3); a learning rate left empty takes the method's default below.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatdoctor.config import _merge, from_dict, parse_overrides, read_yaml
from chatdoctor.errors import ConfigError

Method = Literal["full", "lora", "qlora", "ptuning", "freeze"]
Chain = Literal["merge", "continue", "new"]

#: learning rate per method when a stage leaves it empty (ChatDoctor full FT, its LoRA script, ChatGLM P-Tuning v2)
DEFAULT_LR = {"full": 2e-5, "freeze": 2e-5, "lora": 3e-4, "qlora": 3e-4, "ptuning": 2e-2}
DEEPSPEED_PRESETS = ("zero2", "zero3", "zero3_offload")


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass
class LoraSettings:
    """LoRA / QLoRA adapter shape (ChatDoctor and Huatuo: r 8, alpha 16, dropout 0.05)."""

    r: int = field(default=8, metadata=_help("adapter rank"))
    alpha: int = field(default=16, metadata=_help("scaling numerator; LLaMA-Factory uses 2 x r"))
    dropout: float = field(default=0.05, metadata=_help("dropout on the adapter input"))
    target_modules: list[str] = field(
        default_factory=list, metadata=_help("module names; empty = the family's attention projections")
    )
    mlp: bool = field(default=False, metadata=_help("also adapt the MLP projections (LLaMA-Factory 'all')"))


@dataclass
class PrefixSettings:
    """P-Tuning v2 (prefix tuning): virtual key/value tokens in every layer."""

    num_virtual_tokens: int = field(default=128, metadata=_help("ChatGLM's pre_seq_len; 128 in its tutorial"))
    prefix_projection: bool = field(default=False, metadata=_help("reparametrise the prefix through an MLP"))


@dataclass
class StageConfig:
    """One training stage: a dataset, its hyperparameters and how it continues the previous stage."""

    name: str = field(default="", metadata=_help("directory name of the stage inside the run"))
    dataset: str = field(default="", metadata=_help("records: our JSONL, Alpaca JSON or ShareGPT"))
    eval_dataset: str | None = field(default=None, metadata=_help("held-out records for eval loss"))
    chain: Chain = field(
        default="merge",
        metadata=_help("from the previous stage: merge its adapter | continue it | new adapter on its base"),
    )
    epochs: float = field(default=3.0, metadata=_help("passes over the dataset"))
    max_steps: int = field(default=-1, metadata=_help("stop after this many optimizer steps (-1: epochs)"))
    learning_rate: float | None = field(default=None, metadata=_help("empty = the method's default"))
    per_device_batch_size: int = field(default=4, metadata=_help("micro batch per process"))
    gradient_accumulation_steps: int = field(
        default=8, metadata=_help("effective batch = micro x accum x ranks")
    )
    lr_scheduler: str = field(default="cosine", metadata=_help("any transformers scheduler name"))
    warmup_ratio: float = field(default=0.03, metadata=_help("share of steps spent warming up"))
    weight_decay: float = field(default=0.0, metadata=_help("AdamW weight decay"))
    max_grad_norm: float = field(default=1.0, metadata=_help("gradient clipping"))
    max_length: int = field(default=512, metadata=_help("tokens per sample (prompt + reply)"))
    max_samples: int | None = field(default=None, metadata=_help("use only the first N records"))
    packing: bool = field(default=False, metadata=_help("pack several samples per sequence (no leakage)"))
    train_on_prompt: bool = field(default=False, metadata=_help("also learn prompt tokens (not recommended)"))
    logging_steps: int = field(default=10, metadata=_help("log loss every N steps"))
    save_steps: int = field(default=500, metadata=_help("checkpoint every N steps (resume point)"))
    save_total_limit: int = field(default=2, metadata=_help("checkpoints kept"))
    eval_steps: int | None = field(
        default=None, metadata=_help("evaluate every N steps (default: save_steps)")
    )
    seed: int = field(default=42, metadata=_help("data order and init seed"))

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("stage: 'name' is required")
        if not self.dataset:
            raise ConfigError(f"stage {self.name!r}: 'dataset' is required")
        for key in ("per_device_batch_size", "gradient_accumulation_steps", "max_length", "logging_steps"):
            if getattr(self, key) < 1:
                raise ConfigError(f"stage {self.name!r}: {key} must be >= 1")


@dataclass
class PipelineConfig:
    """A base model, a template, a method and the stages run one after another."""

    model: str = field(default="", metadata=_help("base model directory (or hub id on a connected machine)"))
    template: str = field(default="", metadata=_help("prompt template name (chatdoctor templates list)"))
    method: Method = field(default="lora", metadata=_help("full | lora | qlora | ptuning | freeze"))
    output_dir: str = field(default="runs/chatdoctor", metadata=_help("one subdirectory per stage"))
    stages: list[StageConfig] = field(default_factory=list, metadata=_help("run in order"))
    lora: LoraSettings = field(default_factory=LoraSettings)
    prefix: PrefixSettings = field(default_factory=PrefixSettings)
    freeze_trainable_layers: int = field(default=2, metadata=_help("freeze: train only the last N layers"))
    precision: Literal["auto", "bf16", "fp16", "fp32"] = field(
        default="auto", metadata=_help("auto = bf16 on GPUs that have it, else fp16 on GPU, fp32 on CPU")
    )
    gradient_checkpointing: bool = field(default=False, metadata=_help("trade compute for activation memory"))
    attn_implementation: str | None = field(default=None, metadata=_help("sdpa | eager | flash_attention_2"))
    trust_remote_code: bool = field(default=False, metadata=_help("THUDM ChatGLM checkpoints need it"))
    deepspeed: str | None = field(default=None, metadata=_help("zero2 | zero3 | zero3_offload | a JSON path"))
    launcher: Literal["auto", "deepspeed", "torchrun", "none"] = field(
        default="auto", metadata=_help("auto: deepspeed when a deepspeed config is set, else in-process")
    )
    num_gpus: int = field(default=1, metadata=_help("processes per node (on CPU: ranks)"))
    hostfile: str | None = field(default=None, metadata=_help("deepspeed hostfile for multi-node"))
    nnodes: int = field(default=1, metadata=_help("torchrun/deepspeed nodes (env NNODES)"))
    node_rank: int = field(default=0, metadata=_help("this node's rank (env NODE_RANK)"))
    master_addr: str = field(default="127.0.0.1", metadata=_help("rank-0 host (env MASTER_ADDR)"))
    master_port: int = field(default=29500, metadata=_help("rank-0 port (env MASTER_PORT)"))
    zero_loss_patience: int = field(default=20, metadata=_help("abort after N logged losses of exactly 0"))
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"], metadata=_help("Trainer loggers"))
    seed: int = field(default=42, metadata=_help("model init / global seed"))

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigError("'model' is required (a base model directory)")
        if not self.template:
            raise ConfigError("'template' is required (see `chatdoctor templates list`)")
        if not self.stages:
            raise ConfigError("'stages' must list at least one stage")
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"stages: duplicate name(s) {', '.join(dupes)}")
        if self.method == "ptuning" and any(s.chain == "merge" for s in self.stages[1:]):
            raise ConfigError("stages: a prefix (ptuning) cannot be merged; use chain: continue or new")
        if self.method == "ptuning" and any(s.packing for s in self.stages):
            raise ConfigError("stages: packing needs a plain causal mask; turn it off for method: ptuning")
        if (
            self.deepspeed
            and self.deepspeed not in DEEPSPEED_PRESETS
            and not self.deepspeed.endswith(".json")
        ):
            raise ConfigError(
                f"deepspeed: {self.deepspeed!r} is not one of {DEEPSPEED_PRESETS} or a .json file"
            )

    def stage(self, name: str) -> StageConfig:
        """The stage called ``name`` (the error lists the stages)."""
        for s in self.stages:
            if s.name == name:
                return s
        raise ConfigError(f"no stage {name!r}; stages are: {', '.join(s.name for s in self.stages)}")

    def learning_rate(self, stage: StageConfig) -> float:
        """The stage's learning rate, or the method default."""
        return stage.learning_rate if stage.learning_rate is not None else DEFAULT_LR[self.method]

    def deepspeed_config(self) -> str | None:
        """Path of the DeepSpeed JSON (presets ship in training/deepspeed/)."""
        if not self.deepspeed:
            return None
        if self.deepspeed in DEEPSPEED_PRESETS:
            return str(Path(__file__).parent / "deepspeed" / f"{self.deepspeed}.json")
        if not Path(self.deepspeed).is_file():
            raise ConfigError(f"deepspeed: file not found: {self.deepspeed}")
        return self.deepspeed


def load_pipeline(
    path: str | Path | None, overrides: list[str] | None = None, data: dict | None = None
) -> PipelineConfig:
    """YAML (or ``data``), ``stage_defaults`` under every stage, then overrides; relative paths stay as written."""
    raw = copy.deepcopy(data) if data is not None else read_yaml(path) if path else {}
    where = str(path) if path else "config"
    top, every, per_stage = _split_overrides(overrides or [])
    raw = _merge(raw, top)
    defaults = raw.pop("stage_defaults", {}) or {}
    stages = raw.get("stages") or []
    if not isinstance(stages, list) or not all(isinstance(s, dict) for s in stages):
        raise ConfigError(f"{where}: stages: expected a list of mappings")
    names = [s.get("name") for s in stages]
    for name in per_stage:
        if name not in names:
            raise ConfigError(f"{where}: override for unknown stage {name!r}; stages are: {names}")
    raw["stages"] = [
        _merge(_merge(_merge(defaults, s), every), per_stage.get(s.get("name"), {})) for s in stages
    ]
    try:
        return from_dict(PipelineConfig, raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _split_overrides(overrides: list[str]) -> tuple[dict, dict, dict[str, dict]]:
    parsed = parse_overrides(overrides)
    every = parsed.pop("stage", {})
    per_stage = parsed.pop("stages", {})
    if not isinstance(every, dict) or not isinstance(per_stage, dict):
        raise ConfigError("overrides: use stage.KEY=VALUE or stages.NAME.KEY=VALUE")
    return parsed, every, per_stage


def field_help(cls: type) -> dict[str, str]:
    """``{field: help}`` for documentation and ``--help`` listings."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}
