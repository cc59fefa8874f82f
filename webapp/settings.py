"""Web-app settings: one pydantic-settings ``Settings`` read from ``CHATDOCTOR_*`` environment variables.

``CHATDOCTOR_DATABASE_URL=postgresql+psycopg://... CHATDOCTOR_REDIS_URL=redis://... chatdoctor serve``.
The model that answers is a ``ChatConfig`` read from ``chat_config`` (a YAML file) with ``chat``
overrides on top (``CHATDOCTOR_CHAT='{"backend": "openai", "base_url": "http://127.0.0.1:8000/v1"}'``).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatdoctor.config import ChatConfig, load_config
from chatdoctor.errors import ConfigError

PLACEHOLDER_SECRETS = {"changethis", "change-me", "changeme", "secret", "dev"}


class Settings(BaseSettings):
    """Everything the web app reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CHATDOCTOR_", extra="ignore")

    environment: Literal["development", "production", "test"] = Field(
        "development", description="production refuses placeholder secrets"
    )
    data_dir: Path = Field(Path("./var"), description="where the embedded database and generated secret live")
    database_url: str = Field("sqlite:///./var/chatdoctor.db", description="SQLAlchemy URL")
    secret_key: str = Field("", description="signs cookies; empty: generated once and kept in data_dir")
    redis_url: str | None = Field(None, description="redis://...: cross-worker streaming and rate limits")
    chat_config: Path | None = Field(None, description="YAML ChatConfig of the model that answers")
    chat: dict[str, Any] = Field(default_factory=dict, description="ChatConfig overrides (JSON in the env)")
    served_model_name: str | None = Field(None, description="model id shown by /v1/models")
    # generation
    generation_threads: int = Field(2, ge=1, le=64, description="concurrent generations per process")
    queue_size: int = Field(64, ge=1, description="waiting generations before 503 queue_full")
    flush_interval_s: float = Field(1.0, gt=0, description="partial text is written to the DB this often")
    generation_timeout_s: float = Field(
        120.0, gt=0, description="no new text for this long ends a generation"
    )
    shutdown_grace_s: float = Field(
        10.0, ge=0, description="on shutdown, running answers get this long to finish"
    )
    keepalive_s: float = Field(15.0, gt=0, description="SSE keep-alive comment interval")
    # limits
    max_message_chars: int = Field(8000, ge=1, description="longest user message")
    max_request_messages: int = Field(200, ge=1, description="most messages in one /v1 request")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest request body")
    rate_limit_per_minute: int = Field(30, ge=1, description="generations per user per minute")
    session_max_age_s: int = Field(14 * 24 * 3600, ge=60, description="sign-in lifetime")
    secure_cookies: bool = Field(False, description="set the Secure flag (behind HTTPS)")
    patient_approval: bool = Field(False, description="patients wait for admin approval like clinicians")

    @field_validator("secret_key")
    @classmethod
    def _no_whitespace(cls, v: str) -> str:
        return v.strip()

    def resolved_secret(self) -> str:
        """The configured secret; a placeholder is refused outside development; empty: generated and kept."""
        if self.secret_key:
            if self.secret_key.lower() in PLACEHOLDER_SECRETS and self.environment != "development":
                raise ConfigError(
                    f"CHATDOCTOR_SECRET_KEY is the placeholder {self.secret_key!r}; set a random value "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        from chatdoctor.io import atomic_write

        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        with atomic_write(path, "w") as fh:
            fh.write(key)
        path.chmod(0o600)
        return key

    def chat_settings(self) -> ChatConfig:
        """The backend configuration: YAML file, then CHATDOCTOR_* env of ChatConfig, then ``chat``."""
        return load_config(ChatConfig, self.chat_config, dict(self.chat) or None)

    def ensure_data_dir(self) -> None:
        """Create the directory of the embedded SQLite database."""
        if self.database_url.startswith("sqlite:///") and ":memory:" not in self.database_url:
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
