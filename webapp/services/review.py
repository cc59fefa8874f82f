"""Closing review items: a clinician marks an answer's patient flags and safety events as reviewed."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.models import Assignment, Conversation, Feedback, Message, SafetyEvent, User, utcnow
from webapp.services import audit


def mark_reviewed(*, session: Session, message: Message, clinician: User, note: str | None = None) -> int:
    """Set ``reviewed_at`` on the answer's open flags and safety events; audited. Returns how many closed."""
    now = utcnow()
    closed = 0
    for model in (Feedback, SafetyEvent):
        result = session.execute(
            update(model)
            .where(model.message_id == message.id, model.reviewed_at.is_(None))
            .values(reviewed_at=now)
        )
        closed += result.rowcount or 0
    conversation = session.get(Conversation, message.conversation_id)
    audit.record(
        session=session,
        action="message.review",
        actor=clinician,
        resource_type="message",
        resource_id=message.id,
        subject_patient_id=conversation.owner_id if conversation else None,
        reason=(note or None) and note[:500],
        details={"closed": closed},
    )
    return closed


def unassigned_items(*, session: Session, limit: int = 50) -> list[dict[str, object]]:
    """Conversations with open flags or safety events that no clinician is assigned to (ids only, no text)."""
    assigned = select(Assignment.conversation_id)
    rows: dict[object, dict[str, object]] = {}
    queries = (
        ("patient flag", select(Message.conversation_id, Feedback.created_at).join(Feedback)
         .where(Feedback.flagged_for_review.is_(True), Feedback.reviewed_at.is_(None))),
        ("safety", select(Message.conversation_id, SafetyEvent.created_at)
         .join(SafetyEvent, SafetyEvent.message_id == Message.id).where(SafetyEvent.reviewed_at.is_(None))),
    )  # fmt: skip
    for why, query in queries:
        for conv_id, when in session.execute(
            query.where(Message.conversation_id.not_in(assigned)).limit(limit)
        ):
            item = rows.setdefault(conv_id, {"id": conv_id, "reasons": set(), "when": when})
            item["reasons"].add(why)
            item["when"] = max(item["when"], when)
    return sorted(rows.values(), key=lambda i: i["when"], reverse=True)[:limit]
