"""Messages: post a turn (user row + pending assistant row), regenerate, and the writes of a generation."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chatdoctor.types import Citation
from chatdoctor.types import Message as ChatMessage
from webapp.errors import BadRequest, Busy, NotFound
from webapp.models import ACTIVE_STATUSES, Conversation, Message, MessageSource, SafetyEvent, User, utcnow
from webapp.services.conversations import thread

TERMINAL = ("done", "stopped", "error", "blocked")
ACTIVE = ACTIVE_STATUSES


def get_message(*, session: Session, message_id: uuid.UUID | str) -> Message | None:
    try:
        return session.get(Message, uuid.UUID(str(message_id)))
    except ValueError:
        return None


def active_generation(*, session: Session, user: User) -> Message | None:
    """The user's assistant message still pending or streaming (at most one is allowed)."""
    query = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.owner_id == user.id, Message.role == "assistant", Message.status.in_(ACTIVE_STATUSES)
        )
        .limit(1)
    )
    return session.scalar(query)


def _ensure_idle(session: Session, user: User) -> None:
    # Lock the user's row (PostgreSQL) so two simultaneous posts cannot both pass the check.
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    if active_generation(session=session, user=user) is not None:
        raise Busy(
            "an answer is still being written; wait for it or stop it",
            retry_after=2,
            code="generation_in_progress",
        )


def post_user_message(
    *,
    session: Session,
    conversation: Conversation,
    author: User,
    content: str,
    max_chars: int,
    parent_id: uuid.UUID | None = None,
    worker_id: str | None = None,
) -> tuple[Message, Message]:
    """Save the user turn and a pending assistant placeholder after it; the caller starts generation."""
    content = content.strip()
    if not content:
        raise BadRequest("the message is empty", param="content")
    if len(content) > max_chars:
        raise BadRequest(
            f"the message is {len(content)} characters; the limit is {max_chars}",
            param="content",
            code="message_too_long",
        )
    _ensure_idle(session, author)
    if parent_id is None:
        parent_id = conversation.current_leaf_id
    elif (
        parent := get_message(session=session, message_id=parent_id)
    ) is None or parent.conversation_id != conversation.id:
        raise NotFound("parent message not found", param="parent_id")
    user_msg = Message(
        conversation_id=conversation.id, parent_id=parent_id, role="user", content=content, status="done"
    )
    session.add(user_msg)
    session.flush()
    reply = _placeholder(conversation, user_msg.id, worker_id)
    session.add(reply)
    session.flush()
    if conversation.title == "New conversation":
        conversation.title = content.splitlines()[0][:80]
    conversation.current_leaf_id = reply.id
    conversation.updated_at = utcnow()
    session.commit()
    return user_msg, reply


def _placeholder(conversation: Conversation, parent_id: uuid.UUID, worker_id: str | None) -> Message:
    return Message(
        conversation_id=conversation.id,
        parent_id=parent_id,
        role="assistant",
        content="",
        status="pending",
        worker_id=worker_id,
    )


def regenerate(*, session: Session, message: Message, author: User, worker_id: str | None = None) -> Message:
    """A new pending answer beside ``message`` (same parent user turn); the old one is kept."""
    if message.role != "assistant" or message.parent_id is None:
        raise BadRequest("only an answer can be regenerated", param="message_id")
    _ensure_idle(session, author)
    conversation = session.get(Conversation, message.conversation_id)
    reply = _placeholder(conversation, message.parent_id, worker_id)
    session.add(reply)
    session.flush()
    conversation.current_leaf_id = reply.id
    conversation.updated_at = utcnow()
    session.commit()
    return reply


def history_for(*, session: Session, message: Message) -> list[ChatMessage]:
    """The conversation up to (not including) ``message``, as engine messages."""
    conversation = session.get(Conversation, message.conversation_id)
    rows = thread(session=session, conversation=conversation, leaf_id=message.id)[:-1]
    return [
        ChatMessage(m.role, m.content)
        for m in rows
        if m.role in ("user", "assistant") and (m.role == "user" or m.content)
    ]


def mark_streaming(*, session: Session, message_id: uuid.UUID, describe: dict[str, Any]) -> None:
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(
            status="streaming",
            updated_at=utcnow(),
            backend=describe.get("backend"),
            model=describe.get("model"),
            adapter=describe.get("adapter"),
            template=describe.get("template"),
            kg_version=describe.get("kg_version"),
            gen_params=describe.get("gen_params"),
            worker_id=describe.get("worker_id"),
        )
    )
    session.commit()


def flush_partial(*, session: Session, message_id: uuid.UUID, text: str) -> None:
    """Write the text so far (a crash then loses at most one flush interval)."""
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status.in_(ACTIVE_STATUSES))
        .values(content=text, updated_at=utcnow())
    )
    session.commit()


def finish(*, session: Session, message_id: uuid.UUID, **values: Any) -> bool:
    """Store the final state (status, content, finish_reason, counts, timings, versions...).

    Returns False when the message was already final (e.g. marked interrupted by a restarted worker).
    """
    query = update(Message).where(Message.id == message_id)
    if values.get("status") in TERMINAL:  # a final state is written once: never over another final state
        query = query.where(Message.status.in_(ACTIVE_STATUSES))
    result = session.execute(query.values(updated_at=utcnow(), **values))
    session.commit()
    return bool(result.rowcount)


def add_sources(*, session: Session, message_id: uuid.UUID, citations: list[Citation]) -> None:
    for i, c in enumerate(citations):
        session.add(
            MessageSource(
                message_id=message_id,
                position=i,
                source_type="kg_triple",
                source_ref=":".join(p for p in (c.source, c.record_id) if p)[:300],
                subject=c.subject[:300],
                relation=c.relation[:100],
                object=c.object,
                label=c.render(),
                score=c.score,
            )
        )
    session.commit()


def add_safety_event(
    *,
    session: Session,
    message_id: uuid.UUID | None,
    conversation_id: uuid.UUID | None,
    level: str,
    category: str | None,
    rule: str,
    action: str,
) -> SafetyEvent:
    event = SafetyEvent(
        message_id=message_id,
        conversation_id=conversation_id,
        level=level,
        category=category,
        rule_or_model=rule[:100],
        action_taken=action,
        escalated_to="clinician_review" if level == "emergency" else None,
    )
    session.add(event)
    session.commit()
    return event


def recover_interrupted(*, session: Session, live_workers: set[str] | None = None) -> int:
    """Mark answers a crash left pending/streaming as ``error``/interrupted, keeping their partial text.

    ``live_workers``: ids of processes still running (multi-worker); their messages are left alone.
    """
    query = update(Message).where(Message.status.in_(ACTIVE_STATUSES))
    if live_workers:
        query = query.where(Message.worker_id.is_(None) | Message.worker_id.not_in(live_workers))
    result = session.execute(
        query.values(
            status="error",
            finish_reason="interrupted",
            updated_at=utcnow(),
            error="The server restarted while this answer was being written; the text so far is kept. "
            "Regenerate to get a complete answer.",
        )
    )
    session.commit()
    return result.rowcount or 0
