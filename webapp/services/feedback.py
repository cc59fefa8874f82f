"""Feedback on answers, the clinician review queue, and corrections exported as instruction records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.errors import BadRequest
from webapp.models import Assignment, Conversation, Correction, Feedback, Message, SafetyEvent, User, utcnow
from webapp.services import audit

#: The instruction used for exported corrections (the data builder reads ``{instruction, input, output}``).
CORRECTION_INSTRUCTION = (
    "If you are a doctor, please answer the medical questions based on the patient's description."
)


def rate_message(
    *,
    session: Session,
    message: Message,
    user: User,
    rating: int,
    reason: str | None = None,
    comment: str | None = None,
    flag: bool = False,
) -> Feedback:
    """Create or update the user's rating of an answer; a snapshot keeps the text that was rated."""
    if rating not in (1, -1):
        raise BadRequest("rating must be 1 or -1", param="rating")
    if message.role != "assistant":
        raise BadRequest("only answers can be rated", param="message_id")
    item = session.scalar(
        select(Feedback).where(Feedback.message_id == message.id, Feedback.user_id == user.id)
    )
    if item is None:
        item = Feedback(message_id=message.id, user_id=user.id, rating=rating)
        session.add(item)
    item.rating, item.reason, item.flagged_for_review = rating, (reason or None), flag or rating < 0
    item.comment = (comment or "")[:4000] or None
    item.message_snapshot = message.content
    session.commit()
    return item


def _question_for(session: Session, message: Message) -> str:
    parent = session.get(Message, message.parent_id) if message.parent_id else None
    return parent.content if parent is not None else ""


def correct_answer(
    *,
    session: Session,
    message: Message,
    clinician: User,
    corrected: str,
    note: str | None = None,
    rating: int | None = None,
) -> Correction:
    """Store a clinician's corrected answer next to the original (both kept)."""
    corrected = corrected.strip()
    if not corrected:
        raise BadRequest("the corrected answer is empty", param="corrected")
    if message.role != "assistant":
        raise BadRequest("only answers can be corrected", param="message_id")
    item = Correction(
        message_id=message.id,
        clinician_id=clinician.id,
        question=_question_for(session, message),
        original=message.content,
        corrected=corrected,
        note=note,
        rating=rating,
    )
    session.add(item)
    for fb in session.scalars(select(Feedback).where(Feedback.message_id == message.id)):
        fb.reviewed_at = utcnow()
    conversation = session.get(Conversation, message.conversation_id)
    audit.record(
        session=session,
        action="message.correct",
        actor=clinician,
        resource_type="message",
        resource_id=message.id,
        subject_patient_id=conversation.owner_id if conversation else None,
    )
    return item


def review_queue(*, session: Session, clinician: User, limit: int = 100) -> list[dict[str, Any]]:
    """Answers needing a look in the clinician's assigned conversations: flagged by patients or safety rules."""
    assigned = select(Assignment.conversation_id).where(Assignment.clinician_id == clinician.id)
    flagged = session.execute(
        select(Message, Feedback.reason)
        .join(Feedback, Feedback.message_id == Message.id)
        .where(
            Feedback.flagged_for_review.is_(True),
            Feedback.reviewed_at.is_(None),
            Message.conversation_id.in_(assigned),
        )
        .limit(limit)
    ).all()
    safety = session.execute(
        select(Message, SafetyEvent.category)
        .join(SafetyEvent, SafetyEvent.message_id == Message.id)
        .where(SafetyEvent.reviewed_at.is_(None), Message.conversation_id.in_(assigned))
        .limit(limit)
    ).all()
    items = [{"message": m, "why": "patient_flag", "detail": r} for m, r in flagged]
    items += [{"message": m, "why": "safety", "detail": c} for m, c in safety]
    return sorted(items, key=lambda i: i["message"].created_at, reverse=True)[:limit]


def corrections_as_records(*, session: Session) -> Iterator[dict[str, str]]:
    """Each correction as an instruction record ``{instruction, input, output}`` for ``chatdoctor data``."""
    for c in session.scalars(select(Correction).order_by(Correction.created_at)):
        yield {"instruction": CORRECTION_INSTRUCTION, "input": c.question, "output": c.corrected}


def export_corrections(*, session: Session, path: str, actor: User | None = None) -> int:
    """Write all corrections as JSON Lines (atomically) and audit the export; returns the record count."""
    import json

    from chatdoctor.io import atomic_write

    n = 0
    with atomic_write(path, "w") as fh:
        for record in corrections_as_records(session=session):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    audit.record(
        session=session,
        action="corrections.export",
        actor=actor,
        resource_type="corrections",
        details={"records": n},
    )
    return n
