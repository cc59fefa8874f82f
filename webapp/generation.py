"""Server-side generation: a bounded queue in front of worker threads that run the blocking ``ChatEngine``.

Posting a message only enqueues its pending assistant row. A worker thread (never the event loop) streams the
engine, publishes deltas to the broker, flushes the text to the database about once a second and stores the
final state; closing the page changes nothing. ``stop()`` sets the job's ``threading.Event`` so the backend
really stops. On startup, answers a crash left pending/streaming become ``error``/interrupted.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatdoctor.config import ChatConfig
from chatdoctor.engine import ChatEngine
from chatdoctor.types import GenParams
from chatdoctor.types import Message as ChatMessage
from webapp.errors import QueueFull
from webapp.metrics import Metrics
from webapp.persist import PersistedRun

log = logging.getLogger("chatdoctor.generation")


def _optional(module: str, attr: str) -> Callable | None:
    """``module.attr`` when that module exists (other parts of the product may not be built yet)."""
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def build_engine(config: ChatConfig) -> ChatEngine:
    """The engine for ``config``: its backend, the safety guard and the knowledge grounder."""
    create_backend = _optional("chatdoctor.backends", "create_backend")
    if create_backend is not None:
        backend = create_backend(config)
    else:
        from chatdoctor.backends.base import BACKENDS

        backend = BACKENDS.get(config.backend)(config)
    build_guard = _optional("chatdoctor.safety", "build_guard")
    build_grounder = _optional("chatdoctor.grounding", "build_grounder")
    return ChatEngine(
        backend=backend,
        guard=build_guard() if build_guard else None,
        grounder=build_grounder(config) if build_grounder else None,
        audience=config.audience,
        system_prompt=config.system_prompt,
        context_window=config.context_window,
    )


@dataclass
class Job:
    """One generation: a stored assistant message (``message_id``) or a stateless /v1 request (``sink``)."""

    user_id: str
    params: GenParams
    audience: str = "patient"
    message_id: uuid.UUID | None = None
    messages: list[ChatMessage] | None = None
    sink: Callable[[Any], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    last_activity: float = field(default_factory=time.monotonic)
    timed_out: bool = False
    interrupted: bool = False  # the server shut down before the answer finished
    text: str = ""  # generated so far (stored jobs); the watchdog flushes it to the database
    flushed_len: int = 0
    flushed_at: float = 0.0

    @property
    def key(self) -> str:
        return str(self.message_id) if self.message_id else f"anon-{id(self)}"


class GenerationManager:
    """The queue, the worker threads, the watchdog and the live-stream broker of one process."""

    def __init__(self, *, db, broker, engine: ChatEngine | None, metrics: Metrics, settings) -> None:
        self.db = db
        self.broker = broker
        self.engine = engine
        self.metrics = metrics
        self.settings = settings
        self.worker_id = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._waiting: deque[Job] = deque()
        self._running: dict[str, Job] = {}
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._closed = threading.Event()
        self._engine_loaded = threading.Event()
        self._engine_loaded.set()
        self.params = GenParams()  # decoding parameters of the configured model
        self.metrics.queue_length.set_function(lambda: len(self._waiting))
        self.metrics.active.set_function(lambda: len(self._running))

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> int:
        """Recover interrupted answers, then start the workers and the watchdog; returns how many were recovered."""
        from webapp.services.messages import recover_interrupted

        if self._threads:
            return 0
        self.broker.heartbeat(self.worker_id)
        with self.db.session() as session:
            recovered = recover_interrupted(session=session, live_workers=self._live_workers())
        for i in range(self.settings.generation_threads):
            self._spawn(self._work, f"generation-{i}")
        self._spawn(self._watchdog, "generation-watchdog")
        self._spawn(lambda: self.broker.listen_control(self._on_control, self._closed), "generation-control")
        if recovered:
            log.warning("marked %d interrupted answer(s) as error", recovered)
        return recovered

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _live_workers(self) -> set[str] | None:
        return self.broker.live_workers()

    def shutdown(self) -> None:
        """Take no new work, let running answers finish for ``shutdown_grace_s``, then interrupt the rest.

        Interrupted and still-queued answers end ``error``/interrupted with their text kept (as after a crash).
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            queued, self._waiting = list(self._waiting), deque()
        for job in queued:
            job.interrupted = True
            job.cancel.set()
            self._run(job)
        deadline = time.monotonic() + self.settings.shutdown_grace_s
        while self._running and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._cond:
            for job in self._running.values():
                job.interrupted = True
                job.cancel.set()
        self._closed.set()
        for thread in self._threads:
            thread.join(max(deadline + 5 - time.monotonic(), 0.1))

    # --- queue ---------------------------------------------------------------------------------

    def submit(self, job: Job) -> int:
        """Enqueue; returns the queue position (1 = next). Raises ``QueueFull`` when the queue is full."""
        with self._cond:
            if len(self._waiting) >= self.settings.queue_size:
                raise QueueFull("the model is busy; try again in a minute")
            self._waiting.append(job)
            position = len(self._waiting)
            self._cond.notify()
        if job.message_id is not None:
            self.broker.publish(job.key, {"type": "queue", "position": position})
        return position

    def position(self, message_id: uuid.UUID | str) -> int | None:
        """1-based place in the queue, 0 when generating, None when this process does not hold it."""
        key = str(message_id)
        with self._cond:
            if key in self._running:
                return 0
            for i, job in enumerate(self._waiting):
                if job.key == key:
                    return i + 1
        return None

    def stop(self, message_id: uuid.UUID | str) -> bool:
        """Cancel a queued or running generation; True when this process held it."""
        key = str(message_id)
        with self._cond:
            job = self._running.get(key)
            if job is not None:
                job.cancel.set()
                return True
            job = next((j for j in self._waiting if j.key == key), None)
            if job is None:
                return False
            self._waiting.remove(job)
            job.cancel.set()
        self._run(job)  # ends at once as stopped, with no text
        return True

    def request_stop(self, message_id: uuid.UUID | str) -> bool:
        """Stop here, or ask the other worker processes (Redis) to stop it."""
        if self.stop(message_id):
            return True
        self.broker.publish_control({"stop": str(message_id)})
        return False

    def _on_control(self, event: dict[str, Any]) -> None:
        if "stop" in event:
            self.stop(event["stop"])

    def _next(self) -> Job | None:
        with self._cond:
            while not self._waiting and not self._closing:
                self._cond.wait()
            if self._closing:
                return None
            job = self._waiting.popleft()
            self._running[job.key] = job
            waiting = list(self._waiting)
        for i, other in enumerate(waiting):
            if other.message_id is not None:
                self.broker.publish(other.key, {"type": "queue", "position": i + 1})
        return job

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._running.pop(job.key, None)

    def _watchdog(self) -> None:
        """Flush partial text about every ``flush_interval_s``; end generations silent for too long."""
        beat = 0.0
        tick = min(0.25, self.settings.flush_interval_s, self.settings.generation_timeout_s / 4)
        while not self._closed.wait(tick):
            now = time.monotonic()
            if now - beat > 3:
                self.broker.heartbeat(self.worker_id)
                beat = now
            with self._cond:
                running = list(self._running.values())
            for job in running:
                if now - job.last_activity > self.settings.generation_timeout_s and not job.cancel.is_set():
                    job.timed_out = True
                    job.cancel.set()
                if job.message_id is not None and now - job.flushed_at >= self.settings.flush_interval_s:
                    self._flush(job, now)

    def _flush(self, job: Job, now: float) -> None:
        from webapp.services.messages import flush_partial

        text = job.text
        if len(text) == job.flushed_len:
            return
        try:
            with self.db.session() as session:
                flush_partial(session=session, message_id=job.message_id, text=text)
            job.flushed_len, job.flushed_at = len(text), now
        except Exception:  # the next tick retries; the final store does not depend on it
            log.exception("partial flush failed", extra={"message_id": job.key})

    # --- running -------------------------------------------------------------------------------

    def load_engine(self, build: Callable[[], None]) -> None:
        """Run ``build`` (which sets ``self.engine``) on a thread; generations wait for it to finish."""
        self._engine_loaded.clear()

        def run() -> None:
            try:
                build()
            finally:
                self._engine_loaded.set()

        threading.Thread(target=run, name="engine-loader", daemon=True).start()

    @property
    def loading(self) -> bool:
        return not self._engine_loaded.is_set()

    def engine_for(self, audience: str) -> ChatEngine:
        self._engine_loaded.wait(self.settings.generation_timeout_s)
        engine = self.engine
        if engine is None:
            from chatdoctor.errors import BackendUnavailable

            raise BackendUnavailable("no model backend is configured; an administrator must choose one")
        return engine if engine.audience == audience else dataclasses.replace(engine, audience=audience)

    def _run(self, job: Job) -> None:
        job.last_activity = time.monotonic()
        if job.sink is not None and job.cancel.is_set():
            job.sink(None)  # a /v1 caller gone before its turn
        elif job.sink is not None:
            self._run_stateless(job)
        else:
            PersistedRun(self, job).run()

    def _run_stateless(self, job: Job) -> None:
        try:
            for event in self.engine_for(job.audience).stream(job.messages or [], job.params, job.cancel):
                job.last_activity = time.monotonic()
                job.sink(event)
        except Exception as exc:
            job.sink(exc)
        finally:
            job.sink(None)
