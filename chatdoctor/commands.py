"""``chatdoctor chat`` (a terminal chat like ChatGLM's cli_demo) and ``chatdoctor templates ...``.

chatdoctor chat --backend hf --model ./out/merged
chatdoctor chat --backend openai --base-url http://127.0.0.1:8000/v1 --model chatdoctor-7b
chatdoctor templates export-jinja llama3 -o llama3.jinja
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from chatdoctor.errors import ChatDoctorError

templates_app = typer.Typer(no_args_is_help=True, help="Prompt templates: list, show, export-jinja.")

WELCOME = (
    "ChatDoctor ({backend}). Type a question. 'clear' resets the history, 'exit' or 'stop' quits, "
    "Ctrl-C stops an answer.\nThis assistant informs; it does not replace a clinician. "
    "In an emergency call your local emergency number."
)
QUIT = {"exit", "stop", "quit"}


@templates_app.command("list")
def templates_list() -> None:
    """List the registered templates."""
    from chatdoctor.templates import TEMPLATES, get_template

    for name in TEMPLATES.names():
        typer.echo(f"{name:<11} {get_template(name).description}")


@templates_app.command("show")
def templates_show(name: Annotated[str, typer.Argument(help="template name")]) -> None:
    """Show a template's fields and an example conversation rendered with it."""
    from dataclasses import fields

    from chatdoctor.templates import get_template, render
    from chatdoctor.types import Message

    t = get_template(name)
    for f in fields(t):
        typer.echo(f"{f.name:<20} {getattr(t, f.name)!r}")
    example = [
        Message("system", "You are a careful doctor."),
        Message("user", "I have a fever."),
        Message("assistant", "How high is it?"),
        Message("user", "39 C since yesterday."),
    ]
    typer.echo("\nexample (system + two user turns, generation prompt added):\n")
    typer.echo(render(t, example))


@templates_app.command("export-jinja")
def templates_export_jinja(
    name: Annotated[str, typer.Argument(help="template name")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
) -> None:
    """Print (or write) the Hugging Face Jinja chat_template equivalent to the template."""
    from chatdoctor.io import atomic_write
    from chatdoctor.templates import get_template, to_jinja

    text = to_jinja(get_template(name))
    if output is None:
        typer.echo(text)
        return
    with atomic_write(output) as f:
        f.write(text + "\n")
    typer.echo(f"wrote {output}", err=True)


def chat_config(
    config: Path | None, sets: list[str], flags: dict[str, Any], max_new_tokens: int | None
) -> Any:
    """YAML file, then CHATDOCTOR_* environment, then ``--set key=value``, then the explicit flags."""
    from chatdoctor.config import ChatConfig, load_config, parse_overrides

    extra = parse_overrides(sets)
    extra.update({k: v for k, v in flags.items() if v is not None})
    if max_new_tokens is not None:
        extra.setdefault("params", {})["max_new_tokens"] = max_new_tokens
    return load_config(ChatConfig, config, extra, env_prefix="CHATDOCTOR_")


def chat(
    backend: Annotated[str | None, typer.Option(help="knowledge | hf | openai")] = None,
    model: Annotated[str | None, typer.Option(help="hf: model dir; openai: served model name")] = None,
    adapter: Annotated[str | None, typer.Option(help="hf: peft adapter dir (LoRA or prefix)")] = None,
    template: Annotated[
        str | None, typer.Option(help="prompt template (default: saved with the model)")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="openai: server URL, e.g. http://127.0.0.1:8000/v1")
    ] = None,
    api_key: Annotated[str | None, typer.Option(help="openai: API key (or CHATDOCTOR_API_KEY)")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="chat config YAML")] = None,
    sets: Annotated[list[str] | None, typer.Option("--set", help="override: key=value (repeatable)")] = None,
    system: Annotated[str | None, typer.Option(help="system prompt")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="longest answer, in tokens")] = None,
) -> None:
    """Chat in the terminal with streamed answers (knowledge-only, a local model or a server)."""
    from chatdoctor.engine import build_engine

    flags = {"backend": backend, "model": model, "adapter": adapter, "template": template}
    flags.update(base_url=base_url, api_key=api_key, system_prompt=system)
    cfg = chat_config(config, sets or [], flags, max_new_tokens)
    engine = build_engine(cfg)
    try:
        typer.echo(
            WELCOME.format(backend=", ".join(f"{k}={v}" for k, v in engine.backend.describe().items()))
        )
        chat_loop(engine, cfg.params)
    finally:
        engine.backend.close()


