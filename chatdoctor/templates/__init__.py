"""Prompt templates per model family, shared by training, chat, serving and evaluation.

    from chatdoctor.templates import get_template, render, segments, to_jinja
    t = get_template("llama3")
    prompt = render(t, [Message("user", "What causes a fever?")])

See ``docs/templates.md`` for how BOS/EOS are written and how to tokenise segments for label masking.
"""

from chatdoctor.templates import builtin as _builtin  # noqa: F401  (registers the built-ins)
from chatdoctor.templates.base import (
    TEMPLATES,
    Segment,
    Template,
    fill,
    get_template,
    instruction_messages,
    register_template,
    render,
    segments,
    split_system,
)
from chatdoctor.templates.jinja import to_jinja

__all__ = [
    "TEMPLATES",
    "Segment",
    "Template",
    "fill",
    "get_template",
    "instruction_messages",
    "register_template",
    "render",
    "segments",
    "split_system",
    "to_jinja",
]
