"""Jinja2 set-up for the HTML pages: filters (sanitised Markdown), static URLs, message URLs, ``render``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from webapp.markdown import render_markdown
from webapp.security import CSRF_HEADER

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)
#: Defence in depth behind the Markdown sanitiser: only our own scripts and styles run, nothing is framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _static_url(name: str) -> str:
    """``/static/name?v=mtime``: browsers refetch a changed file, and cache it otherwise."""
    path = STATIC_DIR / name
    version = int(path.stat().st_mtime) if path.exists() else 0
    return f"/static/{name}?v={version}"


class MessageUrls:
    """The URLs a message bubble needs (stream, stop and regenerate are ``routes/messages.py``'s)."""

    @staticmethod
    def stream(m: Any) -> str:
        return f"/messages/{m.id}/stream"

    @staticmethod
    def stop(m: Any) -> str:
        return f"/messages/{m.id}/stop"

    @staticmethod
    def regenerate(m: Any) -> str:
        return f"/messages/{m.id}/regenerate"

    @staticmethod
    def feedback(m: Any) -> str:
        return f"/chat/messages/{m.id}/feedback"


templates.env.filters["markdown"] = lambda text, n=0: render_markdown(text, n_citations=n)
templates.env.globals["static_url"] = _static_url
templates.env.globals["urls"] = MessageUrls
templates.env.globals["csrf_header"] = CSRF_HEADER


def render(request: Request, name: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page; ``user`` and ``csrf_token`` default to the request's sign-in (error pages too)."""
    context.setdefault("user", getattr(request.state, "user", None))
    signer = getattr(request.app.state, "signer", None)
    session = signer.read(request) if signer is not None else None
    context.setdefault("csrf_token", signer.csrf_token(session) if session else "")
    context.setdefault("signed_in", session is not None)
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
