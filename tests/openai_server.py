"""A small OpenAI-compatible HTTP server on loopback for tests (real sockets, real SSE).

    with OpenAIServer(replies=["Drink water.", "Rest."]) as server:
        client = OpenAI(base_url=server.base_url, api_key="test")
        ...
        server.requests[-1].body["messages"]        # what the client sent

Replies: a list (consumed in order, the last one repeats), a callable ``(body) -> str``, or nothing
(echo ``You said: <last user message>``). Faults are queued per request with ``server.fail(...)``:
an HTTP status (429 with ``Retry-After``, 500...), a delay before answering (timeouts), garbage
instead of JSON, a stall after N streamed chunks, or a dropped connection. A "token" is a word or a
CJK character; ``max_tokens`` truncates with ``finish_reason="length"``, ``stop`` cuts the text.

Reuse it from any test package: ``from tests.openai_server import OpenAIServer, openai_server``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

_TOKEN = re.compile(
    r"\s*[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]|\s*[^\s\u3400-\u9fff\u3000-\u303f\uff00-\uffef]+|\s+"
)


def split_tokens(text: str) -> list[str]:
    """Words (with their leading space) and single CJK characters; joining gives ``text`` back."""
    return _TOKEN.findall(text)


@dataclass
class Fault:
    """What goes wrong with one request."""

    status: int | None = None  # answer with this HTTP status and an OpenAI error body
    retry_after: float | None = None  # with status 429/503: the Retry-After header (seconds)
    delay: float = 0.0  # seconds before the response starts (client timeouts)
    garbage: bool = False  # 200 OK but malformed payload (bad JSON in the stream or the body)
    stall_after: int | None = None  # stream this many chunks, then hang (mid-stream timeout)
    drop_after: int | None = None  # stream this many chunks, then close the connection


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class OpenAIServer:
    """A scripted chat-completions server; ``start()``/``stop()`` or use it as a context manager."""

    replies: list[str] | Callable[[dict], str] | None = None
    model: str = "tiny-test-model"
    chunk_delay: float = 0.0  # seconds between streamed chunks (to test cancellation)
    requests: list[Request] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    disconnects: int = 0  # streams the client closed before the end

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._reply_index = 0

    # --- control ------------------------------------------------------------------------------
    def fail(self, *faults: Fault) -> OpenAIServer:
        """Queue faults for the next requests (one per request)."""
        self.faults.extend(faults)
        return self

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour ----------------------------------------------------------------------------
    def reply_for(self, body: dict) -> str:
        if callable(self.replies):
            return self.replies(body)
        if self.replies:
            text = self.replies[min(self._reply_index, len(self.replies) - 1)]
            self._reply_index += 1
            return text
        users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
        return f"You said: {users[-1] if users else body.get('prompt', '')}"

    def completion(self, body: dict) -> tuple[list[str], str]:
        """The reply's tokens after ``stop`` and ``max_tokens``, and the finish reason."""
        text = self.reply_for(body)
        stops = body.get("stop") or []
        for s in [stops] if isinstance(stops, str) else stops:
            if s and s in text:
                text = text[: text.index(s)]
        tokens = split_tokens(text)
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if limit is not None and len(tokens) > int(limit):
            return tokens[: int(limit)], "length"
        return tokens, "stop"

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _record(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.owner.requests.append(Request(self.command, self.path, dict(self.headers), body))
        return body

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, fault: Fault | None = None) -> None:
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault and fault.retry_after is not None else {}
        kind = (
            "rate_limit_error"
            if status == 429
            else "server_error"
            if status >= 500
            else "invalid_request_error"
        )
        self._json(
            status, {"error": {"message": message, "type": kind, "param": None, "code": None}}, headers
        )

    def do_GET(self) -> None:
        self._record()
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "tests"}
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        body = self._record()
        fault = self.owner.faults.popleft() if self.owner.faults else None
        if fault and fault.delay:
            self.owner.sleep(fault.delay)
        if fault and fault.status:
            return self._error(fault.status, f"injected HTTP {fault.status}", fault)
        route = self.path.rstrip("/")
        if route not in ("/v1/chat/completions", "/v1/completions"):
            return self._error(404, f"no route {self.path}")
        if not isinstance(body, dict) or ("messages" not in body and "prompt" not in body):
            return self._error(400, "request body must be JSON with 'messages' (or 'prompt')")
        chat = route.endswith("chat/completions")
        if body.get("stream"):
            return self._stream(body, chat, fault)
        if fault and fault.garbage:
            return self._json(200, b'{"id": "broken", "choices": [')
        tokens, finish = self.owner.completion(body)
        text = "".join(tokens)
        choice = {"index": 0, "finish_reason": finish, "logprobs": None}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        usage = {"prompt_tokens": _prompt_tokens(body), "completion_tokens": len(tokens)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        obj = "chat.completion" if chat else "text_completion"
        self._json(200, _envelope(obj, self.owner.model, choices=[choice], usage=usage))

    def _stream(self, body: dict, chat: bool, fault: Fault | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for i, event in enumerate(self._events(body, chat, fault)):
                if fault and fault.stall_after is not None and i == fault.stall_after:
                    self.owner.sleep(30)
                    return
                if fault and fault.drop_after is not None and i == fault.drop_after:
                    return
                self.wfile.write(event.encode())
                self.wfile.flush()
                if self.owner.chunk_delay:
                    self.owner.sleep(self.owner.chunk_delay)
        except (BrokenPipeError, ConnectionResetError):
            self.owner.disconnects += 1

    def _events(self, body: dict, chat: bool, fault: Fault | None) -> Iterator[str]:
        if fault and fault.garbage:
            yield "data: {not json at all\n\n"
            return
        tokens, finish = self.owner.completion(body)
        cid, model, obj = f"chatcmpl-{uuid.uuid4().hex[:12]}", self.owner.model, "chat.completion.chunk"
        if not chat:
            obj = "text_completion"

        def chunk(delta: dict | str, reason: str | None = None) -> str:
            choice = {"index": 0, "finish_reason": reason, "logprobs": None}
            choice.update({"delta": delta} if chat else {"text": delta})
            return f"data: {json.dumps(_envelope(obj, model, id=cid, choices=[choice]))}\n\n"

        if chat:
            yield chunk({"role": "assistant", "content": ""})
        for tok in tokens:
            yield chunk({"content": tok} if chat else tok)
        yield chunk({} if chat else "", finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": _prompt_tokens(body), "completion_tokens": len(tokens)}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            yield f"data: {json.dumps(_envelope(obj, model, id=cid, choices=[], usage=usage))}\n\n"
        yield "data: [DONE]\n\n"


def _envelope(obj: str, model: str, **extra: Any) -> dict:
    out = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": obj,
        "created": int(time.time()),
        "model": model,
    }
    out.update(extra)
    return out


def _prompt_tokens(body: dict) -> int:
    texts = [m.get("content") or "" for m in body.get("messages", [])] or [str(body.get("prompt", ""))]
    return sum(len(split_tokens(t)) for t in texts)


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A fresh scripted server per test; set ``.replies``/``.chunk_delay`` or call ``.fail()`` on it."""
    with OpenAIServer() as server:
        yield server
