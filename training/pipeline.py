"""Stage chaining: where each stage starts from, which stages still need to run, and running them.

Each stage writes ``OUTPUT_DIR/<stage>/``: ``model/`` (weights or adapter + tokenizer), checkpoints,
``logs/`` (TensorBoard), ``loss.png``, ``config.yaml`` and ``manifest.json``. How a stage starts:

| method          | chain: merge                          | continue               | new                    |
|-----------------|---------------------------------------|------------------------|------------------------|
| lora / qlora    | previous base + adapter merged (base/) | previous adapter       | fresh adapter, same base |
| ptuning         | refused (a prefix cannot be merged)    | previous prefix        | fresh prefix, same base  |
| full / freeze   | the previous stage's weights (chain is irrelevant)                                |
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from chatdoctor.config import to_dict
from chatdoctor.errors import ConfigError
from chatdoctor.io import atomic_write
from training.config import PipelineConfig, StageConfig
from training.manifest import is_finished
from training.tiny import build_tiny, is_tiny, tiny_dir

log = logging.getLogger("chatdoctor.train")


@dataclass(frozen=True)
class StagePlan:
    """Where one stage reads its starting weights and writes its outputs."""

    stage: StageConfig
    dir: Path
    base: str  # full weights the stage loads
    init_adapter: str | None = None  # adapter (or prefix) to keep training
    merge_from: tuple[str, str] | None = None  # (base, adapter) merged into ``base`` before the stage

    @property
    def model_dir(self) -> Path:
        return self.dir / "model"


def plan_stages(pipe: PipelineConfig) -> list[StagePlan]:
    """The start point of every stage (a pure function of the config)."""
    out = Path(pipe.output_dir)
    first = str(tiny_dir(pipe.model, out)) if is_tiny(pipe.model) else pipe.model
    plans: list[StagePlan] = []
    for i, stage in enumerate(pipe.stages):
        d = out / stage.name
        if i == 0:
            plans.append(StagePlan(stage, d, first))
            continue
        prev = plans[-1]
        prev_model = str(prev.model_dir)
        if pipe.method in ("full", "freeze"):
            plans.append(StagePlan(stage, d, prev_model))
        elif stage.chain == "merge":
            plans.append(StagePlan(stage, d, str(d / "base"), merge_from=(prev.base, prev_model)))
        elif stage.chain == "continue":
            plans.append(StagePlan(stage, d, prev.base, init_adapter=prev_model))
        else:
            plans.append(StagePlan(stage, d, prev.base))
    return plans


def run_pipeline(
    pipe: PipelineConfig, only: str | None = None, force: bool = False, in_process: bool | None = None
) -> list[Path]:
    """Run every unfinished stage (or just ``only``); ``force`` retrains finished ones from scratch."""
    from training.launch import launch_stage, resolve_launcher

    plans = plan_stages(pipe)
    if only is not None:
        pipe.stage(only)  # a clear error for an unknown name
    resolved = Path(pipe.output_dir) / "pipeline.yaml"
    with atomic_write(resolved) as f:
        yaml.safe_dump(to_dict(pipe), f, sort_keys=False, allow_unicode=True)
    launcher = "none" if in_process else resolve_launcher(pipe)
    if is_tiny(pipe.model) and pipe.node_rank == 0:
        build_tiny(pipe.model, Path(plans[0].base), pipe.stages[0].dataset)
    done: list[Path] = []
    for i, plan in enumerate(plans):
        if only is not None and plan.stage.name != only:
            continue
        if force and (only is None or plan.stage.name == only) and plan.dir.exists() and pipe.node_rank == 0:
            shutil.rmtree(plan.dir)
        if is_finished(plan.dir):
            log.info("stage %s: finished already, skipped (--force to retrain)", plan.stage.name)
            done.append(plan.model_dir)
            continue
        if i > 0 and not is_finished(plans[i - 1].dir):
            raise ConfigError(
                f"stage {plan.stage.name!r} needs stage {plans[i - 1].stage.name!r} to finish first"
            )
        if plan.merge_from:
            _prepare_merged_base(plan, pipe)
        log.info("stage %s: training (%s launcher)", plan.stage.name, launcher)
        launch_stage(pipe, resolved, plan.stage.name, launcher)
        if not is_finished(plan.dir):
            raise ConfigError(
                f"stage {plan.stage.name!r} ended without a finished manifest; see the log above"
            )
        done.append(plan.model_dir)
    return done


def _prepare_merged_base(plan: StagePlan, pipe: PipelineConfig) -> None:
    """Merge the previous adapter into its base once (node 0 writes; other nodes wait for it)."""
    from training.export import merge_adapter

    target = Path(plan.base)
    if (target / "config.json").is_file():
        return
    if pipe.node_rank != 0:
        while not (target / "config.json").is_file():
            time.sleep(5)
        return
    base, adapter = plan.merge_from  # type: ignore[misc]
    log.info("stage %s: merging %s into %s", plan.stage.name, adapter, base)
    merge_adapter(base, adapter, target, trust_remote_code=pipe.trust_remote_code)
