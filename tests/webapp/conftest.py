"""Web-app fixtures: a fresh database per test, an app factory, users with signed-in clients, a loopback server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from chatdoctor.backends.base import Backend
from chatdoctor.engine import ChatEngine
from chatdoctor.errors import BackendError
from chatdoctor.types import Delta, GenParams, Message


@dataclass
class ScriptedBackend(Backend):
    """A real Backend that answers "Answer to <question>: w1 w2 ...", one word per delta.

    ``delay`` between words; ``raise_after`` words then raise ``error``; ``gate``: after ``gate_after``
    words wait for the event (a deterministic "mid-generation" point); ``hang``: never produce text.
    Every wait honours ``cancel`` and ends the stream with ``abort``, as real backends do.
    """

    words: int = 8
    delay: float = 0.0
    raise_after: int | None = None
    error: BackendError | None = None
    gate: threading.Event | None = None
    gate_after: int = 3
    hang: bool = False
    calls: list[list[Message]] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    name: str = "scripted"

    def stream_chat(self, messages, params: GenParams, cancel: threading.Event | None = None):
        self.calls.append(list(messages))
        cancel = cancel or threading.Event()
        question = messages[-1].content
        pieces = [f"Answer to {question}:"] + [f" w{i}" for i in range(1, self.words + 1)]
        for i, piece in enumerate(pieces[: params.max_new_tokens]):
            if self.hang or (self.gate is not None and i == self.gate_after):
                waiter = self.gate or threading.Event()
                while not waiter.is_set():
                    if cancel.wait(0.01):
                        self.cancelled.set()
                        yield Delta(finish_reason="abort")
                        return
            if self.raise_after is not None and i == self.raise_after:
                raise self.error or BackendError("scripted failure")
            if cancel.is_set() or (self.delay and cancel.wait(self.delay)):
                self.cancelled.set()
                yield Delta(finish_reason="abort")
                return
            yield Delta(piece)
        yield Delta(finish_reason="length" if params.max_new_tokens < len(pieces) else "stop")

    def count_tokens(self, messages) -> int:
        return sum(len(m.content.split()) for m in messages)

    def describe(self) -> dict[str, str]:
        return {"backend": "scripted", "model": "scripted-model"}


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Real argon2 with minimal cost: production parameters take ~1 s per hash on a busy 2-core box."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("webapp.security._hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def _postgres_schema_url(base: str) -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


@pytest.fixture
def db_url(database_url, tmp_path) -> Iterator[str]:
    """A fresh, empty database per test: its own schema on PostgreSQL, its own file on SQLite."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    url, schema = _postgres_schema_url(database_url)
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def make_settings(db_url, tmp_path):
    from webapp.settings import Settings

    def build(**overrides) -> Settings:
        values = dict(
            database_url=db_url,
            data_dir=tmp_path / "var",
            secret_key="test-secret-key-0123456789",
            environment="test",
            generation_timeout_s=30.0,
            shutdown_grace_s=0.5,
            keepalive_s=0.5,
            flush_interval_s=0.05,
        )
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def make_app(make_settings):
    """``make_app(backend, **settings)`` → an app over the test database (tables created)."""
    from webapp.app import create_app
    from webapp.models import Base

    created = set()

    def build(backend: Backend | None = None, **overrides):
        settings = make_settings(**overrides)
        if settings.database_url not in created:
            from webapp.db import make_engine

            engine = make_engine(settings.database_url)
            Base.metadata.create_all(engine)
            engine.dispose()
            created.add(settings.database_url)
        engine = ChatEngine(backend=backend or ScriptedBackend())
        return create_app(settings, engine=engine)

    return build


@dataclass
class Actor:
    """A user plus a client signed in as them (CSRF header included)."""

    user: object
    client: TestClient

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


def sign_in(app, client: TestClient, user) -> TestClient:
    from webapp.security import CSRF_HEADER, SESSION_COOKIE

    signer = app.state.signer
    cookie = signer.cookie_value(str(user.id))
    client.cookies.set(SESSION_COOKIE, cookie)
    data = signer._serializer.loads(cookie)
    client.headers[CSRF_HEADER] = signer.csrf_token(data)
    return client


def add_user(app, role: str, email: str | None = None, approved: bool = True):
    from webapp.services.users import create_user

    with app.state.db.session() as session:
        return create_user(
            session=session,
            email=email or f"{role}-{uuid.uuid4().hex[:6]}@example.org",
            password="correct horse battery",
            role=role,
            approved=approved,
        )


@pytest.fixture
def actors():
    """``actors(app)`` → signed-in clients: patient, other_patient, clinician, admin, anonymous.

    The app's lifespan (generation workers) runs for the test unless ``lifespan=False`` (a live server runs it).
    """
    clients: list[TestClient] = []
    running: list[TestClient] = []

    def build(app, lifespan: bool = True) -> dict[str, Actor]:
        if lifespan:
            runner = TestClient(app)
            runner.__enter__()
            running.append(runner)
        out = {}
        for name, role in (
            ("patient", "patient"),
            ("other_patient", "patient"),
            ("clinician", "clinician"),
            ("admin", "admin"),
        ):
            user = add_user(app, role)
            client = TestClient(app)
            clients.append(client)
            out[name] = Actor(user, sign_in(app, client, user))
        anon = TestClient(app)
        clients.append(anon)
        out["anonymous"] = Actor(None, anon)
        return out

    yield build
    for c in clients:
        c.close()
    for r in running:
        r.__exit__(None, None, None)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll until ``predicate()`` is truthy; return its value (fail the test on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


def message_row(app, message_id):
    from webapp.services.messages import get_message

    with app.state.db.session() as session:
        return get_message(session=session, message_id=message_id)


class LiveServer:
    """The app on a real uvicorn loopback port (lifespan included), in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def live_server():
    """``with live_server(app) as server: server.url``."""
    return LiveServer
