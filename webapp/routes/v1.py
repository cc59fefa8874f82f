"""OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions`` (streaming and not).

The official ``openai`` client and existing chat UIs work unchanged (``base_url=http://host/v1``, an API key
from the admin page). Answers go through the same engine as the pages: safety triage, knowledge grounding
with citations (the extra ``chatdoctor`` field), the same queue and rate limits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from chatdoctor.engine import Done, Triage
from chatdoctor.errors import BackendError, BackendTimeout
from chatdoctor.types import Delta, GenParams
from chatdoctor.types import Message as ChatMessage
from webapp.deps import ApiUser
from webapp.errors import BadRequest, Busy, NotFound
from webapp.generation import Job
from webapp.schemas import ChatCompletionRequest
from webapp.services.messages import add_safety_event

router = APIRouter(prefix="/v1", tags=["openai"])
_FINISH = {"stop": "stop", "length": "length", "abort": "stop"}
_STARTED = int(time.time())


def served_model(request: Request) -> str:
    """The model id clients send: ``served_model_name``, else the configured model, else the backend name."""
    settings = request.app.state.settings
    if settings.served_model_name:
        return settings.served_model_name
    engine = request.app.state.manager.engine
    desc = engine.backend.describe() if engine is not None else {}
    return desc.get("model") or f"chatdoctor-{desc.get('backend', 'none')}"


@router.get("/models")
def list_models(request: Request, user: ApiUser) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": served_model(request), "object": "model", "created": _STARTED, "owned_by": "chatdoctor"}
        ],
    }


def to_messages(body: ChatCompletionRequest, max_chars: int, max_messages: int) -> list[ChatMessage]:
    """OpenAI messages → engine messages: system/developer merged in front; the last turn must be the user's."""
    if len(body.messages) > max_messages:
        raise BadRequest(f"at most {max_messages} messages per request", param="messages")
    system, turns = [], []
    for i, m in enumerate(body.messages):
        if m.role == "tool":
            raise BadRequest("tool messages are not supported", param=f"messages[{i}].role")
        text = m.text()
        if len(text) > max_chars:
            raise BadRequest(
                f"message {i} has {len(text)} characters; the limit is {max_chars}",
                param=f"messages[{i}].content",
                code="message_too_long",
            )
        if m.role in ("system", "developer"):
            system.append(text)
        else:
            turns.append(ChatMessage(m.role, text))
    if not turns or turns[-1].role != "user":
        raise BadRequest("the last message must come from the user", param="messages")
    return ([ChatMessage("system", "\n\n".join(system))] if system else []) + turns


def to_params(base: GenParams, body: ChatCompletionRequest) -> GenParams:
    changes: dict[str, Any] = {}
    if body.max_completion_tokens or body.max_tokens:
        changes["max_new_tokens"] = body.max_completion_tokens or body.max_tokens
    for ours, theirs in (
        ("temperature", body.temperature),
        ("top_p", body.top_p),
        ("top_k", body.top_k),
        ("seed", body.seed),
        ("repetition_penalty", body.repetition_penalty),
    ):
        if theirs is not None:
            changes[ours] = theirs
    if body.stop is not None:
        changes["stop"] = [body.stop] if isinstance(body.stop, str) else list(body.stop)
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


class _Run:
    """A stateless generation on the shared worker pool; events arrive on an asyncio queue."""

    def __init__(
        self, request: Request, user_id: str, messages: list[ChatMessage], params: GenParams, audience: str
    ) -> None:
        self.manager = request.app.state.manager
        self.db = request.app.state.db
        loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.job = Job(
            audience=audience,
            user_id=user_id,
            params=params,
            messages=messages,
            sink=lambda ev: loop.call_soon_threadsafe(self.queue.put_nowait, ev),
        )
        self.manager.submit(self.job)

    async def events(self) -> AsyncIterator[Any]:
        """Engine events until the end; raises what the engine raised."""
        while (event := await self.queue.get()) is not None:
            if isinstance(event, Exception):
                raise event
            if isinstance(event, Triage) and (
                event.result.short_circuit or event.result.level == "emergency"
            ):
                await run_in_threadpool(self._safety_event, event)
            if isinstance(event, Done) and event.finish_reason == "error":
                raise BackendError(event.error or "the model failed")
            if isinstance(event, Done) and self.job.timed_out:
                raise BackendTimeout("the model stopped responding")
            yield event

    def _safety_event(self, event: Triage) -> None:
        with self.db.session() as session:
            add_safety_event(
                session=session,
                message_id=None,
                conversation_id=None,
                level=event.result.level,
                category=event.result.category,
                rule=event.result.version,
                action="short_circuit" if event.result.short_circuit else "banner",
            )

    def cancel(self) -> None:
        self.manager.stop(self.job.key)


def _extras(done: Done) -> dict[str, Any]:
    return {
        "triage": {
            "level": done.triage.level,
            "category": done.triage.category,
            "banner": done.triage.banner,
        },
        "citations": [
            {
                "label": c.render(),
                "subject": c.subject,
                "relation": c.relation,
                "object": c.object,
                "source": c.source,
            }
            for c in done.citations
        ],
    }


def _usage(done: Done) -> dict[str, int]:
    u = done.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    }


@router.post("/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request, user: ApiUser):
    state = request.app.state
    model = served_model(request)
    if body.model != model:
        raise NotFound(
            f"model {body.model!r} is not served here; use {model!r} (see /v1/models)",
            code="model_not_found",
            param="model",
        )
    messages = to_messages(body, state.settings.max_message_chars, state.settings.max_request_messages)
    params = to_params(state.manager.params, body)
    wait = state.limiter.hit(f"gen:{user.id}")
    if wait is not None:
        raise Busy(f"rate limit reached; retry in {int(wait) + 1} s", retry_after=wait)
    audience = "clinician" if user.role == "clinician" else "patient"
    run = _Run(request, str(user.id), messages, params, audience)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _stream(run, completion_id, model, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    try:
        done = [e async for e in run.events() if isinstance(e, Done)][-1]
    finally:
        run.cancel()
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": done.text},
                    "logprobs": None,
                    "finish_reason": _FINISH.get(done.finish_reason, "stop"),
                }
            ],
            "usage": _usage(done),
            "chatdoctor": _extras(done),
        }
    )


async def _stream(run: _Run, completion_id: str, model: str, include_usage: bool) -> AsyncIterator[str]:
    """OpenAI's order: role delta, content deltas, empty delta with finish_reason, [usage], [DONE]."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        async for event in run.events():
            if isinstance(event, Delta) and event.text:
                yield chunk({"content": event.text})
            elif isinstance(event, Done):
                yield chunk({}, _FINISH.get(event.finish_reason, "stop"), chatdoctor=_extras(event))
                if include_usage:
                    usage = {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": _usage(event),
                    }
                    yield f"data: {json.dumps(usage)}\n\n"
    except Exception as exc:
        error = {
            "message": str(exc) or type(exc).__name__,
            "type": "server_error",
            "param": None,
            "code": type(exc).__name__,
        }
        yield f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n"
    finally:
        run.cancel()
    yield "data: [DONE]\n\n"
