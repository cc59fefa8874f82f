"""HTML pages through the real routes: sign-up/in, patient pages, clinician portal, admin, CSRF and access."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from chatdoctor.backends.base import BACKENDS
from chatdoctor.errors import BackendUnavailable
from chatdoctor.types import Citation
from tests.webapp.browser.passwords import reuse_password_hashes  # noqa: F401 (autouse)
from tests.webapp.conftest import ScriptedBackend, add_user
from webapp.security import CSRF_HEADER, SESSION_COOKIE

pytestmark = pytest.mark.postgres
HTML = {"accept": "text/html"}
PAGES_BACKEND = "pages-test-scripted"
BROKEN_BACKEND = "pages-test-unloadable"


def _unloadable(config):
    raise BackendUnavailable("model directory /nonexistent not found")


if PAGES_BACKEND not in BACKENDS:
    BACKENDS.register(PAGES_BACKEND, lambda config: ScriptedBackend(name=PAGES_BACKEND))
    BACKENDS.register(BROKEN_BACKEND, _unloadable)


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)


def answered(app, owner, question="头痛发热", answer="Rest [1]. See a doctor [2].", **fields):
    """A conversation with a finished, cited answer (written through the services)."""
    from webapp.services import conversations, messages

    with app.state.db.session() as session:
        conv = conversations.create_conversation(session=session, owner=owner)
        _, reply = messages.post_user_message(
            session=session, conversation=conv, author=owner, content=question, max_chars=8000
        )
        messages.finish(
            session=session, message_id=reply.id, **{"status": "done", "content": answer, **fields}
        )
        messages.add_sources(
            session=session,
            message_id=reply.id,
            citations=[
                Citation("偏头痛", "has_symptom", "头痛", "starter", "7"),
                Citation("感冒", "has_symptom", "发热", "starter", "1", "Common cold causes fever"),
            ],
        )
    return conv, reply


# --- sign-up and sign-in ---------------------------------------------------------------------


def test_signup_creates_signed_in_patient_and_clinician_waits_for_approval(make_app):
    app = make_app()
    with TestClient(app) as client:
        page = client.get("/signup")
        form = {"email": "P@Example.org", "password": "long enough pw", "adult": "yes", "accept_terms": "yes"}
        r = client.post("/signup", data={**form, "csrf_token": form_token(page.text)}, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/chat")
        assert SESSION_COOKIE in r.cookies
        client.cookies.clear()
        page = client.get("/signup")
        form = {**form, "email": "dr@example.org", "role": "clinician", "csrf_token": form_token(page.text)}
        r = client.post("/signup", data=form, follow_redirects=False)
        assert r.status_code == 200 and "administrator must approve" in r.text
        assert SESSION_COOKIE not in r.cookies
        page = client.get("/login")
        login = {"email": "dr@example.org", "password": "long enough pw", "csrf_token": form_token(page.text)}
        r = client.post("/login", data=login)
        assert r.status_code == 400 and "waiting for an administrator" in r.text


def test_signup_requires_terms_and_adult_confirmation(make_app):
    with TestClient(make_app()) as client:
        token = form_token(client.get("/signup").text)
        r = client.post("/signup", data={"email": "a@b.org", "password": "long enough", "csrf_token": token})
        assert r.status_code == 400 and "18 or older" in r.text


def test_login_without_the_form_token_is_refused(make_app):
    app = make_app()
    add_user(app, "patient", email="p@example.org")
    with TestClient(app) as client:
        client.get("/login")
        r = client.post("/login", data={"email": "p@example.org", "password": "correct horse battery"})
        assert r.status_code == 403


def test_login_redirects_only_to_same_site_paths(make_app):
    app = make_app()
    add_user(app, "patient", email="p@example.org")
    with TestClient(app) as client:
        for target, expected in (
            ("/history", "/history"),
            ("//evil.example/x", "/chat"),
            ("/\\evil.example", "/chat"),
            ("https://e.x", "/chat"),
        ):
            token = form_token(client.get("/login").text)
            data = {"email": "p@example.org", "password": "correct horse battery", "csrf_token": token}
            r = client.post("/login", data={**data, "next": target}, follow_redirects=False)
            assert r.headers["location"] == expected
            client.cookies.clear()


def test_wrong_password_shows_error_and_is_audited(make_app):
    from webapp.services import audit

    app = make_app()
    add_user(app, "patient", email="p@example.org")
    with TestClient(app) as client:
        token = form_token(client.get("/login").text)
        r = client.post(
            "/login", data={"email": "p@example.org", "password": "nope nope", "csrf_token": token}
        )
    assert r.status_code == 400 and "wrong email or password" in r.text
    with app.state.db.session() as session:
        assert [e.outcome for e in audit.list_events(session=session, action="auth.login")] == ["failure"]


# --- patient pages ---------------------------------------------------------------------------


def test_chat_page_shows_stored_answer_with_numbered_citations_and_disclaimer(make_app, actors):
    app = make_app()
    people = actors(app)
    conv, _ = answered(app, people["patient"].user)
    html = people["patient"].client.get(f"/chat/{conv.id}").text
    assert 'href="#cite-1"' in html and 'href="#cite-2"' in html
    assert 'id="cite-2">Common cold causes fever' in html
    assert "starter:7" in html
    assert "not a diagnosis" in html
    assert 'data-status="done"' in html and 'data-action="stop"' not in html


def test_answer_shows_dropped_context_notice_and_error_reason(make_app, actors):
    app = make_app()
    people = actors(app)
    notices = {"notices": ["Dropped 2 earlier turn(s) to fit the model's context window."], "output": []}
    conv, _ = answered(app, people["patient"].user, notices=notices)
    assert "Dropped 2 earlier turn(s)" in people["patient"].client.get(f"/chat/{conv.id}").text
    conv, _ = answered(app, people["patient"].user, status="error", error="the model server is unreachable")
    assert (
        "could not be completed: the model server is unreachable"
        in people["patient"].client.get(f"/chat/{conv.id}").text
    )


def test_emergency_answer_shows_banner(make_app, actors):
    app = make_app()
    people = actors(app)
    conv, _ = answered(app, people["patient"].user, answer="Call 120 now.", triage_level="emergency")
    html = people["patient"].client.get(f"/chat/{conv.id}").text
    assert 'data-testid="emergency-banner"' in html


def test_answer_being_written_renders_for_resubscription(make_app, actors):
    from webapp.services import messages

    app = make_app()
    people = actors(app)
    conv, reply = answered(app, people["patient"].user)
    with app.state.db.session() as session:
        messages.finish(session=session, message_id=reply.id, status="streaming", content="partial <b>so far")
    html = people["patient"].client.get(f"/chat/{conv.id}").text
    assert f'data-stream-url="/messages/{reply.id}/stream"' in html
    assert 'data-action="stop"' in html and "partial &lt;b&gt;so far" in html


def test_another_patient_gets_404_for_pages_and_fragments(make_app, actors):
    app = make_app()
    people = actors(app)
    conv, reply = answered(app, people["patient"].user)
    other = people["other_patient"].client
    assert other.get(f"/chat/{conv.id}", headers=HTML).status_code == 404
    assert other.get(f"/chat/messages/{reply.id}/fragment").status_code == 404
    r = other.post(f"/chat/{conv.id}/delete", headers=HTML, follow_redirects=False)
    assert r.status_code == 404


def test_history_paginates_renames_and_deletes_with_form_csrf(make_app, actors):
    from webapp.services import conversations

    app = make_app()
    people = actors(app)
    patient = people["patient"]
    with app.state.db.session() as session:
        for i in range(26):
            conversations.create_conversation(session=session, owner=patient.user, title=f"topic {i}")
    client = patient.client
    first = client.get("/history").text
    assert first.count('action="/chat/') == 50 and "Older" in first
    second = client.get("/history?page=2").text
    assert second.count("/rename") == 1 and "Older" not in second
    conv_id = re.search(r'href="/chat/([0-9a-f-]{36})"', second).group(1)
    token = form_token(first)
    del client.headers[CSRF_HEADER]  # the form field alone must carry the token
    assert client.post(f"/chat/{conv_id}/rename", data={"title": "x"}).status_code == 403
    r = client.post(f"/chat/{conv_id}/rename", data={"title": "Renamed", "csrf_token": token})
    assert r.status_code == 200 and "Renamed" in r.text
    client.post(f"/chat/{conv_id}/delete", data={"csrf_token": token})
    assert "Renamed" not in client.get("/history?page=2").text
    assert client.get(f"/chat/{conv_id}", headers=HTML).status_code == 404


def test_flag_button_puts_answer_in_assigned_clinicians_queue(make_app, actors):
    from webapp.services import conversations

    app = make_app()
    people = actors(app)
    conv, reply = answered(app, people["patient"].user, answer="Take 10 g of paracetamol.")
    r = people["patient"].client.post(f"/chat/messages/{reply.id}/feedback", data={"rating": "-1"})
    assert r.status_code == 200
    with app.state.db.session() as session:
        conversations.assign(
            session=session, conversation=conv, clinician=people["clinician"].user, actor=people["admin"].user
        )
    queue = people["clinician"].client.get("/clinician").text
    assert "flagged by patient" in queue and "Take 10 g of paracetamol." in queue


# --- clinician -------------------------------------------------------------------------------


def test_clinician_cannot_read_unassigned_conversation_and_review_saves_correction(make_app, actors):
    from webapp.services import conversations, feedback

    app = make_app()
    people = actors(app)
    conv, reply = answered(app, people["patient"].user)
    doctor = people["clinician"].client
    assert doctor.get(f"/clinician/conversations/{conv.id}", headers=HTML).status_code == 404
    assert doctor.post(f"/clinician/messages/{reply.id}/review", data={"corrected": "x"}).status_code == 404
    with app.state.db.session() as session:
        conversations.assign(
            session=session, conversation=conv, clinician=people["clinician"].user, actor=people["admin"].user
        )
    assert "Rate and correct" in doctor.get(f"/clinician/conversations/{conv.id}").text
    r = doctor.post(f"/clinician/messages/{reply.id}/review", data={"corrected": "Better.", "rating": "0"})
    assert r.status_code == 200 and "corrected" in r.text
    with app.state.db.session() as session:
        assert [r["output"] for r in feedback.corrections_as_records(session=session)] == ["Better."]
    assert (
        people["patient"]
        .client.post(f"/clinician/messages/{reply.id}/review", data={"corrected": "x"})
        .status_code
        == 403
    )


def test_admin_reads_a_conversation_only_with_a_reason(make_app, actors):
    app = make_app()
    people = actors(app)
    conv, _ = answered(app, people["patient"].user)
    admin = people["admin"].client
    assert admin.get(f"/clinician/conversations/{conv.id}", headers=HTML).status_code == 403
    assert admin.get(f"/clinician/conversations/{conv.id}?reason=incident%2042").status_code == 200


def test_knowledge_browser_finds_entities_with_facts_and_sources(make_app, actors):
    app = make_app()
    people = actors(app)
    doctor = people["clinician"].client
    html = doctor.get("/clinician/knowledge", params={"q": "感冒"}).text
    assert "has_symptom" in html and "starter#感冒" in html
    drug = doctor.get("/clinician/knowledge", params={"q": "amoxicillin", "kind": "drug"}).text
    assert "阿莫西林" in drug and "common_drug" in drug  # English name linked; diseases that use it
    ranked = doctor.get("/clinician/knowledge", params={"q": "发烧咳嗽"}).text
    assert 'id="ranked"' in ranked and "fits" in ranked
    assert "No entity matches" in doctor.get("/clinician/knowledge?q=zzzqqq").text
    assert people["patient"].client.get("/clinician/knowledge?q=x", headers=HTML).status_code == 403


# --- admin -----------------------------------------------------------------------------------


def test_admin_approves_pending_clinician_and_sets_roles(make_app, actors):
    from webapp.services import users

    app = make_app()
    people = actors(app)
    pending = add_user(app, "clinician", email="wait@example.org", approved=False)
    admin = people["admin"].client
    page = admin.get("/admin").text
    assert page.index("wait@example.org") < page.index(people["patient"].user.email)  # pending first
    admin.post(f"/admin/users/{pending.id}/approve")
    admin.post(f"/admin/users/{people['patient'].user.id}/role", data={"role": "clinician"})
    r = admin.post(f"/admin/users/{people['admin'].user.id}/role", data={"role": "patient"}, headers=HTML)
    assert r.status_code == 400
    with app.state.db.session() as session:
        assert users.get_user(session=session, user_id=pending.id).approved
        assert users.get_user(session=session, user_id=people["patient"].user.id).role == "clinician"
        assert users.get_user(session=session, user_id=people["admin"].user.id).role == "admin"
    assert (
        people["clinician"].client.post(f"/admin/users/{pending.id}/approve", headers=HTML).status_code == 403
    )


def test_usage_page_shows_counts_tokens_and_latency(make_app, actors):
    app = make_app()
    people = actors(app)
    answered(app, people["patient"].user, completion_tokens=42, latency_ms=1234.0, ttft_ms=56.0)
    html = people["admin"].client.get("/admin/usage").text
    assert "<dd>42</dd>" in html and "1234 ms" in html and "56 ms" in html
    assert "头痛发热" not in html  # no conversation content on the admin page


def test_backend_page_describes_and_switches_backend(make_app, actors):
    from webapp.services import audit, serving

    app = make_app(ScriptedBackend())
    people = actors(app)
    admin = people["admin"].client
    assert "scripted-model" in admin.get("/admin/backend").text
    r = admin.post("/admin/backend", data={"backend": BROKEN_BACKEND})
    assert r.status_code == 400 and "not switched: model directory /nonexistent not found" in r.text
    assert app.state.manager.engine.backend.describe()["model"] == "scripted-model"
    r = admin.post("/admin/backend", data={"backend": PAGES_BACKEND, "model": ""})
    assert r.status_code == 200 and "Switched" in r.text
    assert app.state.manager.engine.backend.name == PAGES_BACKEND
    with app.state.db.session() as session:
        assert serving.saved_overrides(session=session)["backend"] == PAGES_BACKEND
        assert audit.list_events(session=session, action="backend.configure")


def test_error_page_for_signed_in_user_offers_sign_out_not_sign_in(make_app, actors):
    app = make_app()
    people = actors(app)
    r = people["patient"].client.get("/no-such-page", headers=HTML)
    assert r.status_code == 404 and "Sign out" in r.text and 'href="/login"' not in r.text
    assert "not a diagnosis" in r.text


def test_safety_event_waits_for_assignment_then_clinician_marks_it_reviewed(make_app, actors):
    from webapp.services import audit, feedback, messages

    app = make_app()
    people = actors(app)
    conv, reply = answered(app, people["patient"].user, triage_level="emergency")
    with app.state.db.session() as session:
        messages.add_safety_event(session=session, message_id=reply.id, conversation_id=conv.id,
                                  level="emergency", category="cardiac", rule="rules/chest_pain", action="short_circuit")  # fmt: skip
    admin = people["admin"].client
    page = admin.get("/admin").text
    assert f"<code>{conv.id}</code>" in page and ">safety</span>" in page
    clinician = people["clinician"].user
    admin.post(
        "/admin/assignments", data={"conversation_id": str(conv.id), "clinician_id": str(clinician.id)}
    )
    assert "Nothing waiting." in admin.get("/admin").text
    doctor = people["clinician"].client
    assert "safety: cardiac" in doctor.get("/clinician").text
    r = doctor.post(f"/clinician/messages/{reply.id}/reviewed", data={"note": "appropriate escalation"})
    assert r.status_code == 200 and "Nothing flagged." in r.text
    with app.state.db.session() as session:
        assert feedback.review_queue(session=session, clinician=clinician) == []
        assert [e.reason for e in audit.list_events(session=session, action="message.review")] == [
            "appropriate escalation"
        ]


def test_sign_out_needs_the_form_token_and_ends_the_session(make_app, actors):
    app = make_app()
    people = actors(app)
    client = people["patient"].client
    token = form_token(client.get("/history").text)
    del client.headers[CSRF_HEADER]
    assert client.post("/logout", headers=HTML, follow_redirects=False).status_code == 403
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    cleared = r.headers["set-cookie"]
    assert cleared.startswith(f'{SESSION_COOKIE}=""') and "Max-Age=0" in cleared


def test_pages_forbid_inline_scripts_and_framing(make_app, actors):
    app = make_app()
    r = actors(app)["patient"].client.get("/chat")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text and "style=" not in r.text  # everything the CSP allows is a file
