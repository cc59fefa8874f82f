"""``chatdoctor safety``: triage a message, scrub PII from a file or stdin."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from chatdoctor.errors import DataError

app = typer.Typer(no_args_is_help=True, help="Safety layer: triage a message, scrub PII.")


@app.command()
def triage(
    message: Annotated[str, typer.Argument(help="The user message to triage (Chinese or English).")],
    locale: Annotated[
        str | None, typer.Option(help="Locale for the emergency number, e.g. zh-CN, en-US, de-DE.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full decision as JSON.")] = False,
    no_classifier: Annotated[bool, typer.Option("--no-classifier", help="Rules layer only.")] = False,
) -> None:
    """Triage one message: level, category, evidence, version, and the fixed reply when there is one."""
    from chatdoctor.safety.guard import build_guard

    result = build_guard(locale, use_classifier=not no_classifier).triage(message)
    if as_json:
        typer.echo(json.dumps({**asdict(result), "event": result.event()}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"level: {result.level}")
    typer.echo(f"category: {result.category or '-'}")
    typer.echo(f"evidence: {'; '.join(result.evidence) or '-'}")
    typer.echo(f"source: {result.source}  version: {result.version}")
    if result.banner:
        typer.echo(f"banner: {result.banner}")
    if result.response:
        typer.echo("\n" + result.response)


@app.command()
def calibrate(
    folds: Annotated[int, typer.Option(help="Cross-validation folds over the training set.")] = 5,
) -> None:
    """Choose the classifier's thresholds by cross-validation on train_set.jsonl; rewrite classifier.yaml."""
    from chatdoctor.safety.calibrate import calibrate as run

    typer.echo(f"cross-validating on the training set ({folds} folds)...", err=True)
    thresholds, figures = run(folds=folds)
    typer.echo(json.dumps({"thresholds": asdict(thresholds), "cv": figures}, indent=2))


@app.command()
def scrub(
    file: Annotated[str, typer.Argument(help="A text file to scrub, or - for stdin.")],
    spans: Annotated[
        bool, typer.Option("--spans", help="Also print the replaced spans (kind, start, end) to stderr.")
    ] = False,
) -> None:
    """Replace PII/PHI (names, addresses, dates, phones, ids ...) with typed placeholders; print to stdout."""
    from chatdoctor.safety.pii import scrub as scrub_text

    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot read: {exc.strerror}", path=file) from None
        except UnicodeDecodeError:
            raise DataError("not UTF-8 text", path=file) from None
    result = scrub_text(text)
    sys.stdout.write(result.text)
    if spans:
        for s in result.spans:
            typer.echo(f"{s.kind}\t{s.start}\t{s.end}", err=True)
