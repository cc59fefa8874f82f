"""The ``chatdoctor`` command: mounts each package's commands (imported lazily, so --help is instant).

Each package owns its commands in ``<package>/commands.py`` (or a sub-package's ``commands.py``);
they import torch/transformers/etc. inside the command functions.
"""

from __future__ import annotations

import importlib
import sys

import typer

from chatdoctor.errors import ChatDoctorError

app = typer.Typer(
    name="chatdoctor",
    help="ChatDoctor: medical knowledge graph, data, training, serving and evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

#: name -> "module:attribute" of a Typer sub-app (a command group)
GROUPS = {
    "templates": ("chatdoctor.commands:templates_app", "Prompt templates: list, show, export-jinja."),
    "kg": ("knowledge.commands:app", "Knowledge graph: import, fetch, stats, query, ask, export."),
    "safety": ("chatdoctor.safety.commands:app", "Safety layer: triage a message, scrub PII."),
    "db": ("webapp.commands:db_app", "Database migrations."),
    "data": ("training.data.commands:app", "Datasets: fetch, convert, build, generate, stats."),
}
#: name -> "module:function" of a single command
COMMANDS = {
    "chat": "chatdoctor.commands:chat",
    "serve": "webapp.commands:serve",
    "train": "training.commands:train",
    "export": "training.commands:export",
    "eval": "training.eval.commands:evaluate",
    "serve-vllm": "chatdoctor.serving:serve_vllm",
}


def _load(spec: str):
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None  # that package part is not installed/built yet
        raise


def _mount() -> None:
    for name, (spec, help_text) in GROUPS.items():
        sub = _load(spec)
        if sub is not None:
            app.add_typer(sub, name=name, help=help_text)
    for name, spec in COMMANDS.items():
        fn = _load(spec)
        if fn is not None:
            app.command(name)(fn)


_mount()


def main() -> None:
    try:
        app()
    except ChatDoctorError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
