"""Shapes shared by every package: messages, generation parameters, deltas, citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "abort", "error"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"message role must be one of {ROLES}, got {self.role!r}")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}

    @classmethod
    def from_dict(cls, d: dict) -> Message:
        return cls(role=d["role"], content=d["content"])


def as_messages(items: list[Message] | list[dict]) -> list[Message]:
    """Accept OpenAI-style dicts or Messages."""
    return [m if isinstance(m, Message) else Message.from_dict(m) for m in items]


@dataclass
class GenParams:
    """Decoding parameters; greedy when temperature is 0."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError("temperature must be within [0, 2]")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_p must be within (0, 1]")


@dataclass(frozen=True)
class Delta:
    """A piece of streamed text; the last delta of a stream carries finish_reason."""

    text: str = ""
    finish_reason: FinishReason | None = None
    error: str | None = None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Reply:
    """A finished (non-streamed) answer."""

    text: str
    finish_reason: FinishReason
    usage: Usage = field(default_factory=Usage)
    error: str | None = None


@dataclass(frozen=True)
class Citation:
    """A fact an answer relies on, traceable to its source record."""

    subject: str
    relation: str
    object: str
    source: str
    record_id: str | None = None
    label: str | None = None  # short human-readable rendering of the fact
    score: float | None = None

    def render(self) -> str:
        return self.label or f"{self.subject} —{self.relation}→ {self.object}"
