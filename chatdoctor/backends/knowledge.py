"""The knowledge-only backend: answers a patient from knowledge-graph lookups alone, no model.

It renders ``chatdoctor.grounding.consult`` for the conversation — possible causes with why, checks,
department, when to seek care, self-care — in the language of the latest question, with ``[n]``
markers that index the engine's citations (the grounder computes the same consultation), and the
reminder that this is not a diagnosis. The text is streamed in small pieces like a model's output.
It is the default backend (``ChatConfig.backend == "knowledge"``); the graph is ``config.kg_path`` or
the bundled starter graph, loaded once per path.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from chatdoctor.backends.base import Backend, register_backend
from chatdoctor.config import ChatConfig
from chatdoctor.errors import ChatDoctorError
from chatdoctor.grounding import PHRASES, Consultation, consult
from chatdoctor.types import Delta, GenParams, Message
from knowledge.lookup import KnowledgeBase

_PIECE = re.compile(r"[\u3400-\u9fff]{1,4}|\s*[^\s\u3400-\u9fff]+|\s+")  # ~1 token each


def estimate_tokens(text: str) -> int:
    """Rough token count: one per CJK character, one per word or punctuation run otherwise."""
    return sum(len(p) if "\u3400" <= p[0] <= "\u9fff" else 1 for p in _PIECE.findall(text))


def render(con: Consultation) -> str:
    """The patient-facing answer for a consultation."""
    p = PHRASES[con.lang]
    parts = [con.intro] if con.intro else []
    for title, findings in con.sections:
        if title:
            joined = ("；" if con.lang == "zh" else "; ").join(_marked(f.text, f.number) for f in findings)
            parts.append(f"{title}{joined}")
        else:  # a ranked list: one line each, set apart from the sections so Markdown doesn't nest them
            parts.append("\n".join(_marked(f.text, f.number) for f in findings))
    if con.kind in ("symptoms", "qa"):
        parts.append(p["disclaimer"])
    return "\n\n".join(parts)


def _marked(text: str, number: int) -> str:
    return f"{text} [{number}]" if number else text


class KnowledgeBackend(Backend):
    """Answers from the knowledge graph; no model, no network."""

    name = "knowledge"

    def __init__(self, kb: KnowledgeBase, *, source: str = "starter") -> None:
        self.kb = kb
        self.source = source

    def stream_chat(
        self, messages: list[Message], params: GenParams, cancel: threading.Event | None = None
    ) -> Iterator[Delta]:
        try:
            text = render(consult(self.kb, messages))
        except ChatDoctorError as exc:
            yield Delta("", "error", str(exc))
            return
        used = 0
        for piece in _PIECE.findall(text):
            if cancel is not None and cancel.is_set():
                yield Delta("", "abort")
                return
            used += estimate_tokens(piece)
            if used > params.max_new_tokens:
                yield Delta("", "length")
                return
            yield Delta(piece)
        yield Delta("", "stop")

    def count_tokens(self, messages: list[Message]) -> int | None:
        return sum(estimate_tokens(m.content) + 4 for m in messages)

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "graph": self.source, "entities": str(len(self.kb.kg))}


@register_backend("knowledge")
def create(config: ChatConfig) -> KnowledgeBackend:
    """Factory: the graph at ``config.kg_path`` or the starter graph (cached; a bad file is a DataError)."""
    return KnowledgeBackend(KnowledgeBase.load(config.kg_path), source=config.kg_path or "starter")
