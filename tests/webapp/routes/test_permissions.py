"""Who may do what: patient / other patient / clinician (assigned or not) / admin / anonymous × endpoints."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.webapp.conftest import ScriptedBackend
from webapp.models import AuditEvent

pytestmark = pytest.mark.postgres


@pytest.fixture
def world(make_app, actors):
    """An app, its actors, and one finished patient conversation (ids)."""
    app = make_app(ScriptedBackend(words=2))
    people = actors(app)
    client = people["patient"].client
    cid = client.post("/conversations", json={}).json()["id"]
    turn = client.post(f"/conversations/{cid}/messages", json={"content": "my private symptoms"}).json()
    client.get(turn["stream_url"])
    return app, people, cid, turn["assistant_message"]["id"]


READS = [
    ("GET", "/conversations/{cid}/messages"),
    ("GET", "/messages/{mid}"),
    ("GET", "/messages/{mid}/stream"),
]
OWNER_WRITES = [
    ("POST", "/messages/{mid}/stop"),
    ("POST", "/messages/{mid}/regenerate"),
    ("PATCH", "/conversations/{cid}"),
    ("DELETE", "/conversations/{cid}"),
    ("POST", "/conversations/{cid}/messages"),
]
BODIES = {"PATCH": {"title": "x"}, "POST": {"content": "hello"}}


def call(client, method, template, cid, mid, **kwargs):
    url = template.format(cid=cid, mid=mid)
    body = BODIES.get(method) if ("messages" in url and method == "POST") or method == "PATCH" else None
    return client.request(method, url, json=body, **kwargs)


def statuses(client, endpoints, cid, mid, **params) -> dict[str, int]:
    return {f"{m} {p}": call(client, m, p, cid, mid, **params).status_code for m, p in endpoints}


def test_anonymous_gets_401_everywhere(world):
    _app, people, cid, mid = world
    got = statuses(people["anonymous"].client, READS + OWNER_WRITES, cid, mid)
    assert got == {k: 401 for k in got}


@pytest.mark.parametrize("who", ["other_patient", "clinician"])
def test_other_users_and_unassigned_clinicians_get_404_everywhere(world, who):
    _app, people, cid, mid = world
    for method, path in READS + OWNER_WRITES:
        r = call(people[who].client, method, path, cid, mid)
        assert (f"{method} {path}", r.status_code) == (f"{method} {path}", 404)
        assert "private symptoms" not in r.text


def test_owner_reads_own_conversation(world):
    _app, people, cid, mid = world
    got = statuses(people["patient"].client, READS, cid, mid)
    assert got == {k: 200 for k in got}


def test_assigned_clinician_reads_and_each_view_is_audited_once(world):
    from webapp.services.conversations import assign, get_conversation

    app, people, cid, mid = world
    with app.state.db.session() as session:
        conv = get_conversation(session=session, conversation_id=cid)
        assign(
            session=session, conversation=conv, clinician=people["clinician"].user, actor=people["admin"].user
        )
    got = statuses(people["clinician"].client, READS, cid, mid)
    assert got == {k: 200 for k in got}
    assert statuses(people["clinician"].client, OWNER_WRITES, cid, mid) == {
        f"{m} {p}": 404 for m, p in OWNER_WRITES
    }
    with app.state.db.session() as session:
        views = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "conversation.view", AuditEvent.actor_id == people["clinician"].id
            )
        ).all()
    assert [(v.outcome, v.details["access"]) for v in views] == [("success", "assigned")] * len(READS)


def test_admin_needs_a_reason_and_break_glass_is_audited(world):
    app, people, cid, mid = world
    admin = people["admin"].client
    for method, path in READS:
        r = call(admin, method, path, cid, mid)
        assert r.status_code == 403 and r.json()["error"]["code"] == "reason_required"
    got = statuses(admin, READS, cid, mid, params={"reason": "complaint #12 review"})
    assert got == {k: 200 for k in got}
    with app.state.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "conversation.view", AuditEvent.actor_id == people["admin"].id
            )
        ).all()
    assert [(e.reason, e.details) for e in events] == [
        ("complaint #12 review", {"access": "break_glass"})
    ] * 3


def test_admin_cannot_write_to_a_patients_conversation(world):
    _app, people, cid, mid = world
    got = statuses(people["admin"].client, OWNER_WRITES, cid, mid, params={"reason": "x"})
    assert got == {k: 404 for k in got}


def test_list_shows_only_own_conversations_without_text(world):
    _app, people, cid, _mid = world
    assert [c["id"] for c in people["patient"].client.get("/conversations").json()] == [cid]
    assert people["other_patient"].client.get("/conversations").json() == []
    assert set(people["patient"].client.get("/conversations").json()[0]) == {
        "id",
        "title",
        "kind",
        "updated_at",
    }


def test_denied_reads_are_audited(world):
    app, people, cid, _mid = world
    people["other_patient"].client.get(f"/conversations/{cid}/messages")
    with app.state.db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).one()
    assert event.actor_id == people["other_patient"].id and event.resource_id == cid


def test_deleted_conversation_disappears_for_its_owner(world):
    _app, people, cid, _mid = world
    client = people["patient"].client
    assert client.delete(f"/conversations/{cid}").status_code == 204
    assert client.get(f"/conversations/{cid}/messages").status_code == 404
    assert client.get("/conversations").json() == []


def test_unapproved_clinician_session_is_not_signed_in(make_app):
    from fastapi.testclient import TestClient

    from tests.webapp.conftest import add_user, sign_in

    app = make_app()
    pending = add_user(app, "clinician", approved=False)
    with TestClient(app) as client:
        sign_in(app, client, pending)
        assert client.get("/conversations").status_code == 401


def test_forged_cookie_is_ignored(world):
    from fastapi.testclient import TestClient

    from webapp.security import SESSION_COOKIE

    app, people, cid, _mid = world
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, f'{{"uid": "{people["patient"].id}", "sid": "x"}}.forged.sig')
        assert client.get(f"/conversations/{cid}/messages").status_code == 401
