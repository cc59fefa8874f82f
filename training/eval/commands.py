"""``chatdoctor eval SUITE.yaml``: run an evaluation suite and write its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def evaluate(
    suite: Annotated[Path, typer.Argument(help="Suite YAML (configs/eval/*.yaml).")],
    backend: Annotated[
        str | None, typer.Option(help="Add a system answering with this backend (hf | openai | knowledge).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model dir (hf) or served model name (openai) for the added system.")
    ] = None,
    adapter: Annotated[str | None, typer.Option(help="peft adapter dir for the added system.")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL for the added system.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Label of the added system (default: the backend name).")
    ] = None,
    engine: Annotated[
        bool, typer.Option(help="Answer the added system through the engine (grounding + safety).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: the suite's `out`).")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N items of every task.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a suite key, e.g. --set params.max_new_tokens=64."),
    ] = None,
) -> None:
    """Evaluate every system of the suite (plus one given on the command line) and compare them."""
    from chatdoctor.config import load_config
    from training.eval.config import SuiteConfig, SystemConfig
    from training.eval.runner import run_suite

    cfg = load_config(SuiteConfig, suite, set_ or [])
    if backend:
        chat = load_config(
            type(SystemConfig("x").chat),
            None,
            {
                k: v
                for k, v in {
                    "backend": backend,
                    "model": model,
                    "adapter": adapter,
                    "base_url": base_url,
                }.items()
                if v
            },
        )
        cfg.systems.append(SystemConfig(name=name or backend, chat=chat, engine=engine))
    if limit:
        for t in cfg.tasks:
            t.limit = limit
    if not cfg.systems:
        raise typer.BadParameter("the suite names no systems; add one with --backend")
    summary = run_suite(cfg, out)
    dest = Path(out or cfg.out)
    for task, t in summary["tasks"].items():
        for sysname, r in t["systems"].items():
            cells = ", ".join(
                f"{m} {v['mean']:.2f} [{v['low']:.2f}, {v['high']:.2f}] n={v['n']}"
                for m, v in r["summary"].items()
            )
            typer.echo(f"{task:<16} {sysname:<16} {cells}")
    typer.echo(f"report: {dest / 'report.md'} and {dest / 'report.html'}")
