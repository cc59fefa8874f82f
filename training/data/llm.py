"""A paying client done carefully: on-disk cache, rate limit, retries with backoff, token accounting.

``CachedChat.complete(body)`` returns the model's text for an OpenAI chat-completions request body.
Responses are cached under ``sha256(body)`` as soon as they arrive, so an interrupted run resumes
without paying twice. Works with the official ``openai`` client against any compatible base URL.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatdoctor.errors import BackendError, BackendUnavailable
from chatdoctor.io import atomic_write


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class RateLimiter:
    """At most ``per_minute`` request starts per minute across threads (evenly spaced)."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        time.sleep(max(0.0, start - now))


@dataclass
class Accounting:
    """Requests, cache hits, retries and tokens; ``paid`` counts only tokens billed in this run."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def cost(self, prompt_per_1k: float, completion_per_1k: float) -> float:
        return round(
            self.prompt_tokens / 1000 * prompt_per_1k + self.completion_tokens / 1000 * completion_per_1k, 6
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}


class CachedChat:
    """Chat completions through ``client`` with a cache directory, a rate limiter and retries."""

    def __init__(
        self,
        client: Any,
        cache_dir: Path,
        *,
        per_minute: float = 0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.client = client
        self.cache_dir = Path(cache_dir)
        self.limiter = RateLimiter(per_minute)
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stats = Accounting()
        self.fatal: Exception | None = None  # set by a non-retryable error: the other workers stop too

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def cached(self, body: dict[str, Any]) -> dict[str, Any] | None:
        path = self._path(request_hash(body))
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is simply fetched again

    def complete(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """``{"content", "usage", "model", "cached"}``, or None when every retry failed."""
        if self.fatal is not None:
            raise self.fatal
        hit = self.cached(body)
        if hit is not None:
            usage = hit.get("usage") or {}
            self.stats.add(
                cache_hits=1,
                cached_prompt_tokens=usage.get("prompt_tokens", 0),
                cached_completion_tokens=usage.get("completion_tokens", 0),
            )
            return {**hit, "cached": True}
        entry = self._request(body)
        if entry is None:
            return None
        with atomic_write(self._path(request_hash(body))) as f:
            json.dump({**entry, "request": body}, f, ensure_ascii=False)
        return {**entry, "cached": False}

    def _request(self, body: dict[str, Any]) -> dict[str, Any] | None:
        import openai

        retryable = (
            openai.RateLimitError,
            openai.InternalServerError,
            openai.APITimeoutError,
            openai.APIConnectionError,
            openai.APIResponseValidationError,
            json.JSONDecodeError,
        )
        for attempt in range(self.max_retries + 1):
            self.limiter.wait()
            self.stats.add(requests=1)
            try:
                resp = self.client.chat.completions.create(**body)
                content = resp.choices[0].message.content
                if not isinstance(content, str):
                    raise openai.APIResponseValidationError(response=None, body=None, message="no content")  # type: ignore[arg-type]
            except retryable as exc:
                self.stats.error(type(exc).__name__)
                if attempt == self.max_retries:
                    self.stats.add(failed=1)
                    return None
                self.stats.add(retries=1)
                time.sleep(self._delay(attempt, exc))
                continue
            except openai.APIStatusError as exc:  # 400/401/403/404: retrying will not help
                self.fatal = BackendError(f"{body.get('model')}: HTTP {exc.status_code}: {exc.message}")
                raise self.fatal from None
            except openai.OpenAIError as exc:
                self.fatal = BackendUnavailable(str(exc))
                raise self.fatal from None
            usage = resp.usage
            pt, ct = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
            self.stats.add(prompt_tokens=pt, completion_tokens=ct)
            return {
                "content": content,
                "usage": {"prompt_tokens": pt, "completion_tokens": ct},
                "model": resp.model,
            }
        return None

    def _delay(self, attempt: int, exc: Exception) -> float:
        """Exponential backoff with jitter; a server's ``Retry-After`` wins when it is longer."""
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
        response = getattr(exc, "response", None)
        after = response.headers.get("retry-after") if response is not None else None
        try:
            return min(self.max_backoff, max(delay, float(after))) if after else delay
        except ValueError:
            return delay
