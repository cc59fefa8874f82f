"""The FastAPI application: ``create_app(settings)`` wires database, generation, security and routes.

``uvicorn --factory webapp.app:create_app`` (what ``chatdoctor serve`` runs) builds it from the environment.
"""

from __future__ import annotations

import importlib
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatdoctor.engine import ChatEngine
from chatdoctor.errors import (
    BackendTimeout,
    BackendUnavailable,
    ChatDoctorError,
    ConfigError,
    InputTooLong,
    RegistryError,
    SafetyBlocked,
)
from webapp.db import Database
from webapp.errors import Busy, WebError
from webapp.generation import GenerationManager, build_engine
from webapp.metrics import Metrics
from webapp.observability import RequestContextMiddleware
from webapp.pubsub import make_broker
from webapp.security import RateLimiter, SessionSigner
from webapp.settings import Settings

log = logging.getLogger("chatdoctor.app")
STATIC_DIR = Path(__file__).parent / "static"
#: routers, in order; a UI module that does not exist yet is skipped
ROUTERS = ("health", "v1", "messages", "auth", "patient", "clinician", "admin")
_STATUS = {InputTooLong: 400, SafetyBlocked: 400, BackendUnavailable: 503, BackendTimeout: 504,
           ConfigError: 500, RegistryError: 500}  # fmt: skip


def create_app(settings: Settings | None = None, *, engine: ChatEngine | None = None) -> FastAPI:
    """The app for ``settings`` (default: from the environment); ``engine`` overrides the configured model."""
    settings = settings or Settings()
    settings.ensure_data_dir()
    db = Database(settings.database_url)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(db.check_schema)
        manager = app.state.manager
        if manager.engine is None:  # load the model in the background: /healthz answers at once
            manager.load_engine(lambda: _configure_engine(manager, settings))
        await run_in_threadpool(manager.start)
        try:
            yield
        finally:
            await run_in_threadpool(manager.shutdown)
            app.state.broker.close()
            db.dispose()

    app = FastAPI(
        title="ChatDoctor",
        lifespan=lifespan,
        docs_url="/v1/docs",
        redoc_url=None,
        openapi_url="/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.metrics = metrics
    app.state.signer = SessionSigner(
        settings.resolved_secret(), settings.session_max_age_s, settings.secure_cookies
    )
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute, 60.0, settings.redis_url)
    app.state.broker = make_broker(settings.redis_url)
    app.state.manager = GenerationManager(
        db=db, broker=app.state.broker, engine=engine, metrics=metrics, settings=settings
    )
    app.state.ready_error = None
    _install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for name in ROUTERS:
        module = _optional_module(f"webapp.routes.{name}")
        if module is not None:
            app.include_router(module.router)
    return app


def _optional_module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def _configure_engine(manager: GenerationManager, settings: Settings) -> None:
    """Build the configured engine; a broken model config leaves the app up (``/readyz`` says why)."""
    try:
        config = settings.chat_settings()
        serving = _optional_module("webapp.services.serving")
        if serving is not None:  # an admin's saved choice of backend/model wins over the environment
            with manager.db.session() as session:
                config = serving.current_config(session=session, settings=settings)
        manager.params = config.params
        manager.engine = build_engine(config)
    except ChatDoctorError as exc:
        log.error("model backend not available: %s", exc)


# --- errors ----------------------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/v1") or path.startswith("/messages") or path in ("/healthz", "/readyz"):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" not in accept


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """OpenAI-shaped JSON for API callers, ``error.html`` for browsers."""
    if _wants_json(request):
        body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401 and _optional_module("webapp.routes.auth") is not None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    try:
        from webapp.templating import render

        response = render(
            request,
            "error.html",
            status_code=status,
            message=message,
            title={403: "Not allowed", 404: "Not found", 429: "Too many requests"}.get(status),
        )
    except Exception:  # the page templates are not there (or broken): plain text still informs
        from html import escape

        response = HTMLResponse(f"<h1>{status}</h1><p>{escape(message)}</p>", status_code=status)
    response.headers.update(headers or {})
    return response


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError) -> Response:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
        return error_response(
            request,
            exc.status_code,
            str(exc),
            type_=exc.type,
            code=exc.code,
            param=exc.param,
            headers=headers,
        )

    @app.exception_handler(ChatDoctorError)
    async def product_error(request: Request, exc: ChatDoctorError) -> Response:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 500)
        type_ = "invalid_request_error" if status < 500 else "server_error"
        return error_response(request, status, str(exc), type_=type_, code=type(exc).__name__)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(
            request,
            exc.status_code,
            str(exc.detail),
            type_="invalid_request_error" if exc.status_code < 500 else "server_error",
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        message = f"{'.'.join(loc) or 'request'}: {first.get('msg', 'invalid value')}"
        status = 400 if request.url.path.startswith("/v1") else 422
        return error_response(request, status, message, param=".".join(loc) or None, code="invalid_value")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
        return error_response(request, 500, "internal error; it was logged", type_="server_error")
