"""Sign-in, sign-up and sign-out pages (HTML forms).

Signed-in forms carry the session's CSRF token (``deps.csrf_protect``). The two forms used before a
session exists (sign-in, sign-up) use a double-submit token instead: a random cookie whose value the
form must echo, so another site cannot post them (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webapp.deps import OptionalUser, SessionDep, audit_context, csrf_protect
from webapp.errors import Forbidden
from webapp.models import User
from webapp.security import SESSION_COOKIE
from webapp.services import audit, users
from webapp.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Depends(csrf_protect)])
PRE_CSRF_COOKIE = "chatdoctor_csrf"
HOME = {"patient": "/chat", "clinician": "/clinician", "admin": "/admin"}


def _form_page(request: Request, template: str, /, status_code: int = 200, **context) -> HTMLResponse:
    """A signed-out form page with a fresh double-submit token in a cookie and in the form."""
    token = secrets.token_urlsafe(24)
    response = render(request, template, status_code, user=None, signed_in=False, csrf_token=token, **context)
    response.set_cookie(PRE_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/")
    if request.cookies.get(SESSION_COOKIE):  # a stale sign-in (expired, disabled) would fail the CSRF check
        request.app.state.signer.clear(response)
    return response


def _check_pre_csrf(request: Request, token: str) -> None:
    cookie = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not (cookie and token and hmac.compare_digest(cookie, token)):
        raise Forbidden("the form expired; reload the page and try again", code="csrf")


def _safe_next(target: str | None, user: User) -> str:
    """Only same-site paths (``/chat``), never ``//evil.example``, ``/\\evil.example`` or a full URL."""
    parts = urlsplit(target or "")
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not parts.netloc
    ):
        return target
    return HOME.get(user.role, "/")


@router.get("/")
def home(user: OptionalUser) -> RedirectResponse:
    return RedirectResponse(HOME.get(user.role, "/chat") if user else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str = "") -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next, user), status_code=303)
    return _form_page(request, "auth/login.html", next=next)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    _check_pre_csrf(request, csrf_token)
    try:
        user = users.authenticate(
            session=session, email=email, password=password, context=audit_context(request)
        )
    except users.AccountError as exc:
        return _form_page(request, "auth/login.html", 400, error=str(exc), email=email, next=next)
    response = RedirectResponse(_safe_next(next, user), status_code=303)
    request.app.state.signer.issue(response, str(user.id))
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")
    return response


@router.get("/signup")
def signup_page(request: Request, user: OptionalUser) -> Response:
    if user is not None:
        return RedirectResponse(HOME.get(user.role, "/"), status_code=303)
    return _form_page(request, "auth/signup.html")


@router.post("/signup")
def signup(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form()] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form()] = "patient",
    adult: Annotated[str, Form()] = "",
    accept_terms: Annotated[str, Form()] = "",
) -> Response:
    """Patients can sign in at once (unless ``patient_approval``); clinicians wait for an admin."""
    _check_pre_csrf(request, csrf_token)
    again = {"email": email, "name": name, "role": role}
    if role not in ("patient", "clinician"):
        return _form_page(request, "auth/signup.html", 400, error="choose patient or clinician", **again)
    if adult != "yes" or accept_terms != "yes":
        error = "confirm that you are 18 or older and that you accept the terms"
        return _form_page(request, "auth/signup.html", 400, error=error, **again)
    approved = None if role == "clinician" else not request.app.state.settings.patient_approval
    try:
        user = users.create_user(
            session=session, email=email, password=password, role=role, name=name, approved=approved
        )
    except users.AccountError as exc:
        return _form_page(request, "auth/signup.html", 400, error=str(exc), **again)
    if not user.approved:
        notice = "Account created. An administrator must approve it before you can sign in."
        return _form_page(request, "auth/login.html", notice=notice, email=user.email)
    response = RedirectResponse(HOME[user.role], status_code=303)
    request.app.state.signer.issue(response, str(user.id))
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, user: OptionalUser) -> RedirectResponse:
    if user is not None:
        audit.record(
            session=session,
            action="auth.logout",
            actor=user,
            resource_type="user",
            resource_id=user.id,
            context=audit_context(request),
        )
    response = RedirectResponse("/login", status_code=303)
    request.app.state.signer.clear(response)
    return response
