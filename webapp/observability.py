"""Request ids, one structured JSON log line per request (never bodies or message text), metrics, body limit.

Pure ASGI middleware (not ``BaseHTTPMiddleware``): streaming responses and client disconnects pass through.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from webapp.metrics import Metrics

log = logging.getLogger("chatdoctor.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for our loggers and uvicorn's."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("chatdoctor", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our access line replaces it


class RequestContextMiddleware:
    """Assigns ``request.state.request_id``, refuses oversized bodies, logs and counts each request."""

    def __init__(self, app, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.monotonic()
        status = {"code": 500}

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send, request_id)
            self._log(scope, 413, started, request_id)
            return

        async def send_wrapped(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                present = {name.lower() for name, _ in message["headers"]}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]  # pages may set their own
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode()), *extra]
                route = self._route(scope)
                self.metrics.request_seconds.labels(route).observe(time.monotonic() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        finally:
            self._log(scope, status["code"], started, request_id)

    @staticmethod
    def _route(scope) -> str:
        route = scope.get("route")
        return getattr(route, "path", None) or "unmatched"

    def _log(self, scope, status: int, started: float, request_id: str) -> None:
        route = self._route(scope)
        self.metrics.requests.labels(scope["method"], route, str(status)).inc()
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "ms": round((time.monotonic() - started) * 1000, 1),
                "client": (scope.get("client") or ("", 0))[0],
            },
        )

    async def _too_large(self, send, request_id: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "message": f"request body over {self.max_body_bytes} bytes",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "request_too_large",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
