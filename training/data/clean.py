"""Record-level cleaning steps: anonymisation artefacts, boilerplate, length, language and PII.

Each step maps one record to a cleaned record or ``None`` (dropped); ``Cleaner`` counts what each
step removed or changed so a build's manifest can report it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from chatdoctor.records import InstructionRecord
from chatdoctor.types import Message

# "Chat Doctor"/"ChatDoctor" replaced names (and whole sentences) in HealthCareMagic and iCliniq (FIELD_NOTES §2.3)
_ARTEFACT = re.compile(r"(?:\bDr\.?\s*)?\bchat\s?doctor\b\.?", re.I)
_SENTENCE = re.compile(r"[^.!?\n]*[.!?\n]+|[^.!?\n]+$")
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|greetings)\b[^.!?\n]{0,60}?\b(?:thanks?|thank you)\b[^.!?\n]{0,20}?"
    r"\b(?:query|question|asking|writing|contacting)\b[^.!?\n]*[.!?]*\s*",
    re.I,
)
_SIGNOFF = re.compile(
    r"\s*(?:best wishes|best regards|regards|wish you (?:a )?good health|take care|thanks(?: and regards)?)"
    r"[,.!]?\s*(?:dr\.?\s*)?(?:chat\s?doctor)?\.?\s*$",
    re.I,
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def strip_artefacts(text: str, *, assistant: bool) -> str:
    """Drop sentences holding the anonymisation token; on doctor turns also the greeting and sign-off."""
    out = text
    if assistant:
        m = _GREETING.match(out)
        if m:
            out = out[m.end() :]
        for _ in range(2):  # "Take care. Best wishes, Chat Doctor."; only the tail can hold a sign-off
            cut = max(0, len(out) - 120)
            m = _SIGNOFF.search(out, cut)
            if m:
                out = out[: m.start()]
    if ("octor" in out or "OCTOR" in out) and _ARTEFACT.search(out):
        out = "".join(s for s in _SENTENCE.findall(out) if not _ARTEFACT.search(s))
    return text if out == text else out.strip()


def detect_lang(text: str) -> str:
    """Script-based language guess: ``zh`` when CJK characters are a third or more of the letters, else ``en``."""
    if text.isascii():  # the common English case, without scanning for CJK
        return "en" if _LATIN.search(text) else "other"
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk + latin == 0:
        return "other"
    return "zh" if cjk / (cjk + latin * 0.25) >= 0.3 else "en"


Step = Callable[[InstructionRecord], InstructionRecord | None]


def artefact_step(rec: InstructionRecord) -> InstructionRecord | None:
    msgs = [
        Message(m.role, strip_artefacts(m.content, assistant=m.role == "assistant")) for m in rec.messages
    ]
    return rec if msgs == rec.messages else rec.replace_messages(msgs)


def length_step(min_prompt: int, min_response: int, max_chars: int) -> Step:
    def step(rec: InstructionRecord) -> InstructionRecord | None:
        users = [m.content for m in rec.messages if m.role == "user"]
        answers = [m.content for m in rec.messages if m.role == "assistant"]
        if (
            min(map(len, map(str.strip, users))) < min_prompt
            or min(map(len, map(str.strip, answers))) < min_response
        ):
            return None
        return None if len(rec.text()) > max_chars else rec

    return step


def lang_step(keep: list[str]) -> Step:
    def step(rec: InstructionRecord) -> InstructionRecord | None:
        rec.lang = detect_lang(rec.text())
        return rec if not keep or rec.lang in keep else None

    return step


def pii_step(scrub: Callable[[str], str], skip_sources: frozenset[str] = frozenset()) -> Step:
    def step(rec: InstructionRecord) -> InstructionRecord | None:
        if rec.source in skip_sources:
            return rec
        msgs = [Message(m.role, scrub(m.content)) for m in rec.messages]
        if rec.system:
            rec.system = scrub(rec.system)
        return rec if msgs == rec.messages else rec.replace_messages(msgs)

    return step


@dataclass
class StepCount:
    """How many records entered a step, left it, and were modified by it."""

    step: str
    input: int = 0
    output: int = 0
    changed: int = 0

    @property
    def removed(self) -> int:
        return self.input - self.output

    def as_dict(self) -> dict[str, int | str]:
        return {
            "step": self.step,
            "input": self.input,
            "output": self.output,
            "removed": self.removed,
            "changed": self.changed,
        }


_WORKER: Cleaner | None = None  # set in the parent before forking worker processes


def _apply_in_worker(rec: InstructionRecord) -> tuple[InstructionRecord | None, list[tuple[bool, bool]]]:
    return _WORKER.apply(rec)  # type: ignore[union-attr]


@dataclass
class Cleaner:
    """A chain of named steps applied one record at a time (optionally in worker processes), with counts."""

    steps: list[tuple[str, Step]] = field(default_factory=list)
    counts: dict[str, StepCount] = field(default_factory=dict)

    def add(self, name: str, step: Step) -> Cleaner:
        self.steps.append((name, step))
        self.counts.setdefault(name, StepCount(name))
        return self

    def apply(self, rec: InstructionRecord) -> tuple[InstructionRecord | None, list[tuple[bool, bool]]]:
        """The cleaned record (None: dropped) and, per step entered, ``(kept, changed)``."""
        trace: list[tuple[bool, bool]] = []
        out: InstructionRecord | None = rec
        for _, step in self.steps:
            before = out.messages  # type: ignore[union-attr]
            out = step(out)  # type: ignore[arg-type]
            trace.append((out is not None, out is not None and out.messages is not before))
            if out is None:
                break
        return out, trace

    def _count(self, trace: list[tuple[bool, bool]]) -> None:
        for (name, _), (kept, changed) in zip(self.steps, trace):
            c = self.counts[name]
            c.input += 1
            c.output += kept
            c.changed += changed

    def run(self, records: Iterable[InstructionRecord], workers: int = 1) -> Iterator[InstructionRecord]:
        """Clean lazily, in order; ``workers > 1`` forks processes (the PII scrubber is the costly step)."""
        if workers <= 1:
            results: Iterable = map(self.apply, records)
            yield from self._collect(results)
            return
        global _WORKER
        _WORKER = self
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from self._collect(pool.imap(_apply_in_worker, records, chunksize=256))

    def _collect(self, results: Iterable) -> Iterator[InstructionRecord]:
        for out, trace in results:
            self._count(trace)
            if out is not None:
                yield out

    def report(self) -> list[dict[str, int | str]]:
        return [self.counts[name].as_dict() for name, _ in self.steps]
