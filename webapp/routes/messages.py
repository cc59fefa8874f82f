"""JSON and SSE endpoints the pages use: conversations, posting a turn, streaming, stop, regenerate, feedback.

Streams (``GET /messages/{id}/stream``) send ``delta`` events (``{"start", "text"}``, ``id:`` = end offset, so
``Last-Event-ID`` resumes without gaps), ``queue``, ``status``, ``triage``, ``sources``, ``notice``, then
``error`` (only when the answer failed) and always ``done`` last.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from webapp.deps import (
    CurrentUser,
    OwnedConversation,
    OwnedMessage,
    ReadableConversation,
    ReadableMessage,
    SessionDep,
    csrf_protect,
)
from webapp.errors import Busy, QueueFull
from webapp.generation import Job
from webapp.models import Message, User
from webapp.schemas import (
    ConversationCreate,
    ConversationPublic,
    ConversationUpdate,
    FeedbackCreate,
    MessageCreate,
    MessagePublic,
    PostedTurn,
    StopResult,
)
from webapp.services import conversations, feedback
from webapp.services import messages as svc

router = APIRouter(tags=["messages"], dependencies=[Depends(csrf_protect)])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


@router.post("/conversations", status_code=201)
def create_conversation(
    body: ConversationCreate, session: SessionDep, user: CurrentUser
) -> ConversationPublic:
    conv = conversations.create_conversation(session=session, owner=user, title=body.title)
    return ConversationPublic.model_validate(conv)


@router.get("/conversations")
def list_conversations(
    session: SessionDep, user: CurrentUser, offset: int = 0, limit: int = 50
) -> list[ConversationPublic]:
    rows = conversations.list_conversations(session=session, owner=user, offset=max(offset, 0), limit=limit)
    return [ConversationPublic.model_validate(c) for c in rows]


@router.patch("/conversations/{conversation_id}")
def rename_conversation(
    body: ConversationUpdate, conv: OwnedConversation, session: SessionDep
) -> ConversationPublic:
    return ConversationPublic.model_validate(
        conversations.rename_conversation(session=session, conversation=conv, title=body.title)
    )


@router.delete("/conversations/{conversation_id}", status_code=204)
def delete_conversation(conv: OwnedConversation, session: SessionDep, user: CurrentUser) -> None:
    conversations.delete_conversation(session=session, conversation=conv, actor=user)


@router.get("/conversations/{conversation_id}/messages")
def conversation_messages(conv: ReadableConversation, session: SessionDep) -> list[MessagePublic]:
    """The current branch, oldest first."""
    return [MessagePublic.model_validate(m) for m in conversations.thread(session=session, conversation=conv)]


def _posted(question: Message, reply: Message, position: int) -> PostedTurn:
    """The ids and stream URL a page needs after posting or regenerating."""
    return PostedTurn(
        user_message=MessagePublic.model_validate(question),
        assistant_message=MessagePublic.model_validate(reply),
        queue_position=position,
        stream_url=f"/messages/{reply.id}/stream",
    )


def start_generation(request: Request, session, user: User, reply: Message) -> int:
    """Queue ``reply`` for generation; a full queue ends it as an error instead of leaving it pending."""
    state = request.app.state
    try:
        return state.manager.submit(
            Job(
                user_id=str(user.id),
                params=state.manager.params,
                message_id=reply.id,
                audience="clinician" if user.role == "clinician" else "patient",
            )
        )
    except QueueFull as exc:
        svc.finish(
            session=session, message_id=reply.id, status="error", finish_reason="error", error=str(exc)
        )
        raise


def _rate_limit(request: Request, user: User) -> None:
    wait = request.app.state.limiter.hit(f"gen:{user.id}")
    if wait is not None:
        raise Busy(f"too many questions; try again in {int(wait) + 1} s", retry_after=wait)


@router.post("/conversations/{conversation_id}/messages", status_code=201)
def post_message(
    body: MessageCreate, conv: OwnedConversation, request: Request, session: SessionDep, user: CurrentUser
) -> PostedTurn:
    """Save the question and a pending answer, start generating in the background, return both."""
    _rate_limit(request, user)
    question, reply = svc.post_user_message(
        session=session,
        conversation=conv,
        author=user,
        content=body.content,
        parent_id=body.parent_id,
        max_chars=request.app.state.settings.max_message_chars,
        worker_id=request.app.state.manager.worker_id,
    )
    position = start_generation(request, session, user, reply)
    return _posted(question, reply, position)


@router.get("/messages/{message_id}")
def get_message(message: ReadableMessage, session: SessionDep) -> MessagePublic:
    session.refresh(message)
    return MessagePublic.model_validate(message)


@router.post("/messages/{message_id}/stop")
def stop_message(message: OwnedMessage, request: Request, session: SessionDep) -> StopResult:
    """Really stop the backend (only the owner may); the partial text is kept as ``stopped``."""
    stopped = request.app.state.manager.request_stop(message.id) if message.status in svc.ACTIVE else False
    session.refresh(message)
    return StopResult(stopped=stopped, status=message.status)


@router.post("/messages/{message_id}/regenerate", status_code=201)
def regenerate_message(
    message: OwnedMessage, request: Request, session: SessionDep, user: CurrentUser
) -> PostedTurn:
    """A new answer beside this one (the old one is kept as a sibling)."""
    _rate_limit(request, user)
    reply = svc.regenerate(
        session=session, message=message, author=user, worker_id=request.app.state.manager.worker_id
    )
    position = start_generation(request, session, user, reply)
    question = svc.get_message(session=session, message_id=reply.parent_id)
    return _posted(question, reply, position)


@router.post("/messages/{message_id}/feedback")
def rate_message(
    body: FeedbackCreate, message: ReadableMessage, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    item = feedback.rate_message(
        session=session,
        message=message,
        user=user,
        rating=body.rating,
        reason=body.reason,
        comment=body.comment,
        flag=body.flag,
    )
    return {"id": str(item.id), "rating": item.rating, "flagged_for_review": item.flagged_for_review}


# --- SSE -------------------------------------------------------------------------------------


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    """One server-sent event; data is one JSON line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("offset") or "0"
    return int(raw) if raw.isdigit() else 0


