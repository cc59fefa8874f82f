"""The ``openai`` backend: any OpenAI-compatible server (vLLM, FastChat, llama.cpp, OpenAI) via the official client.

The server applies the model's chat template (export ours with ``chatdoctor templates export-jinja``).
Retries with exponential backoff (honouring ``Retry-After``) on connection errors, timeouts, 429 and
5xx are the client's own (``max_retries``). Errors before the first token raise ``BackendUnavailable``
/ ``BackendTimeout`` / ``BackendError``; after it the stream ends with ``finish_reason="error"`` so
the partial answer is kept. Cancelling closes the HTTP stream, which makes vLLM abort the request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from chatdoctor.backends.base import Backend, register_backend
from chatdoctor.config import ChatConfig
from chatdoctor.errors import BackendError, BackendTimeout, BackendUnavailable, ChatDoctorError, ConfigError
from chatdoctor.types import Delta, FinishReason, GenParams, Message, as_messages

#: OpenAI finish reasons → ours (tool calls and content filtering end the answer normally)
FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "stop",
    "content_filter": "stop",
}
_MAX_STOPS = 4  # the OpenAI API accepts at most four stop sequences


class OpenAIBackend(Backend):
    """Chat completions over HTTP with streaming."""

    name = "openai"

    def __init__(self, config: ChatConfig) -> None:
        from openai import OpenAI

        if not config.model:
            raise ConfigError("model: the openai backend needs the served model name (--model NAME)")
        self.config = config
        self.base_url = config.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        key = (
            config.api_key
            or os.environ.get("CHATDOCTOR_API_KEY")
            or os.environ.get("OPENAI_API_KEY")
            or "EMPTY"
        )
        self.client = OpenAI(
            base_url=self.base_url, api_key=key, timeout=config.timeout, max_retries=config.max_retries
        )
        self.template_name = config.template  # informational: the server renders the prompt
        self.tokenizer = self._load_tokenizer(config.tokenizer)

    @staticmethod
    def _load_tokenizer(path: str | None) -> Any:
        if not path:
            return None
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"tokenizer: cannot load a tokenizer from {path}: {exc}") from None

    @property
    def context_window(self) -> int | None:
        return self.config.context_window

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Exact with a local tokenizer (our template if configured, else the tokenizer's own), else None."""
        if self.tokenizer is None:
            return None
        messages = as_messages(messages)
        if self.config.template:
            from chatdoctor.templates import get_template, render

            text = render(get_template(self.config.template), messages)
        elif getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                [m.to_dict() for m in messages], tokenize=False, add_generation_prompt=True
            )
        else:
            text = "\n".join(f"{m.role}: {m.content}" for m in messages)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "model": str(self.config.model), "base_url": self.base_url}

    def _request(self, messages: list[Message], params: GenParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [m.to_dict() for m in as_messages(messages)],
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
        }
        if params.stop:
            body["stop"] = params.stop[:_MAX_STOPS]
        if params.seed is not None:
            body["seed"] = params.seed
        extra = {}  # vLLM/FastChat read these from the body; OpenAI ignores unknown keys only here
        if params.top_k > 0:
            extra["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            extra["repetition_penalty"] = params.repetition_penalty
        if extra:
            body["extra_body"] = extra
        return body

    def _error(self, exc: Exception) -> ChatDoctorError:
        """Our error for an ``openai`` client exception, naming the server and what to do."""
        import openai

        where = self.base_url
        if isinstance(exc, openai.APITimeoutError):
            return BackendTimeout(
                f"{where} did not answer within {self.config.timeout:g}s (raise the timeout setting if the model is slow)"
            )
        if isinstance(exc, openai.APIConnectionError):
            return BackendUnavailable(
                f"cannot reach the model server at {where}: is it running? ({exc.__cause__ or exc})"
            )
        if isinstance(exc, openai.APIStatusError):
            detail = exc.message if isinstance(exc.message, str) else str(exc)
            if exc.status_code in (401, 403):
                return BackendUnavailable(f"{where} refused the API key ({exc.status_code}): {detail}")
            if exc.status_code == 404:
                return BackendUnavailable(
                    f"{where} does not serve model {self.config.model!r} (404): {detail}"
                )
            return BackendError(f"{where} answered HTTP {exc.status_code}: {detail}")
        if isinstance(exc, openai.APIError):
            return BackendError(f"{where} reported an error: {exc.message}")
        return BackendError(f"malformed response from {where}: {type(exc).__name__}: {exc}")

    def stream_chat(
        self, messages: list[Message], params: GenParams, cancel: threading.Event | None = None
    ) -> Iterator[Delta]:
        import openai

        failures = (openai.OpenAIError, ValueError, TypeError, AttributeError, KeyError, IndexError)
        try:
            stream = self.client.chat.completions.create(**self._request(messages, params))
        except failures as exc:
            raise self._error(exc) from None
        started = False
        chunks = 0
        finish: FinishReason = "stop"
        try:
            for chunk in stream:
                chunks += 1
                if cancel is not None and cancel.is_set():
                    yield Delta(finish_reason="abort")
                    return
                text, reason = _parse_chunk(chunk)
                if text:
                    started = True
                    yield Delta(text)
                if reason:
                    finish = FINISH.get(reason, "stop")
        except failures as exc:
            err = self._error(exc)
            if not started:
                raise err from None
            yield Delta(finish_reason="error", error=str(err))
            return
        finally:
            stream.close()  # cancelling or an early exit drops the connection: the server aborts
        if not chunks:
            raise BackendError(
                f"malformed response from {self.base_url}: the stream carried no completion chunks"
            )
        yield Delta(finish_reason="abort" if cancel is not None and cancel.is_set() else finish)

    def close(self) -> None:
        self.client.close()


def _parse_chunk(chunk: Any) -> tuple[str, str | None]:
    """The text and finish reason of one ``chat.completion.chunk``; a usage-only chunk has neither."""
    choices = chunk.choices
    if choices is None or getattr(chunk, "object", "chat.completion.chunk") not in (
        None,
        "chat.completion.chunk",
    ):
        raise ValueError(f"not a chat.completion.chunk: {chunk!r:.200}")
    if not choices:
        return "", None
    choice = choices[0]
    delta = choice.delta
    text = (delta.content if delta is not None else None) or ""
    if not isinstance(text, str):
        raise TypeError(f"delta.content is not text: {text!r:.100}")
    return text, choice.finish_reason


@register_backend("openai")
def create_openai_backend(config: ChatConfig) -> OpenAIBackend:
    """A client for the OpenAI-compatible server at ``config.base_url``."""
    return OpenAIBackend(config)
