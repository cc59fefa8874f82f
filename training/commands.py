"""``chatdoctor train`` and ``chatdoctor export`` (heavy imports stay inside the functions).

chatdoctor train configs/train/cpu-smoke.yaml
chatdoctor train configs/train/chatdoctor-llama7b.yaml --stage genmedgpt stage.learning_rate=1e-4
chatdoctor export runs/cpu-smoke --out exports/cpu-smoke
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer


def train(
    config: Annotated[Path, typer.Argument(help="pipeline YAML (configs/train/*.yaml)")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="key=value (pipeline), stage.key=value (all stages), stages.NAME.key=value"),
    ] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="run only this stage")] = None,
    force: Annotated[bool, typer.Option("--force", help="retrain finished stages from scratch")] = False,
) -> None:
    """Run a multi-stage fine-tuning pipeline; finished stages are skipped, interrupted ones resume."""
    from training.config import load_pipeline
    from training.launch import env_overrides
    from training.pipeline import run_pipeline

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    pipe = load_pipeline(config, env_overrides() + list(overrides or []))
    for model_dir in run_pipeline(pipe, only=stage, force=force):
        typer.echo(f"stage output: {model_dir}")


def export(
    run_dir: Annotated[
        Path, typer.Argument(help="a run directory (its last stage) or one stage's directory")
    ],
    out: Annotated[Path, typer.Option("--out", help="directory to write")],
    quantize: Annotated[
        str | None, typer.Option("--quantize", help="8bit | 4bit (bitsandbytes, GPU)")
    ] = None,
) -> None:
    """Merge adapters and write a servable model (safetensors, tokenizer, chat template, chatdoctor.yaml)."""
    from training.export import export as export_run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    typer.echo(f"exported: {export_run(run_dir, out, quantize)}")
