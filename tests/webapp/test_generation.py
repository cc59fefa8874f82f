"""Server-side generation under faults: backend down, timeout, restart mid-answer, queue, triage, sources."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from chatdoctor.engine import ChatEngine, Grounding, OutputCheck, TriageResult
from chatdoctor.errors import BackendTimeout, BackendUnavailable
from chatdoctor.types import Citation
from tests.webapp.conftest import ScriptedBackend, add_user, message_row, sign_in, wait_for
from tests.webapp.routes.test_messages import ask, new_conversation, parse_sse
from webapp.models import Message, MessageSource, SafetyEvent

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    "error", [BackendUnavailable("model server unreachable"), BackendTimeout("read timed out")]
)
def test_backend_failure_mid_answer_ends_error_with_partial_text(make_app, actors, error):
    app = make_app(ScriptedBackend(words=5, raise_after=3, error=error))
    client = actors(app)["patient"].client
    turn = ask(client, new_conversation(client))
    events = parse_sse(client.get(turn["stream_url"]).text)
    row = message_row(app, turn["assistant_message"]["id"])
    assert (row.status, row.finish_reason, row.error) == ("error", "error", str(error))
    assert row.content == "Answer to headache and fever: w1 w2"
    assert [e for e, _, _ in events][-2:] == ["error", "done"]
    assert events[-2][1]["message"] == str(error)


def test_silent_backend_times_out_and_is_cancelled(make_app, actors):
    backend = ScriptedBackend(hang=True)
    app = make_app(backend, generation_timeout_s=0.3)
    client = actors(app)["patient"].client
    turn = ask(client, new_conversation(client))
    client.get(turn["stream_url"])
    row = message_row(app, turn["assistant_message"]["id"])
    assert (row.status, row.finish_reason) == ("error", "timeout") and "timeout" in row.error
    assert backend.cancelled.is_set()


def test_restart_mid_answer_marks_it_interrupted_and_keeps_text(make_app, actors):
    gate = threading.Event()
    first = make_app(ScriptedBackend(words=5, gate=gate, gate_after=3))
    people = actors(first)
    client = people["patient"].client
    turn = ask(client, new_conversation(client), "sore throat")
    mid = turn["assistant_message"]["id"]
    wait_for(lambda: message_row(first, mid).content.endswith("w2"))  # flushed while generating
    # The "crashed" process never resumes (its gate stays shut); a new app starts over the same database.
    second = make_app(ScriptedBackend(words=1))
    with TestClient(second) as again:
        row = message_row(second, mid)
        assert (row.status, row.finish_reason) == ("error", "interrupted")
        assert row.content == "Answer to sore throat: w1 w2" and "restarted" in row.error
        assert message_row(second, turn["user_message"]["id"]).content == "sore throat"
        sign_in(second, again, people["patient"].user)
        events = parse_sse(again.get(turn["stream_url"]).text)
        assert events[-1][1]["status"] == "error"
        retry = again.post(f"/messages/{mid}/regenerate")  # not blocked by the interrupted answer
        assert retry.status_code == 201
        again.get(retry.json()["stream_url"])
        assert message_row(second, retry.json()["assistant_message"]["id"]).status == "done"
    gate.set()
    assert message_row(first, mid).status == "error"  # the old worker cannot overwrite the final state


def test_waiting_users_see_their_queue_position(make_app, actors):
    gate = threading.Event()
    app = make_app(ScriptedBackend(words=2, gate=gate, gate_after=1), generation_threads=1)
    people = actors(app)
    first = ask(people["patient"].client, new_conversation(people["patient"].client))
    wait_for(lambda: app.state.manager.position(first["assistant_message"]["id"]) == 0)
    other = people["other_patient"].client
    second = ask(other, new_conversation(other))
    assert second["queue_position"] == 1
    assert app.state.manager.position(second["assistant_message"]["id"]) == 1
    gate.set()
    events = parse_sse(other.get(second["stream_url"]).text)
    assert events[-1][1]["status"] == "done"


def test_stop_while_queued_ends_stopped_without_calling_the_model(make_app, actors):
    gate = threading.Event()
    backend = ScriptedBackend(words=2, gate=gate, gate_after=1)
    app = make_app(backend, generation_threads=1)
    people = actors(app)
    ask(people["patient"].client, new_conversation(people["patient"].client))
    other = people["other_patient"].client
    queued = ask(other, new_conversation(other), "queued question")
    assert other.post(f"/messages/{queued['assistant_message']['id']}/stop").json() == {
        "stopped": True,
        "status": "stopped",
    }
    gate.set()
    wait_for(lambda: not app.state.manager.position(queued["assistant_message"]["id"]))
    assert all(call[-1].content != "queued question" for call in backend.calls)


class EmergencyGuard:
    def check_input(self, messages, audience):
        if "chest pain" in messages[-1].content:
            return TriageResult(
                level="emergency", category="cardiac", response="Call 120 now.", version="rules-1"
            )
        return TriageResult(level="routine", version="rules-1")

    def check_output(self, text, messages, audience):
        return OutputCheck(
            text=text + "\n\nThis does not replace a clinician.", changed=True, version="rules-1"
        )


class FluGrounder:
    version = "kg-2024.1"

    def ground(self, messages):
        return Grounding("facts", [Citation("流感", "symptom", "发热", "cmekg", "42", score=0.9)])


def test_emergency_is_stored_blocked_with_a_safety_event_and_no_model_call(make_app, actors):
    backend = ScriptedBackend()
    app = make_app()
    app.state.manager.engine = ChatEngine(backend=backend, guard=EmergencyGuard(), grounder=FluGrounder())
    client = actors(app)["patient"].client
    turn = ask(client, new_conversation(client), "sudden chest pain and sweating")
    events = parse_sse(client.get(turn["stream_url"]).text)
    row = message_row(app, turn["assistant_message"]["id"])
    assert (row.status, row.triage_level, row.content) == ("blocked", "emergency", "Call 120 now.")
    assert backend.calls == []
    assert events[-1][1]["status"] == "blocked" and events[-1][1]["triage_level"] == "emergency"
    with app.state.db.session() as session:
        event = session.scalars(select(SafetyEvent)).one()
    assert (event.category, event.action_taken, event.escalated_to) == (
        "cardiac",
        "short_circuit",
        "clinician_review",
    )


def test_citations_become_sources_and_versions_are_stored(make_app, actors):
    app = make_app()
    app.state.manager.engine = ChatEngine(
        backend=ScriptedBackend(words=1), guard=EmergencyGuard(), grounder=FluGrounder()
    )
    client = actors(app)["patient"].client
    turn = ask(client, new_conversation(client), "fever")
    client.get(turn["stream_url"])
    body = client.get(f"/messages/{turn['assistant_message']['id']}").json()
    assert body["content"].endswith("This does not replace a clinician.")
    assert [(s["subject"], s["object"], s["source_ref"]) for s in body["sources"]] == [
        ("流感", "发热", "cmekg:42")
    ]
    row = message_row(app, turn["assistant_message"]["id"])
    assert (row.kg_version, row.rule_version, row.backend) == ("kg-2024.1", "rules-1", "scripted")
    with app.state.db.session() as session:
        assert session.scalars(select(MessageSource.label)).all() == ["流感 —symptom→ 发热"]


def test_user_pending_approval_cannot_post(make_app):
    app = make_app()
    user = add_user(app, "clinician", approved=False)
    with TestClient(app) as client:
        sign_in(app, client, user)
        assert client.post("/conversations", json={}).status_code == 401


def test_shutdown_lets_answers_finish_then_interrupts_the_rest(make_app):
    gate = threading.Event()
    app = make_app(ScriptedBackend(words=3, gate=gate, gate_after=2), generation_threads=1)
    users = [add_user(app, "patient") for _ in range(2)]
    with TestClient(app) as client:
        turns = []
        for user in users:
            sign_in(app, client, user)
            turns.append(ask(client, new_conversation(client), "cough"))
        running, queued = (t["assistant_message"]["id"] for t in turns)
        wait_for(lambda: message_row(app, running).content.endswith("w1"))
    first, second = message_row(app, running), message_row(app, queued)
    assert (first.status, first.finish_reason, first.content) == (
        "error",
        "interrupted",
        "Answer to cough: w1",
    )
    assert (second.status, second.finish_reason, second.content) == ("error", "interrupted", "")


def test_full_queue_is_503_with_retry_after_and_leaves_nothing_pending(make_app):
    gate = threading.Event()
    app = make_app(ScriptedBackend(words=2, gate=gate, gate_after=1), generation_threads=1, queue_size=1)
    users = [add_user(app, "patient") for _ in range(3)]
    with TestClient(app) as client:
        replies = []
        for user in users:
            sign_in(app, client, user)
            cid = new_conversation(client)
            replies.append(client.post(f"/conversations/{cid}/messages", json={"content": "q"}))
            if len(replies) == 1:
                wait_for(
                    lambda: app.state.manager.position(replies[0].json()["assistant_message"]["id"]) == 0
                )
        assert [r.status_code for r in replies] == [201, 201, 503]
        assert (
            replies[2].json()["error"]["code"] == "queue_full" and int(replies[2].headers["Retry-After"]) >= 1
        )
        gate.set()

        def statuses() -> list[str]:
            with app.state.db.session() as session:
                return sorted(session.scalars(select(Message.status).where(Message.role == "assistant")))

        wait_for(lambda: statuses() == ["done", "done", "error"])
