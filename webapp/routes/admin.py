"""Admin pages: approve users and set roles, assign conversations, usage, and which backend serves."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from chatdoctor.backends import BACKENDS, BUILTIN
from chatdoctor.errors import ChatDoctorError
from webapp.deps import Admin, SessionDep, csrf_protect, csrf_token
from webapp.errors import BadRequest, NotFound
from webapp.models import ROLES, User
from webapp.services import conversations, pages, review, serving, stats, users
from webapp.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 50


def _user(session, user_id: uuid.UUID) -> User:
    found = users.get_user(session=session, user_id=user_id)
    if found is None:
        raise NotFound("user not found")
    return found


def _users_page(request: Request, session, admin: User, page: int, **extra) -> HTMLResponse:
    rows = users.list_users(session=session, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    pending = users.list_users(session=session, pending_only=True, limit=PAGE_SIZE) if page == 1 else []
    shown = pending + [u for u in rows[:PAGE_SIZE] if u not in pending]  # pending first
    return render(
        request,
        "admin/users.html",
        user=admin,
        csrf_token=csrf_token(request),
        users=shown,
        roles=ROLES,
        counts=users.count_users(session=session),
        clinicians=[u for u in users.list_users(session=session, role="clinician", limit=500) if u.approved],
        unassigned=review.unassigned_items(session=session),
        page=page,
        has_next=len(rows) > PAGE_SIZE,
        **extra,
    )


@router.get("/admin")
def users_page(request: Request, session: SessionDep, admin: Admin, page: int = 1) -> HTMLResponse:
    return _users_page(request, session, admin, max(page, 1))


@router.post("/admin/users/{user_id}/approve")
def approve(user_id: uuid.UUID, session: SessionDep, admin: Admin) -> RedirectResponse:
    users.approve_user(session=session, user=_user(session, user_id), actor=admin)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{user_id}/role")
def set_role(
    user_id: uuid.UUID, session: SessionDep, admin: Admin, role: Annotated[str, Form()]
) -> RedirectResponse:
    target = _user(session, user_id)
    if target.id == admin.id and role != "admin":
        raise BadRequest("you cannot remove your own admin role; ask another administrator")
    users.set_role(session=session, user=target, role=role, actor=admin)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{user_id}/active")
def set_active(
    user_id: uuid.UUID, session: SessionDep, admin: Admin, active: Annotated[str, Form()]
) -> RedirectResponse:
    target = _user(session, user_id)
    if target.id == admin.id:
        raise BadRequest("you cannot disable your own account")
    users.set_active(session=session, user=target, active=active == "yes", actor=admin)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/assignments")
def assign(
    request: Request,
    session: SessionDep,
    admin: Admin,
    conversation_id: Annotated[str, Form()],
    clinician_id: Annotated[str, Form()],
) -> Response:
    conv = conversations.get_conversation(session=session, conversation_id=conversation_id.strip())
    clinician = users.get_user(session=session, user_id=clinician_id)
    if conv is None or clinician is None or clinician.role != "clinician" or not clinician.approved:
        return _users_page(request, session, admin, 1, error="unknown conversation or clinician")
    conversations.assign(session=session, conversation=conv, clinician=clinician, actor=admin)
    return _users_page(request, session, admin, 1, notice=f"Conversation assigned to {clinician.email}.")


@router.get("/admin/usage")
def usage(request: Request, session: SessionDep, admin: Admin, days: int = 7) -> HTMLResponse:
    figures = stats.usage(session=session, days=min(max(days, 1), 365))
    return render(
        request,
        "admin/usage.html",
        user=admin,
        csrf_token=csrf_token(request),
        figures=pages.usage_figures(figures),
        recent=pages.recent_conversations(session=session),
    )


def _backend_page(request: Request, session, admin: User, status_code: int = 200, **extra) -> HTMLResponse:
    settings = request.app.state.settings
    return render(
        request,
        "admin/backend.html",
        status_code=status_code,
        user=admin,
        csrf_token=csrf_token(request),
        describe=serving.describe(request.app.state.manager),
        config=serving.current_config(session=session, settings=settings),
        backends=sorted(set(BUILTIN) | set(BACKENDS.names())),
        **extra,
    )


@router.get("/admin/backend")
def backend_page(request: Request, session: SessionDep, admin: Admin) -> HTMLResponse:
    return _backend_page(request, session, admin)


@router.post("/admin/backend")
async def configure_backend(request: Request, session: SessionDep, admin: Admin) -> HTMLResponse:
    """Build the chosen backend (loading a model can take a while: off the event loop), then switch."""
    form = await request.form()
    overrides = serving.clean_form({k: str(v) for k, v in form.items()})
    try:
        await run_in_threadpool(
            serving.switch_backend,
            session=session,
            manager=request.app.state.manager,
            settings=request.app.state.settings,
            overrides=overrides,
            actor=admin,
        )
    except ChatDoctorError as exc:
        return _backend_page(request, session, admin, 400, error=f"not switched: {exc}")
    return _backend_page(request, session, admin, notice="Switched. New answers use this backend.")