@router.get("/messages/{message_id}/stream")
async def stream_message(message: ReadableMessage, request: Request) -> StreamingResponse:
    """Follow an answer: stored text first (from ``Last-Event-ID``), then live deltas until ``done``."""
    return StreamingResponse(
        _follow(request, message.id, _last_event_id(request)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


def _load(request: Request, message_id: uuid.UUID) -> Message:
    with request.app.state.db.session() as session:
        return svc.get_message(session=session, message_id=message_id)


def _final(message: Message) -> list[str]:
    out = []
    if message.status == "error":
        out.append(
            sse(
                "error",
                {"message": message.error or "the answer failed", "finish_reason": message.finish_reason},
            )
        )
    out.append(
        sse(
            "done",
            {
                "status": message.status,
                "finish_reason": message.finish_reason,
                "error": message.error,
                "text": message.content,
                "triage_level": message.triage_level,
                "banner": message.banner,
            },
        )
    )
    return out


def _render_batch(batch: list[dict[str, Any]], sent: int) -> Iterator[tuple[str, int, bool]]:
    """SSE chunks for a batch of broker events: consecutive deltas merged into one, duplicates dropped.

    Yields ``(chunk, sent offset after it, finished)``; ``finished`` marks the ``done`` event.
    """
    pending, start = "", sent
    for event in batch:
        kind = event.get("type")
        if kind == "delta":
            end = event["start"] + len(event["text"])
            if end > sent:
                if not pending:
                    start = max(event["start"], sent)
                pending += event["text"][max(sent - event["start"], 0) :]
                sent = end
            continue
        if pending:
            yield sse("delta", {"start": start, "text": pending}, sent), sent, False
            pending = ""
        if kind == "done":
            yield "", sent, True
            return
        yield sse(kind, {k: v for k, v in event.items() if k != "type"}), sent, False
    if pending:
        yield sse("delta", {"start": start, "text": pending}, sent), sent, False


async def _follow(request: Request, message_id: uuid.UUID, sent: int) -> AsyncIterator[str]:
    state = request.app.state
    keepalive = state.settings.keepalive_s
    subscription = await state.broker.subscribe(str(message_id))
    try:
        message = await run_in_threadpool(_load, request, message_id)
        snapshot = subscription.snapshot
        text = snapshot if snapshot is not None and len(snapshot) >= len(message.content) else message.content
        if len(text) > sent:
            yield sse("delta", {"start": sent, "text": text[sent:]}, len(text))
            sent = len(text)
        if message.status in svc.TERMINAL:
            for chunk in _final(message):
                yield chunk
            return
        position = state.manager.position(message_id)
        if position:
            yield sse("queue", {"position": position})
        while True:
            batch = await subscription.get_batch(keepalive)
            if not batch:
                yield ": keep-alive\n\n"
                continue
            for chunk, offset, finished in _render_batch(batch, sent):
                sent = offset
                if finished:
                    message = await run_in_threadpool(_load, request, message_id)
                    for final in _final(message):
                        yield final
                    return
                yield chunk
    finally:
        await subscription.close()
