"""The backend interface: every model is reached through ``stream_chat``.

A backend turns a conversation into streamed text deltas. ``chat()`` is written once here on top of
``stream_chat``. Cancellation is cooperative: pass a ``threading.Event`` and set it; the backend stops
generating (stopping criterion in-process, closing the upstream HTTP stream for servers) and ends the
stream with ``finish_reason="abort"``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

from chatdoctor.registry import Registry
from chatdoctor.types import Delta, GenParams, Message, Reply, Usage


class Backend(ABC):
    """A model that answers chat conversations."""

    name: str = "base"
    #: The template the backend renders prompts with (None: the server applies its own).
    template_name: str | None = None

    @abstractmethod
    def stream_chat(
        self,
        messages: list[Message],
        params: GenParams,
        cancel: threading.Event | None = None,
    ) -> Iterator[Delta]:
        """Yield text deltas; the last one carries ``finish_reason`` (stop/length/abort/error)."""

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Prompt length in tokens for these messages, or None when the backend cannot tell."""
        return None

    @property
    def context_window(self) -> int | None:
        """Max prompt + output tokens, when known."""
        return None

    def describe(self) -> dict[str, str]:
        """What answers: shown to admins and stored with each message."""
        return {"backend": self.name}

    def chat(
        self,
        messages: list[Message],
        params: GenParams | None = None,
        cancel: threading.Event | None = None,
    ) -> Reply:
        params = params or GenParams()
        parts: list[str] = []
        finish = "stop"
        error = None
        usage = Usage(prompt_tokens=self.count_tokens(messages) or 0)
        for delta in self.stream_chat(messages, params, cancel):
            parts.append(delta.text)
            if delta.text:
                usage.completion_tokens += 1
            if delta.finish_reason:
                finish = delta.finish_reason
                error = delta.error
        return Reply(text="".join(parts), finish_reason=finish, usage=usage, error=error)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release resources (models, HTTP clients)."""


#: name -> factory(config) -> Backend. Factories import their heavy modules lazily.
BACKENDS: Registry[Callable[..., Backend]] = Registry("backend")


def register_backend(name: str) -> Callable[[Callable[..., Backend]], Callable[..., Backend]]:
    def deco(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        BACKENDS.register(name, factory)
        return factory

    return deco
