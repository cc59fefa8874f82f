"""Usage figures for the admin page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import Conversation, Feedback, Message, SafetyEvent, User, utcnow


def usage(*, session: Session, days: int = 7) -> dict[str, Any]:
    """Counts of users, conversations, answers by status, tokens, mean TTFT and latency over ``days``."""
    since = utcnow() - timedelta(days=days)
    answers = select(Message).where(Message.role == "assistant", Message.created_at >= since).subquery()
    by_status = dict(session.execute(select(answers.c.status, func.count()).group_by(answers.c.status)).all())
    tokens, ttft, latency = session.execute(
        select(
            func.coalesce(func.sum(answers.c.completion_tokens), 0),
            func.avg(answers.c.ttft_ms),
            func.avg(answers.c.latency_ms),
        )
    ).one()
    return {
        "days": days,
        "users": dict(session.execute(select(User.role, func.count()).group_by(User.role)).all()),
        "pending_users": session.scalar(select(func.count()).where(User.approved.is_(False))) or 0,
        "conversations": session.scalar(
            select(func.count()).where(Conversation.created_at >= since, Conversation.deleted_at.is_(None))
        )
        or 0,
        "answers": by_status,
        "completion_tokens": int(tokens or 0),
        "mean_ttft_ms": float(ttft) if ttft is not None else None,
        "mean_latency_ms": float(latency) if latency is not None else None,
        "safety_events": session.scalar(select(func.count()).where(SafetyEvent.created_at >= since)) or 0,
        "negative_feedback": session.scalar(
            select(func.count()).where(Feedback.rating < 0, Feedback.created_at >= since)
        )
        or 0,
    }
