"""The patient Q&A page in real headless Chromium: sign up, stream, stop, reload, resubscribe, XSS, triage."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.webapp.conftest import ScriptedBackend, add_user, message_row, sign_in, wait_for

pytestmark = pytest.mark.slow


def _bubbles(page):
    return page.locator("#messages .msg.assistant")


def _ask(page, text: str):
    page.fill("#question", text)
    page.click("#ask button[type=submit]")


def _db_messages(app, conversation_id: str):
    from webapp.services.conversations import get_conversation, thread

    with app.state.db.session() as session:
        return thread(
            session=session, conversation=get_conversation(session=session, conversation_id=conversation_id)
        )


def test_patient_signs_up_sees_answer_stream_stops_it_and_reload_keeps_it(make_app, live_server, new_context):
    backend = ScriptedBackend(words=80, delay=0.06)
    app = make_app(backend)
    with live_server(app) as server:
        page = new_context(server, accept_terms=False).new_page()
        page.goto("/signup")
        page.click("[data-action=accept-terms]")  # first-use terms
        page.fill("#email", "pat@example.org")
        page.fill("#password", "correct horse battery")
        page.check("input[name=adult]")
        page.check("input[name=accept_terms]")
        page.click("form button[type=submit]")
        page.wait_for_url("**/chat")
        assert "not a diagnosis" in page.inner_text("#disclaimer")

        _ask(page, "What helps a sore throat?")
        bubble = _bubbles(page).first
        # Several separate delta updates reach the page before the answer is done.
        page.wait_for_function(
            "Number(document.querySelector('#messages .msg.assistant')?.dataset.deltas || 0) >= 4"
        )
        seen = bubble.locator(".body").inner_text()
        assert seen.startswith("Answer to What helps a sore throat?")
        _ask(page, "and a second question at once?")  # one answer at a time per user: a clear 429 message
        page.locator("#ask-error:not([hidden])").wait_for()
        assert "still being written" in page.locator("#ask-error").inner_text()
        bubble.locator("[data-action=stop]").click()
        page.locator("#messages .msg.assistant.stopped").wait_for()
        assert backend.cancelled.is_set()  # the backend itself stopped, not just the page

        conversation_id = page.url.rsplit("/", 1)[1]
        stored = next(m for m in _db_messages(app, conversation_id) if m.role == "assistant")
        assert stored.status == "stopped"
        assert stored.content.startswith(seen[:20]) and not stored.content.endswith("w80")

        page.reload()
        reloaded = _bubbles(page).first
        assert "stopped" in reloaded.get_attribute("class")
        assert reloaded.locator(".body").inner_text().strip() == stored.content.strip()
        assert "partial" in reloaded.locator(".status-note").inner_text()


def test_reloading_while_an_answer_is_written_resubscribes_and_gets_all_of_it(
    make_app, live_server, new_context
):
    app = make_app(ScriptedBackend(words=40, delay=0.05))
    patient = add_user(app, "patient")
    with live_server(app) as server:
        page = new_context(server, app, patient).new_page()
        page.goto("/chat")
        _ask(page, "发烧两天了，怎么办？")  # Chinese in, Chinese echoed back
        page.wait_for_function(
            "Number(document.querySelector('#messages .msg.assistant')?.dataset.deltas || 0) >= 2"
        )
        page.reload()  # the tab goes away mid-answer; generation goes on server-side
        done = page.locator("#messages .msg.assistant.done")
        done.wait_for()
        body = done.locator(".body").inner_text().strip()
        assert body.startswith("Answer to 发烧两天了，怎么办？") and body.endswith("w40")
        mid = done.get_attribute("data-message-id")
        assert message_row(app, mid).status == "done"
        done.locator("[data-action=regenerate]").click()  # a second answer beside the first
        page.locator("#messages .msg.assistant.done").nth(1).wait_for()
        second = page.locator("#messages .msg.assistant").nth(1).get_attribute("data-message-id")
        assert second != mid and message_row(app, second).parent_id == message_row(app, mid).parent_id


def test_waiting_answer_shows_its_place_in_the_queue(make_app, live_server, new_context):
    gate = threading.Event()
    app = make_app(ScriptedBackend(words=3, gate=gate, gate_after=1), generation_threads=1)
    first, patient = add_user(app, "patient"), add_user(app, "patient")
    with live_server(app) as server, httpx.Client(base_url=server.url, timeout=10) as other:
        sign_in(app, other, first)
        conversation = other.post("/conversations", json={}).json()["id"]
        busy = other.post(f"/conversations/{conversation}/messages", json={"content": "first"}).json()
        wait_for(lambda: message_row(app, busy["assistant_message"]["id"]).status == "streaming")
        page = new_context(server, app, patient, strict_csp=True).new_page()
        page.goto("/chat")
        _ask(page, "second in line")
        queue = page.locator("#messages .msg.assistant .queue")
        queue.wait_for()
        assert "position 1 in the queue" in queue.inner_text()
        gate.set()
        page.locator("#messages .msg.assistant.done").wait_for()


XSS = '<img src=x onerror="window.__xss=1;alert(1)"> <script>window.__xss=2;alert(2)</script> [a](javascript:alert(3))'


def test_xss_payload_in_model_output_stays_inert(make_app, live_server, new_context):
    app = make_app(ScriptedBackend(words=3))  # the scripted model echoes the question in its answer
    patient = add_user(app, "patient")
    with live_server(app) as server:
        page = new_context(server, app, patient).new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto("/chat")
        _ask(page, XSS)
        done = page.locator("#messages .msg.assistant.done")
        done.wait_for()
        wait_for(lambda: message_row(app, done.get_attribute("data-message-id")).status == "done")
        assert "onerror" in message_row(app, done.get_attribute("data-message-id")).content  # it was there
        page.reload()
        page.locator("#messages .msg.assistant.done").wait_for()
        page.wait_for_timeout(300)
        assert dialogs == []
        assert page.evaluate("window.__xss") is None
        assert page.locator("#messages script, #messages img").count() == 0
        assert page.locator("#messages a[href^='javascript']").count() == 0
        assert "<script>" in page.locator("#messages .msg.assistant .body").first.inner_text()


def test_emergency_banner_appears_when_triage_fires(make_app, live_server, new_context):
    safety = pytest.importorskip("chatdoctor.safety", reason="the safety layer is not built")
    if not hasattr(safety, "build_guard"):
        pytest.skip("chatdoctor.safety.build_guard does not exist yet")
    from chatdoctor.engine import ChatEngine

    backend = ScriptedBackend(words=3)
    app = make_app(backend)
    app.state.manager.engine = ChatEngine(backend=backend, guard=safety.build_guard())  # the real rules
    patient = add_user(app, "patient")
    with live_server(app) as server:
        page = new_context(server, app, patient, strict_csp=True).new_page()
        page.goto("/chat")
        _ask(page, "I have crushing chest pain and sweating")
        banner = page.locator("[data-testid=emergency-banner]")
        banner.wait_for()
        assert banner.is_visible()
        assert backend.calls == []  # the model never saw the emergency
