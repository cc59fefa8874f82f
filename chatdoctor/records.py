"""``InstructionRecord``: the one shape of instruction data, with Alpaca and ShareGPT conversions.

On-disk schema (JSON Lines, one object per line; what ``chatdoctor data build`` writes and training reads)::

    {"id": "genmedgpt_5k-000042",              # unique within a build
     "source": "genmedgpt_5k",                 # dataset (loader) name
     "messages": [{"role": "system", "content": "..."},     # optional, first when present
                  {"role": "user", "content": "..."},
                  {"role": "assistant", "content": "..."}, ...],  # user/assistant alternate, end on assistant
     "lang": "en",                             # zh | en | other (null when unknown)
     "license": "CC BY-NC 4.0",                # null when unknown
     "meta": {...}}                            # free-form: KG citations, generation info, alpaca input

Alpaca (LLaMA-Factory ``formatting: alpaca``): ``{instruction, input, output, system?, history?: [[q, a], ...]}``;
the user turn is ``instruction`` + ``"\\n"`` + ``input`` when ``input`` is non-empty.
ShareGPT (``formatting: sharegpt``): ``{conversations: [{from: human|gpt, value}], system?}``; a leading
``{from: system}`` turn is read as the system prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatdoctor.types import Message

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


class RecordError(ValueError):
    """A record does not fit the schema; callers turn it into a ``DataError`` naming file and line."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class InstructionRecord:
    """One training example: optional system prompt + alternating user/assistant turns."""

    messages: list[Message]
    system: str | None = None
    source: str = ""
    id: str = ""
    lang: str | None = None
    license: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.messages:
            raise RecordError("a record needs at least one user and one assistant turn", "messages")
        for i, m in enumerate(self.messages):
            want = "user" if i % 2 == 0 else "assistant"
            if m.role != want:
                raise RecordError(f"turn {i} has role {m.role!r}, expected {want!r}", "messages")
            if not isinstance(m.content, str):
                raise RecordError(f"turn {i} content must be text", "messages")
        if self.messages[-1].role != "assistant":
            raise RecordError("the last turn must be the assistant's", "messages")

    # --- views ---------------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        """The last user turn."""
        return self.messages[-2].content

    @property
    def response(self) -> str:
        """The last assistant turn."""
        return self.messages[-1].content

    def text(self) -> str:
        """Every turn (system included) joined; used for dedup, language and length checks."""
        parts = [self.system] if self.system else []
        return "\n".join(parts + [m.content for m in self.messages])

    def replace_messages(self, messages: list[Message]) -> InstructionRecord:
        return InstructionRecord(
            messages, self.system, self.source, self.id, self.lang, self.license, self.meta
        )

    # --- our JSONL schema ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        msgs += [m.to_dict() for m in self.messages]
        return {
            "id": self.id,
            "source": self.source,
            "messages": msgs,
            "lang": self.lang,
            "license": self.license,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InstructionRecord:
        raw = d.get("messages")
        if not isinstance(raw, list):
            raise RecordError("expected a list of {role, content}", "messages")
        msgs = [_message(m, i) for i, m in enumerate(raw)]
        system = None
        if msgs and msgs[0].role == "system":
            system, msgs = msgs[0].content, msgs[1:]
        return cls(
            msgs,
            system=system,
            source=str(d.get("source") or ""),
            id=str(d.get("id") or ""),
            lang=d.get("lang"),
            license=d.get("license"),
            meta=dict(d.get("meta") or {}),
        )

    # --- Alpaca --------------------------------------------------------------------------------

    def to_alpaca(self) -> dict[str, Any]:
        turns = [
            (self.messages[i].content, self.messages[i + 1].content) for i in range(0, len(self.messages), 2)
        ]
        *history, (query, output) = turns
        instruction, inp = query, ""
        kept = self.meta.get("alpaca_input")
        if kept and query.endswith("\n" + kept):
            instruction, inp = query[: -len(kept) - 1], kept
        out: dict[str, Any] = {"instruction": instruction, "input": inp, "output": output}
        if self.system:
            out["system"] = self.system
        if history:
            out["history"] = [list(h) for h in history]
        return out

    @classmethod
    def from_alpaca(
        cls, d: dict[str, Any], *, source: str = "", id: str = "", **kw: Any
    ) -> InstructionRecord:
        instruction = _text(d, "instruction")
        inp = _text(d, "input", required=False)
        output = _text(d, "output")
        history = d.get("history") or []
        if not isinstance(history, list) or any(
            not isinstance(h, list | tuple) or len(h) != 2 or not all(isinstance(x, str) for x in h)
            for h in history
        ):
            raise RecordError("expected a list of [question, answer] pairs", "history")
        msgs: list[Message] = []
        for q, a in history:
            msgs += [Message("user", q), Message("assistant", a)]
        query = f"{instruction}\n{inp}" if inp else instruction
        msgs += [Message("user", query), Message("assistant", output)]
        meta = dict(kw.pop("meta", {}) or {})
        if inp:
            meta["alpaca_input"] = inp
        system = d.get("system") or None
        return cls(msgs, system=system, source=source, id=id, meta=meta, **kw)

    # --- ShareGPT ------------------------------------------------------------------------------

    def to_sharegpt(self) -> dict[str, Any]:
        tag = {"user": "human", "assistant": "gpt"}
        out: dict[str, Any] = {
            "conversations": [{"from": tag[m.role], "value": m.content} for m in self.messages]
        }
        if self.system:
            out["system"] = self.system
        return out

    @classmethod
    def from_sharegpt(
        cls, d: dict[str, Any], *, source: str = "", id: str = "", **kw: Any
    ) -> InstructionRecord:
        conv = d.get("conversations")
        if not isinstance(conv, list):
            raise RecordError("expected a list of {from, value}", "conversations")
        system = d.get("system") or None
        msgs: list[Message] = []
        for i, turn in enumerate(conv):
            if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
                raise RecordError(f"turn {i} needs 'from' and a text 'value'", "conversations")
            who = turn.get("from")
            if who == "system" and i == 0:
                system = turn["value"]
                continue
            if who not in SHAREGPT_ROLES:
                raise RecordError(
                    f"turn {i}: unsupported role {who!r} (tools are not supported)", "conversations"
                )
            msgs.append(Message(SHAREGPT_ROLES[who], turn["value"]))  # type: ignore[arg-type]
        return cls(msgs, system=system, source=source, id=id, **kw)


def _message(m: Any, i: int) -> Message:
    if not isinstance(m, dict) or not isinstance(m.get("content"), str):
        raise RecordError(f"message {i} needs 'role' and a text 'content'", "messages")
    try:
        return Message(m.get("role"), m["content"])  # type: ignore[arg-type]
    except ValueError as exc:
        raise RecordError(f"message {i}: {exc}", "messages") from None


def _text(d: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = d.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise RecordError(
            "missing or not text" if value is None else f"expected text, got {type(value).__name__}", key
        )
    return value
