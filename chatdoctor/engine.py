"""The chat engine: safety triage → knowledge grounding → token budget → model stream → output checks.

Every front end (CLI, web app, ``/v1`` API, evaluation) calls ``ChatEngine.stream``; it yields
events in this order::

    Triage        (always; an emergency ends the turn with a fixed reply, the model never sees it)
    Grounded      (citations behind the answer, possibly empty)
    Notice        (zero or more: "dropped 3 earlier turns to fit the context window")
    Delta ...     (streamed text from the backend)
    Done          (the final, output-checked text, finish reason, usage)

Safety hooks fail closed: an exception in a check is treated as a flagged message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from chatdoctor.backends.base import Backend
from chatdoctor.config import ChatConfig
from chatdoctor.errors import InputTooLong
from chatdoctor.types import Citation, Delta, FinishReason, GenParams, Message, Usage

log = logging.getLogger(__name__)

# --- hook contracts (filled by chatdoctor.safety and knowledge) ------------------------------


@dataclass
class TriageResult:
    """Outcome of input triage for one user turn."""

    level: str = "routine"  # emergency | urgent | routine | self-care
    category: str | None = None  # e.g. cardiac, stroke, self_harm
    evidence: list[str] = field(default_factory=list)
    response: str | None = None  # when set, the turn is answered with this text and the model is skipped
    version: str = "none"
    banner: str | None = None  # short notice shown above the answer (urgent care etc.)

    @property
    def short_circuit(self) -> bool:
        return self.response is not None


@dataclass
class OutputCheck:
    text: str
    changed: bool = False
    notes: list[str] = field(default_factory=list)
    version: str = "none"


class SafetyGuard(Protocol):
    def check_input(self, messages: list[Message], audience: str) -> TriageResult: ...

    def check_output(self, text: str, messages: list[Message], audience: str) -> OutputCheck: ...


@dataclass
class Grounding:
    context: str = ""  # text added to the system prompt; empty when nothing relevant was found
    citations: list[Citation] = field(default_factory=list)


class Grounder(Protocol):
    def ground(self, messages: list[Message]) -> Grounding: ...


# --- events --------------------------------------------------------------------------------


@dataclass
class Triage:
    result: TriageResult


@dataclass
class Grounded:
    citations: list[Citation]


@dataclass
class Notice:
    text: str


@dataclass
class Done:
    text: str
    finish_reason: FinishReason
    usage: Usage
    triage: TriageResult
    citations: list[Citation]
    dropped_turns: int = 0
    output_notes: list[str] = field(default_factory=list)
    error: str | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None


Event = Triage | Grounded | Notice | Delta | Done

FAIL_CLOSED = TriageResult(
    level="urgent",
    category="safety_check_failed",
    evidence=["the safety check could not run"],
    response=(
        "I could not check this message safely, so I will not answer it automatically. "
        "If this is an emergency, call your local emergency number now (120 in China, 911/112 elsewhere). "
        "Otherwise please contact a clinician."
    ),
    version="fail-closed",
)


def _estimate_tokens(messages: list[Message]) -> int:
    # Fallback when the backend has no tokenizer: ~1 token per CJK char or per 4 other chars.
    total = 0
    for m in messages:
        cjk = sum(1 for ch in m.content if "\u4e00" <= ch <= "\u9fff")
        total += cjk + (len(m.content) - cjk) // 4 + 4
    return total


@dataclass
class Budget:
    kept: list[Message]
    dropped_turns: int
    prompt_tokens: int


def fit_history(
    messages: list[Message],
    budget_tokens: int,
    count: Callable[[list[Message]], int] | None = None,
) -> Budget:
    """Drop the oldest whole turns until the prompt fits; never the system prompt or the latest user turn."""
    count = count or _estimate_tokens
    system = [m for m in messages[:1] if m.role == "system"]
    rest = messages[len(system) :]
    if not rest or rest[-1].role != "user":
        raise ValueError("the conversation must end with a user message")
    # A turn is a user message with the assistant replies that follow it.
    turns: list[list[Message]] = []
    for m in rest:
        if m.role == "user" or not turns:
            turns.append([m])
        else:
            turns[-1].append(m)
    dropped = 0
    while True:
        kept = system + [m for t in turns for m in t]
        n = count(kept)
        if n <= budget_tokens or len(turns) == 1:
            break
        turns.pop(0)
        dropped += 1
    if n > budget_tokens:
        raise InputTooLong(
            f"the message is too long for this model: {n} prompt tokens, budget {budget_tokens}. "
            "Shorten it or start a new conversation."
        )
    return Budget(kept=kept, dropped_turns=dropped, prompt_tokens=n)


@dataclass
class ChatEngine:
    backend: Backend
    guard: SafetyGuard | None = None
    grounder: Grounder | None = None
    audience: str = "patient"
    system_prompt: str | None = None
    context_window: int | None = None  # overrides the backend's
    margin_tokens: int = 16

    def _budget(self, params: GenParams) -> int | None:
        window = self.context_window or self.backend.context_window
        if window is None:
            return None
        return max(window - params.max_new_tokens - self.margin_tokens, 1)

    def _triage(self, messages: list[Message]) -> TriageResult:
        if self.guard is None:
            return TriageResult()
        try:
            return self.guard.check_input(messages, self.audience)
        except Exception:  # fail closed: a broken check flags the message
            log.exception("safety input check failed; answering with the fail-closed reply")
            return FAIL_CLOSED

    def _check_output(self, text: str, messages: list[Message]) -> OutputCheck:
        if self.guard is None:
            return OutputCheck(text=text)
        try:
            return self.guard.check_output(text, messages, self.audience)
        except Exception:
            log.exception("safety output check failed; withholding the model's answer")
            return OutputCheck(text=FAIL_CLOSED.response or "", changed=True, notes=["output check failed"])

    def _template_system(self) -> str | None:
        """The default system prompt of the backend's template (Alpaca's preamble...), if it has one."""
        name = self.backend.template_name
        if not name:
            return None
        from chatdoctor.templates import TEMPLATES

        return TEMPLATES.get(name).system if name in TEMPLATES else None

    def build_messages(self, messages: list[Message], grounding: Grounding) -> list[Message]:
        """System prompt (the caller's, else configured, else the template's) plus grounding, then the turns."""
        system = self.system_prompt
        convo = list(messages)
        if convo and convo[0].role == "system":
            system = convo.pop(0).content
        if system is None and grounding.context:
            system = self._template_system()  # grounding adds to the default prompt, never replaces it
        parts = [p for p in (system, grounding.context) if p]
        return ([Message("system", "\n\n".join(parts))] if parts else []) + convo

    def stream(
        self,
        messages: list[Message],
        params: GenParams | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[Event]:
        params = params or GenParams()
        started = time.monotonic()
        triage = self._triage(messages)
        yield Triage(triage)
        if triage.short_circuit:
            text = triage.response or ""
            yield Grounded([])
            yield Delta(text)
            yield Done(text, "stop", Usage(), triage, [], latency_ms=0.0)
            return
        grounding, grounding_failed = self._ground(messages)
        yield Grounded(grounding.citations)
        if grounding_failed:
            yield Notice("The knowledge lookup failed; this answer is not grounded in the knowledge graph.")
        full = self.build_messages(messages, grounding)
        dropped = 0
        prompt_tokens = 0
        budget = self._budget(params)
        if budget is not None:
            fitted = fit_history(full, budget, self._counter())
            full, dropped, prompt_tokens = fitted.kept, fitted.dropped_turns, fitted.prompt_tokens
            if dropped:
                yield Notice(f"Dropped {dropped} earlier turn(s) to fit the model's context window.")
        parts: list[str] = []
        finish: FinishReason = "stop"
        error = None
        ttft = None
        completion = 0
        for delta in self.backend.stream_chat(full, params, cancel):
            if delta.text:
                if ttft is None:
                    ttft = (time.monotonic() - started) * 1000
                parts.append(delta.text)
                completion += 1
                yield Delta(delta.text)
            if delta.finish_reason:
                finish, error = delta.finish_reason, delta.error
        raw = "".join(parts)
        checked = self._check_output(raw, messages) if finish != "error" else OutputCheck(raw)
        usage = Usage(prompt_tokens or (self.backend.count_tokens(full) or 0), completion)
        yield Done(
            text=checked.text,
            finish_reason=finish,
            usage=usage,
            triage=triage,
            citations=grounding.citations,
            dropped_turns=dropped,
            output_notes=checked.notes,
            error=error,
            ttft_ms=ttft,
            latency_ms=(time.monotonic() - started) * 1000,
        )

    def _ground(self, messages: list[Message]) -> tuple[Grounding, bool]:
        """Grounding is an aid, not a safety check: if it fails, answer without it and say so."""
        if self.grounder is None:
            return Grounding(), False
        try:
            return self.grounder.ground(messages), False
        except Exception:
            log.exception("knowledge grounding failed; answering without it")
            return Grounding(), True

    def _counter(self) -> Callable[[list[Message]], int]:
        def count(ms: list[Message]) -> int:
            n = self.backend.count_tokens(ms)
            return n if n is not None else _estimate_tokens(ms)

        return count

    def reply(self, messages: list[Message], params: GenParams | None = None) -> Done:
        """Run a turn to completion and return its ``Done`` event."""
        done = None
        for event in self.stream(messages, params):
            if isinstance(event, Done):
                done = event
        assert done is not None
        return done


def _optional_hook(module: str, attr: str) -> Callable | None:
    """``module.attr`` when that part of the product is installed; None only when it is absent."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)


def build_engine(config: ChatConfig, backend: Backend | None = None) -> ChatEngine:
    """The engine every front end uses: the configured backend, the safety guard and KG grounding when present."""
    from chatdoctor.backends import create_backend

    backend = backend or create_backend(config)
    build_guard = _optional_hook("chatdoctor.safety", "build_guard")
    build_grounder = _optional_hook("chatdoctor.grounding", "build_grounder")
    return ChatEngine(
        backend=backend,
        guard=build_guard(config.locale) if build_guard else None,
        grounder=build_grounder(config) if build_grounder else None,
        audience=config.audience,
        system_prompt=config.system_prompt,
        context_window=config.context_window,
    )
