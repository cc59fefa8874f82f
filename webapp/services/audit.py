"""The audit trail: append-only, metadata only (never message text), each row hash-chained to the last."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from webapp.models import AuditEvent, User, utcnow

_chain_lock = threading.Lock()  # one writer per process; PostgreSQL adds an advisory lock across processes
_PG_LOCK_KEY = 0x43444155  # "CDAU"


def _digest(event: AuditEvent) -> str:
    body = {
        "prev": event.prev_hash,
        "ts": event.ts.isoformat(),
        "actor": str(event.actor_id) if event.actor_id else None,
        "role": event.actor_role,
        "action": event.action,
        "resource": [event.resource_type, event.resource_id],
        "subject": str(event.subject_patient_id) if event.subject_patient_id else None,
        "outcome": event.outcome,
        "reason": event.reason,
        "details": event.details,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def record(
    *,
    session: Session,
    action: str,
    actor: User | None = None,
    resource_type: str = "",
    resource_id: str | uuid.UUID | None = None,
    subject_patient_id: uuid.UUID | None = None,
    outcome: str = "success",
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    context: dict[str, str | None] | None = None,
) -> AuditEvent:
    """Append one audit event and commit it (together with anything else pending in ``session``)."""
    context = context or {}
    with _chain_lock:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        event = AuditEvent(
            ts=utcnow(),
            actor_id=actor.id if actor else None,
            actor_role=actor.role if actor else None,
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id) if resource_id is not None else None,
            subject_patient_id=subject_patient_id,
            outcome=outcome,
            reason=reason,
            details=details,
            ip=context.get("ip"),
            user_agent=(context.get("user_agent") or "")[:300] or None,
            request_id=context.get("request_id"),
            prev_hash=last or "",
        )
        event.hash = _digest(event)
        session.add(event)
        session.commit()
    return event


def verify_chain(*, session: Session) -> int | None:
    """The id of the first event whose hash does not match (tampering), or None when intact."""
    prev = ""
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != prev or _digest(event) != event.hash:
            return event.id
        prev = event.hash
    return None


def list_events(
    *, session: Session, action: str | None = None, actor_id: uuid.UUID | None = None, limit: int = 100
) -> list[AuditEvent]:
    """Newest first, optionally filtered."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    return list(session.scalars(query))
