"""Injected dependencies: the DB session, the signed-in user, role checks and readable objects.

Routes declare them (``session: SessionDep``, ``user: CurrentUser``, ``conv: ReadableConversation``) and
stay free of queries and permission logic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from webapp.errors import Forbidden, NotFound, Unauthorized
from webapp.models import Conversation, Message, User
from webapp.security import CSRF_FIELD, CSRF_HEADER
from webapp.services import api_keys, audit, conversations, messages, users
from webapp.settings import Settings

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def audit_context(request: Request) -> dict[str, str | None]:
    """Who is asking, for audit rows: client address, user agent, request id."""
    return {
        "ip": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent"),
        "request_id": getattr(request.state, "request_id", None),
    }


def optional_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in, active, approved user from the session cookie, or None."""
    data = request.app.state.signer.read(request)
    if data is None:
        return None
    user = users.get_user(session=session, user_id=data["uid"])
    if user is None or not user.is_active or not user.approved:
        return None
    request.state.session_data = data
    return user


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("sign in first", code="not_signed_in")
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: str) -> Callable[..., User]:
    """A dependency that lets only users with one of ``roles`` through (403 otherwise)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"this page is for {' or '.join(roles)} accounts", code="wrong_role")
        return user

    return check


async def csrf_protect(request: Request) -> None:
    """Cookie-authenticated writes must carry the CSRF token (header ``X-CSRF-Token`` or form field)."""
    if request.method in SAFE_METHODS:
        return
    signer = request.app.state.signer
    data = signer.read(request)
    if data is None:
        return  # not signed in: the route's own auth refuses it
    token = request.headers.get(CSRF_HEADER)
    if token is None and "form" in request.headers.get("content-type", ""):
        token = (await request.form()).get(CSRF_FIELD)
    if not signer.check_csrf(data, token if isinstance(token, str) else None):
        raise Forbidden("missing or wrong CSRF token; reload the page", code="csrf")


def csrf_token(request: Request) -> str:
    """The token pages put in forms and in ``<meta name="csrf-token">``."""
    return request.app.state.signer.csrf_token(request.app.state.signer.read(request))


def api_user(request: Request, session: SessionDep) -> User:
    """The owner of the ``Authorization: Bearer <key>`` API key."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    user = api_keys.user_for_key(session=session, plain=key.strip())
    if user is None:
        raise Unauthorized("invalid or revoked API key")
    return user


ApiUser = Annotated[User, Depends(api_user)]


def _read_access(request: Request, session: Session, user: User, conv: Conversation) -> str:
    """Check ``user`` may read ``conv`` (404 when not, 403 when an admin gives no reason) and audit it once."""
    why = conversations.access_for(session=session, user=user, conversation=conv)

    def view(**extra: object) -> None:
        audit.record(
            session=session,
            action="conversation.view",
            actor=user,
            resource_type="conversation",
            resource_id=conv.id,
            subject_patient_id=conv.owner_id,
            context=audit_context(request),
            **extra,
        )

    if why is None:
        view(outcome="denied")
        raise NotFound("conversation not found")
    if why == "admin":
        reason = (request.query_params.get("reason") or request.headers.get("x-access-reason") or "").strip()
        if not reason:
            raise Forbidden(
                "administrators must give a reason to read a conversation", code="reason_required"
            )
        view(reason=reason[:500], details={"access": "break_glass"})
    elif why == "assigned":
        view(details={"access": "assigned"})
    return why


def readable_conversation(
    conversation_id: uuid.UUID, request: Request, session: SessionDep, user: CurrentUser
) -> Conversation:
    conv = conversations.get_conversation(session=session, conversation_id=conversation_id)
    if conv is None:
        raise NotFound("conversation not found")
    _read_access(request, session, user, conv)
    return conv


def owned_conversation(conversation_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Conversation:
    """Only the owner may write to a conversation; anyone else gets 404."""
    conv = conversations.get_conversation(session=session, conversation_id=conversation_id)
    if conv is None or conv.owner_id != user.id:
        raise NotFound("conversation not found")
    return conv


def _message_and_conversation(session: Session, message_id: uuid.UUID) -> tuple[Message, Conversation]:
    message = messages.get_message(session=session, message_id=message_id)
    conv = (
        conversations.get_conversation(session=session, conversation_id=message.conversation_id)
        if message
        else None
    )
    if message is None or conv is None:
        raise NotFound("message not found")
    return message, conv


def readable_message(
    message_id: uuid.UUID, request: Request, session: SessionDep, user: CurrentUser
) -> Message:
    message, conv = _message_and_conversation(session, message_id)
    try:
        _read_access(request, session, user, conv)
    except NotFound:
        raise NotFound("message not found") from None
    return message


def owned_message(message_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Message:
    """Stop and regenerate: only the conversation's owner (never another user, whatever their role)."""
    message, conv = _message_and_conversation(session, message_id)
    if conv.owner_id != user.id:
        raise NotFound("message not found")
    return message


ReadableConversation = Annotated[Conversation, Depends(readable_conversation)]
OwnedConversation = Annotated[Conversation, Depends(owned_conversation)]
ReadableMessage = Annotated[Message, Depends(readable_message)]
OwnedMessage = Annotated[Message, Depends(owned_message)]
Clinician = Annotated[User, Depends(require_role("clinician"))]
Admin = Annotated[User, Depends(require_role("admin"))]