def chat_loop(engine: Any, params: Any, read: Any = input) -> None:
    """Read questions until exit/EOF; stream each answer; keep the history like cli_demo."""
    from chatdoctor.types import Message

    history: list[Message] = []
    while True:
        try:
            query = read("\nUser: ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo()
            return
        if not query:
            continue
        if query.lower() in QUIT:
            return
        if query.lower() == "clear":
            history = []
            typer.echo("History cleared.")
            continue
        answer = answer_turn(engine, [*history, Message("user", query)], params)
        if answer is not None:
            history += [Message("user", query), Message("assistant", answer)]


def answer_turn(engine: Any, messages: list, params: Any) -> str | None:
    """Stream one answer; Ctrl-C stops it (keeping the partial text). Returns the text kept in history."""
    from chatdoctor.engine import Done, Notice, Triage
    from chatdoctor.types import Delta

    cancel = threading.Event()
    streamed: list[str] = []
    done = None
    stream = engine.stream(messages, params, cancel)
    try:
        for event in stream:
            if isinstance(event, Triage):
                _banner(event.result)
            elif isinstance(event, Notice):
                typer.secho(f"[{event.text}]", fg=typer.colors.YELLOW, err=True)
            elif isinstance(event, Delta) and event.text:
                if not streamed:
                    typer.echo("\nChatDoctor: ", nl=False)
                streamed.append(event.text)
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, Done):
                done = event
    except KeyboardInterrupt:  # stop generating now; closing the stream joins the worker
        cancel.set()
        stream.close()
        typer.echo("\n[stopped]")
        return "".join(streamed) or None
    except ChatDoctorError as exc:
        typer.secho(f"\nerror: {exc}", fg=typer.colors.RED, err=True)
        return None
    typer.echo("" if streamed else "\nChatDoctor: ")
    return _after(done, "".join(streamed))


def _banner(triage: Any) -> None:
    if triage.banner:
        typer.secho(
            f"[{triage.banner}]", fg=typer.colors.RED if triage.level == "emergency" else typer.colors.YELLOW
        )
    elif triage.level in ("emergency", "urgent"):
        typer.secho(f"[{triage.level.upper()}: {triage.category or 'see a clinician'}]", fg=typer.colors.RED)


def _after(done: Any, streamed: str) -> str | None:
    """Show what the stream could not: a revised answer, the finish reason, citations."""
    if done is None:
        return streamed or None
    if done.text.startswith(streamed) and done.text != streamed:
        typer.echo(done.text[len(streamed) :].lstrip("\n"))  # e.g. a disclaimer the safety review added
    elif done.text != streamed:
        typer.secho("[the safety review replaced this answer:]", fg=typer.colors.YELLOW)
        typer.echo(done.text)
    if done.finish_reason == "length":
        typer.secho(
            "[answer cut at the token limit: raise --max-new-tokens]", fg=typer.colors.YELLOW, err=True
        )
    elif done.finish_reason == "error":
        typer.secho(f"[error: {done.error}]", fg=typer.colors.RED, err=True)
    if done.citations:
        typer.echo("Sources:")
        for i, c in enumerate(done.citations, 1):
            typer.echo(f"  [{i}] {c.render()} ({c.source}{', ' + c.record_id if c.record_id else ''})")
    return done.text
