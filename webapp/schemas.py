"""API shapes, named by role: ``*Create`` comes in, ``*Public`` goes out (never a raw model row)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    name: str
    role: str
    approved: bool
    is_active: bool


class ConversationCreate(BaseModel):
    title: str = Field("New conversation", max_length=200)


class ConversationUpdate(BaseModel):
    title: str = Field(..., min_length=1, max_length=200)


class ConversationPublic(BaseModel):
    """What lists show: no message text."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    title: str
    kind: str
    updated_at: datetime


class SourcePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    source_type: str
    source_ref: str
    subject: str
    relation: str
    object: str
    label: str
    score: float | None = None


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    conversation_id: uuid.UUID
    parent_id: uuid.UUID | None
    role: str
    content: str
    status: str
    finish_reason: str | None = None
    error: str | None = None
    triage_level: str | None = None
    banner: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    model: str | None = None
    created_at: datetime
    sources: list[SourcePublic] = []


class MessageCreate(BaseModel):
    content: str = Field(..., min_length=1)
    parent_id: uuid.UUID | None = None


class PostedTurn(BaseModel):
    """The reply to posting a message: both rows, the queue position and where to stream from."""

    user_message: MessagePublic
    assistant_message: MessagePublic
    queue_position: int
    stream_url: str


class FeedbackCreate(BaseModel):
    rating: Literal[1, -1]
    reason: str | None = Field(None, max_length=100)
    comment: str | None = Field(None, max_length=4000)
    flag: bool = False


class StopResult(BaseModel):
    stopped: bool
    status: str


# --- OpenAI-compatible /v1 ---------------------------------------------------------------------


class ChatMessageIn(BaseModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

    def text(self) -> str:
        """Plain text of the content (text parts of a multi-part content are joined)."""
        if isinstance(self.content, list):
            return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessageIn] = Field(..., min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0)
    n: int = Field(1, ge=1, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    repetition_penalty: float | None = Field(None, gt=0)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    user: str | None = None
