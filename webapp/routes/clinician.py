"""Clinician portal: review queue, reading a conversation (audited), rating and correcting, knowledge browser."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from knowledge.lookup import KnowledgeBase
from knowledge.schema import Kind
from webapp.deps import (
    Clinician,
    CurrentUser,
    ReadableConversation,
    ReadableMessage,
    SessionDep,
    csrf_protect,
    csrf_token,
    require_role,
)
from webapp.models import Correction, User
from webapp.services import conversations, feedback, pages, review
from webapp.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Depends(csrf_protect)])
Staff = Annotated[User, Depends(require_role("clinician", "admin"))]
_graph_lock = threading.Lock()


@router.get("/clinician")
def queue(request: Request, session: SessionDep, user: Clinician) -> HTMLResponse:
    items = feedback.review_queue(session=session, clinician=user)
    return render(
        request,
        "clinician/queue.html",
        user=user,
        csrf_token=csrf_token(request),
        flagged=pages.queue_rows(session=session, items=items),
        assigned=conversations.assigned_conversations(session=session, clinician=user),
    )


@router.get("/clinician/conversations/{conversation_id}")
def read_conversation(
    request: Request, conv: ReadableConversation, session: SessionDep, user: CurrentUser, focus: str = ""
) -> HTMLResponse:
    """Assigned clinicians (and admins with a ``reason``) read here; ``ReadableConversation`` audits it."""
    thread = conversations.thread(session=session, conversation=conv)
    ids = [m.id for m in thread]
    corrected = set(session.scalars(select(Correction.message_id).where(Correction.message_id.in_(ids))))
    return render(
        request,
        "clinician/conversation.html",
        user=user,
        csrf_token=csrf_token(request),
        conversation=conv,
        messages=thread,
        corrected=corrected,
        focus=focus,
        access=conversations.access_for(session=session, user=user, conversation=conv),
    )


@router.post("/clinician/messages/{message_id}/review")
def save_review(
    message: ReadableMessage,
    session: SessionDep,
    user: Clinician,
    corrected: Annotated[str, Form(min_length=1, max_length=20000)],
    rating: Annotated[int, Form(ge=-1, le=1)] = -1,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> RedirectResponse:
    """Store the rating and the corrected answer as a new instruction record (``chatdoctor data`` exports it)."""
    feedback.correct_answer(
        session=session,
        message=message,
        clinician=user,
        corrected=corrected,
        note=note or None,
        rating=rating,
    )
    review.mark_reviewed(session=session, message=message, clinician=user, note=note)
    target = f"/clinician/conversations/{message.conversation_id}?saved=1#msg-{message.id}"
    return RedirectResponse(target, status_code=303)


@router.post("/clinician/messages/{message_id}/reviewed")
def reviewed(
    message: ReadableMessage,
    session: SessionDep,
    user: Clinician,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> RedirectResponse:
    """Close the answer's flags and safety events without a correction (it was fine)."""
    review.mark_reviewed(session=session, message=message, clinician=user, note=note)
    return RedirectResponse("/clinician", status_code=303)


def _knowledge(request: Request) -> tuple[KnowledgeBase, dict[str, int]]:
    """The browsed graph (shared with the grounder's cache) and its counts, computed once per process."""
    state = request.app.state
    with _graph_lock:
        if getattr(state, "knowledge", None) is None:
            kb = pages.knowledge_base(state.settings.chat_settings().kg_path)
            state.knowledge = (kb, kb.kg.stats())
    return state.knowledge


@router.get("/clinician/knowledge")
def knowledge(request: Request, user: Staff, q: str = "", kind: str = "") -> HTMLResponse:
    kb, counts = _knowledge(request)
    q = q.strip()[:200]
    kind = kind if kind in {k.value for k in Kind} else ""
    return render(
        request,
        "clinician/knowledge.html",
        user=user,
        csrf_token=csrf_token(request),
        q=q,
        kind=kind,
        kinds=[k.value for k in Kind],
        results=pages.search_knowledge(kb, q, kind or None),
        ranked=pages.ranked_diseases(kb, q) if q and kind in ("", "symptom", "disease") else [],
        graph_name=kb.kg.name,
        graph_stats=counts,
    )
