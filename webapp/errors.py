"""HTTP-shaped errors raised by services and dependencies; ``app.py`` renders every one the same way.

ChatDoctorError (chatdoctor.errors)
└── WebError               status, OpenAI ``type`` and ``code``
    ├── BadRequest         400 invalid_request_error
    ├── Unauthorized       401 (no or bad credentials)
    ├── Forbidden          403
    ├── NotFound           404 (also for objects the caller may not see)
    └── Busy               429 with Retry-After (rate limit, one active generation)
"""

from __future__ import annotations

from chatdoctor.errors import ChatDoctorError


class WebError(ChatDoctorError):
    status_code = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code or self.code
        self.param = param


class BadRequest(WebError):
    status_code = 400
    type = "invalid_request_error"


class Unauthorized(WebError):
    status_code = 401
    type = "authentication_error"
    code = "invalid_api_key"


class Forbidden(WebError):
    status_code = 403
    type = "permission_error"


class NotFound(WebError):
    status_code = 404
    type = "invalid_request_error"
    code = "not_found"


class Busy(WebError):
    status_code = 429
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float, code: str = "rate_limited") -> None:
        super().__init__(message, code=code)
        self.retry_after = max(int(retry_after + 0.999), 1)


class QueueFull(Busy):
    """503 with Retry-After: every model worker is busy and the queue is full."""

    status_code = 503
    type = "server_error"

    def __init__(self, message: str, *, retry_after: float = 10) -> None:
        super().__init__(message, retry_after=retry_after, code="queue_full")
