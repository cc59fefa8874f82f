"""A real loopback OpenAI-compatible server for the data-generation tests.

``/v1/chat/completions`` answers with ``reply(body)``; ``faults`` is a queue of one-shot failures
(``"401"``, ``"429"``, ``"500"``, ``"timeout"``, ``"garbage"``) consumed one per request before replying; every
request body is appended to ``log``. (Written here because the shared ``tests/openai_server.py`` was
not available when these tests were written.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubOpenAI:
    def __init__(self, reply: Callable[[dict[str, Any]], str]) -> None:
        self.reply = reply
        self.faults: list[str] = []
        self.log: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> StubOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.log.append(body)
                fault = stub._next_fault()
                if fault == "429":
                    err = {"error": {"message": "rate limited", "type": "rate_limit"}}
                    return self._send(429, json.dumps(err).encode(), {"Retry-After": "0"})
                if fault == "401":
                    return self._send(401, b'{"error": {"message": "bad key", "type": "invalid_api_key"}}')
                if fault == "500":
                    return self._send(500, b'{"error": {"message": "boom", "type": "server_error"}}')
                if fault == "timeout":
                    time.sleep(1.5)
                if fault == "garbage":
                    return self._send(200, b'{"id": "x", "choices": [ this is not json')
                content = stub.reply(body)
                resp = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
                }
                self._send(200, json.dumps(resp).encode())

        return Handler
