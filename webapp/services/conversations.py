"""Conversations: create, list (paginated), rename, delete, assign to clinicians, and who may read them."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import Assignment, Conversation, Message, User, utcnow
from webapp.services import audit


def create_conversation(
    *, session: Session, owner: User, title: str = "New conversation", kind: str | None = None
) -> Conversation:
    conv = Conversation(
        owner_id=owner.id,
        title=title.strip()[:200] or "New conversation",
        kind=kind or ("clinician" if owner.role == "clinician" else "patient"),
    )
    session.add(conv)
    session.commit()
    return conv


def get_conversation(*, session: Session, conversation_id: uuid.UUID | str) -> Conversation | None:
    """A conversation that is not deleted, or None."""
    try:
        conv = session.get(Conversation, uuid.UUID(str(conversation_id)))
    except ValueError:
        return None
    return conv if conv is not None and conv.deleted_at is None else None


def is_assigned(*, session: Session, clinician: User, conversation: Conversation) -> bool:
    return (
        session.scalar(
            select(Assignment.id).where(
                Assignment.clinician_id == clinician.id, Assignment.conversation_id == conversation.id
            )
        )
        is not None
    )


def access_for(*, session: Session, user: User, conversation: Conversation) -> str | None:
    """Why ``user`` may read ``conversation``: owner | assigned | admin (break-glass), or None."""
    if conversation.owner_id == user.id:
        return "owner"
    if user.role == "clinician" and is_assigned(session=session, clinician=user, conversation=conversation):
        return "assigned"
    if user.role == "admin":
        return "admin"
    return None


def list_conversations(
    *, session: Session, owner: User, offset: int = 0, limit: int = 50, archived: bool = False
) -> list[Conversation]:
    """Newest first, one page; deleted ones never appear."""
    query = (
        select(Conversation)
        .where(
            Conversation.owner_id == owner.id,
            Conversation.deleted_at.is_(None),
            Conversation.archived.is_(archived),
        )
        .order_by(Conversation.updated_at.desc())
        .offset(offset)
        .limit(min(limit, 200))
    )
    return list(session.scalars(query))


def rename_conversation(*, session: Session, conversation: Conversation, title: str) -> Conversation:
    conversation.title = title.strip()[:200] or conversation.title
    conversation.updated_at = utcnow()
    session.commit()
    return conversation


def delete_conversation(*, session: Session, conversation: Conversation, actor: User) -> None:
    """Soft delete (the rows stay for the audit retention period)."""
    conversation.deleted_at = utcnow()
    audit.record(
        session=session,
        action="conversation.delete",
        actor=actor,
        resource_type="conversation",
        resource_id=conversation.id,
        subject_patient_id=conversation.owner_id,
    )


def assign(*, session: Session, conversation: Conversation, clinician: User, actor: User) -> Assignment:
    """Let ``clinician`` read ``conversation`` (idempotent)."""
    if clinician.role != "clinician":
        raise ValueError("only clinicians can be assigned conversations")
    found = session.scalar(
        select(Assignment).where(
            Assignment.clinician_id == clinician.id, Assignment.conversation_id == conversation.id
        )
    )
    if found:
        return found
    item = Assignment(clinician_id=clinician.id, conversation_id=conversation.id, assigned_by=actor.id)
    session.add(item)
    audit.record(
        session=session,
        action="conversation.assign",
        actor=actor,
        resource_type="conversation",
        resource_id=conversation.id,
        subject_patient_id=conversation.owner_id,
        details={"clinician": str(clinician.id)},
    )
    return item


def assigned_conversations(*, session: Session, clinician: User, limit: int = 100) -> list[Conversation]:
    query = (
        select(Conversation)
        .join(Assignment, Assignment.conversation_id == Conversation.id)
        .where(Assignment.clinician_id == clinician.id, Conversation.deleted_at.is_(None))
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def thread(
    *, session: Session, conversation: Conversation, leaf_id: uuid.UUID | None = None
) -> list[Message]:
    """The messages on the branch ending at ``leaf_id`` (default: the current leaf), oldest first."""
    rows = {
        m.id: m for m in session.scalars(select(Message).where(Message.conversation_id == conversation.id))
    }
    node = rows.get(leaf_id or conversation.current_leaf_id) if rows else None
    if node is None and rows:
        node = max(rows.values(), key=lambda m: m.created_at)
    out: list[Message] = []
    while node is not None:
        out.append(node)
        node = rows.get(node.parent_id) if node.parent_id else None
    return out[::-1]


def siblings(*, session: Session, message: Message) -> list[Message]:
    """Alternative answers to the same parent (regenerations), oldest first."""
    query = (
        select(Message)
        .where(
            Message.conversation_id == message.conversation_id,
            Message.parent_id == message.parent_id if message.parent_id else Message.parent_id.is_(None),
            Message.role == message.role,
        )
        .order_by(Message.created_at)
    )
    return list(session.scalars(query))
