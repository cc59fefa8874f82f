"""Patient pages: the Q&A page (streaming is ``routes/messages.py``'s), history, rename, delete, feedback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from webapp.deps import CurrentUser, OwnedConversation, ReadableMessage, SessionDep, csrf_protect, csrf_token
from webapp.services import conversations, feedback
from webapp.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Depends(csrf_protect)])
RECENT = 20  # conversations in the side list
PAGE_SIZE = 25  # conversations per history page


def _chat_page(request: Request, session, user, conversation=None) -> HTMLResponse:
    thread = conversations.thread(session=session, conversation=conversation) if conversation else []
    return render(
        request,
        "patient/chat.html",
        user=user,
        csrf_token=csrf_token(request),
        conversation=conversation,
        messages=thread,
        recent=conversations.list_conversations(session=session, owner=user, limit=RECENT),
        max_chars=request.app.state.settings.max_message_chars,
    )


@router.get("/chat")
def new_chat(request: Request, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    return _chat_page(request, session, user)


@router.get("/chat/{conversation_id}")
def chat(request: Request, conv: OwnedConversation, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """The conversation with its stored answers; one still being written is resumed by the page."""
    return _chat_page(request, session, user, conv)


@router.get("/chat/messages/{message_id}/fragment")
def message_fragment(
    request: Request, message: ReadableMessage, session: SessionDep, user: CurrentUser
) -> HTMLResponse:
    """One bubble, server-rendered (sanitised Markdown, citations, banner) for the page to swap in."""
    session.refresh(message)
    owner = conversations.get_conversation(session=session, conversation_id=message.conversation_id)
    return render(
        request,
        "partials/message.html",
        user=user,
        csrf_token=csrf_token(request),
        m=message,
        can_act=owner is not None and owner.owner_id == user.id,
    )


@router.post("/chat/messages/{message_id}/feedback")
def rate(
    message: ReadableMessage,
    session: SessionDep,
    user: CurrentUser,
    rating: Annotated[int, Form()],
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    """👍 / ⚑: a negative rating flags the answer for clinician review."""
    feedback.rate_message(
        session=session, message=message, user=user, rating=rating, comment=comment, flag=rating < 0
    )
    return RedirectResponse(f"/chat/{message.conversation_id}?rated=1#msg-{message.id}", status_code=303)


@router.get("/history")
def history(request: Request, session: SessionDep, user: CurrentUser, page: int = 1) -> HTMLResponse:
    page = max(page, 1)
    rows = conversations.list_conversations(
        session=session, owner=user, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
    )
    return render(
        request,
        "patient/conversations.html",
        user=user,
        csrf_token=csrf_token(request),
        conversations=rows[:PAGE_SIZE],
        page=page,
        has_next=len(rows) > PAGE_SIZE,
    )


@router.post("/chat/{conversation_id}/rename")
def rename(
    conv: OwnedConversation, session: SessionDep, title: Annotated[str, Form(min_length=1, max_length=200)]
) -> RedirectResponse:
    conversations.rename_conversation(session=session, conversation=conv, title=title)
    return RedirectResponse("/history", status_code=303)


@router.post("/chat/{conversation_id}/delete")
def delete(conv: OwnedConversation, session: SessionDep, user: CurrentUser) -> RedirectResponse:
    conversations.delete_conversation(session=session, conversation=conv, actor=user)
    return RedirectResponse("/history", status_code=303)
