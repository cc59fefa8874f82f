"""One stored generation: stream the engine into an assistant message row and the live broker."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

from chatdoctor.engine import Done, Grounded, Notice, Triage, TriageResult
from chatdoctor.errors import ChatDoctorError
from chatdoctor.types import Delta
from webapp.models import Conversation
from webapp.services import messages as svc

if TYPE_CHECKING:
    from webapp.generation import GenerationManager, Job

log = logging.getLogger("chatdoctor.generation")


INTERRUPTED = "The server restarted while this answer was being written; the text so far is kept."

#: deltas arriving within this many seconds of the last publish are sent together (fewer SSE events)
COALESCE_S = 0.03


def _status_for(done: Done, triage: TriageResult, job: Job) -> tuple[str, str | None]:
    """(status, error) of a finished turn."""
    if triage.short_circuit:
        return "blocked", None
    if job.interrupted:
        return "error", INTERRUPTED
    timed_out = job.timed_out
    if done.finish_reason == "abort":
        return (
            ("error", "The model stopped responding (timeout); the text so far is kept.")
            if timed_out
            else ("stopped", None)
        )
    if done.finish_reason == "error":
        return "error", done.error or "The model failed while answering."
    return "done", None


class PersistedRun:
    """Runs ``job`` for its stored assistant message; every outcome ends in a terminal status."""

    def __init__(self, manager: GenerationManager, job: Job) -> None:
        self.manager = manager
        self.job = job
        self.key = job.key
        self.text = ""
        self._sent = 0  # characters of ``text`` already published
        self._sent_at = 0.0  # when text was last published (the first delta goes out at once)
        self.triage = TriageResult()
        self.notices: list[str] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.manager.broker.publish(self.key, event)

    def run(self) -> None:
        self.manager.broker.start(self.key)
        try:
            if self.job.interrupted:
                self._store(status="error", finish_reason="interrupted", error=INTERRUPTED)
            elif self.job.cancel.is_set():
                self._store(status="stopped", finish_reason="abort")
            else:
                self._generate()
        except ChatDoctorError as exc:
            self._store(status="error", finish_reason="error", error=str(exc))
        except Exception:
            log.exception("generation failed", extra={"message_id": self.key})
            self._store(
                status="error", finish_reason="error", error="Internal error while answering (logged)."
            )
        finally:
            self.manager.broker.finish(self.key)

    def _generate(self) -> None:
        db, job = self.manager.db, self.job
        with db.session() as session:
            message = svc.get_message(session=session, message_id=job.message_id)
            history = svc.history_for(session=session, message=message)
            conversation = session.get(Conversation, message.conversation_id)
            audience = "clinician" if conversation.kind == "clinician" else job.audience
        engine = self.manager.engine_for(audience)
        describe = {
            **engine.backend.describe(),
            "template": getattr(engine.backend, "template_name", None),
            "kg_version": getattr(engine.grounder, "version", None),
            "gen_params": dataclasses.asdict(job.params),
            "worker_id": self.manager.worker_id,
        }
        with db.session() as session:
            svc.mark_streaming(session=session, message_id=job.message_id, describe=describe)
        self.publish({"type": "status", "status": "streaming"})
        done = None
        for event in engine.stream(history, job.params, job.cancel):
            job.last_activity = time.monotonic()
            if isinstance(event, Delta) and event.text:
                self.text += event.text
                job.text = self.text  # the manager's watchdog flushes it about once a second
                if job.last_activity - self._sent_at >= COALESCE_S:
                    self._send_text()
                continue
            self._send_text()
            if isinstance(event, Triage):
                self._on_triage(event.result, conversation.id)
            elif isinstance(event, Grounded):
                self._on_sources(event)
            elif isinstance(event, Notice):
                self.notices.append(event.text)
                self.publish({"type": "notice", "text": event.text})
            elif isinstance(event, Done):
                done = event
        self._send_text()
        self._finish(done)

    def _send_text(self) -> None:
        """Publish the text not sent yet as one delta (fast backends' tokens are batched per window)."""
        if len(self.text) > self._sent:
            self.publish({"type": "delta", "start": self._sent, "text": self.text[self._sent :]})
            self._sent = len(self.text)
        self._sent_at = time.monotonic()

    def _on_triage(self, triage: TriageResult, conversation_id) -> None:
        self.triage = triage
        if triage.level in ("emergency", "urgent") or triage.short_circuit:
            with self.manager.db.session() as session:
                svc.add_safety_event(
                    session=session,
                    message_id=self.job.message_id,
                    conversation_id=conversation_id,
                    level=triage.level,
                    category=triage.category,
                    rule=triage.version,
                    action="short_circuit" if triage.short_circuit else "banner",
                )
        self.publish(
            {
                "type": "triage",
                "level": triage.level,
                "category": triage.category,
                "banner": triage.banner,
                "short_circuit": triage.short_circuit,
            }
        )

    def _on_sources(self, event: Grounded) -> None:
        if not event.citations:
            return
        with self.manager.db.session() as session:
            svc.add_sources(session=session, message_id=self.job.message_id, citations=event.citations)
        self.publish(
            {
                "type": "sources",
                "sources": [
                    {
                        "label": c.render(),
                        "subject": c.subject,
                        "relation": c.relation,
                        "object": c.object,
                        "source": c.source,
                    }
                    for c in event.citations
                ],
            }
        )

    def _finish(self, done: Done | None) -> None:
        if done is None:
            self._store(status="error", finish_reason="error", error="The model ended without an answer.")
            return
        status, error = _status_for(done, self.triage, self.job)
        self.text = done.text
        metrics = self.manager.metrics
        if done.ttft_ms is not None:
            metrics.ttft.observe(done.ttft_ms / 1000)
        gen_s = ((done.latency_ms or 0) - (done.ttft_ms or 0)) / 1000
        if done.usage.completion_tokens and gen_s > 0:
            metrics.tokens_per_second.observe(done.usage.completion_tokens / gen_s)
        metrics.completion_tokens.inc(done.usage.completion_tokens)
        self._store(
            status=status,
            finish_reason=self._finish_reason(done),
            error=error,
            prompt_tokens=done.usage.prompt_tokens,
            completion_tokens=done.usage.completion_tokens,
            ttft_ms=done.ttft_ms,
            latency_ms=done.latency_ms,
            triage_level=self.triage.level,
            banner=self.triage.banner,
            rule_version=self.triage.version,
            notices={"notices": self.notices, "output": done.output_notes}
            if self.notices or done.output_notes
            else None,
        )

    def _finish_reason(self, done: Done) -> str:
        if self.job.interrupted:
            return "interrupted"
        return "timeout" if self.job.timed_out else done.finish_reason

    def _store(self, *, status: str, finish_reason: str, error: str | None = None, **values: Any) -> None:
        """Write the final state, then tell subscribers (so a late reader finds it in the database)."""
        with self.manager.db.session() as session:
            svc.finish(
                session=session,
                message_id=self.job.message_id,
                status=status,
                finish_reason=finish_reason,
                error=error,
                content=self.text,
                **values,
            )
        self.manager.metrics.generations.labels(status).inc()
        self.publish(
            {
                "type": "done",
                "status": status,
                "finish_reason": finish_reason,
                "error": error,
                "text": self.text,
                "triage_level": values.get("triage_level"),
                "banner": values.get("banner"),
            }
        )
