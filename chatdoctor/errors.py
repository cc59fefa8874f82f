"""One error tree for the whole product.

    ChatDoctorError
    ├── ConfigError            bad setting: names the file, the key and the closest valid key
    ├── DataError              bad input data: names the path, line/record and field
    ├── RegistryError          unknown or duplicate name in a registry (lists the known names)
    ├── InputTooLong           the system prompt + latest turn do not fit the model's context
    ├── BackendError           a model backend failed
    │   ├── BackendUnavailable     the server/model cannot be reached or loaded
    │   └── BackendTimeout         the backend did not answer in time
    └── SafetyBlocked          a safety check refused the request (fail-closed)

The CLI prints ``str(error)`` on one line and exits with code 2; the web app renders the same
message as OpenAI-shaped JSON under ``/v1`` and as ``error.html`` elsewhere.
"""

from __future__ import annotations

from pathlib import Path


class ChatDoctorError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(ChatDoctorError):
    """A configuration value or key is wrong."""


class RegistryError(ChatDoctorError, KeyError):
    """A name is missing from (or duplicated in) a registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DataError(ChatDoctorError):
    """Input data is malformed; the message names where."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        where = []
        if self.path:
            where.append(self.path if line is None else f"{self.path}:{line}")
        elif line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class InputTooLong(ChatDoctorError):
    """Even after dropping history the prompt does not fit the context window."""


class BackendError(ChatDoctorError):
    """A model backend failed."""


class BackendUnavailable(BackendError):
    """The backend cannot be reached or loaded."""


class BackendTimeout(BackendError):
    """The backend did not answer in time."""


class SafetyBlocked(ChatDoctorError):
    """A safety check refused the request."""
