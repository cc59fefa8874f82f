"""The clinician portal in real headless Chromium: an admin assigns, a clinician signs in, reviews and corrects."""

from __future__ import annotations

import pytest

from tests.webapp.conftest import ScriptedBackend, add_user

pytestmark = pytest.mark.slow


def answered_and_flagged(app, patient, question: str, answer: str):
    """A patient's conversation with a finished answer that the patient flagged (through the services)."""
    from chatdoctor.types import Citation
    from webapp.services import conversations, feedback, messages

    with app.state.db.session() as session:
        conv = conversations.create_conversation(session=session, owner=patient)
        _, reply = messages.post_user_message(
            session=session, conversation=conv, author=patient, content=question, max_chars=8000
        )
        messages.finish(
            session=session, message_id=reply.id, status="done", content=answer, finish_reason="stop"
        )
        messages.add_sources(
            session=session,
            message_id=reply.id,
            citations=[Citation("感冒", "has_symptom", "发热", "starter", "1", "感冒 has symptom 发热")],
        )
        session.refresh(reply)
        feedback.rate_message(session=session, message=reply, user=patient, rating=-1, flag=True)
        return conv, reply


def test_clinician_signs_in_reviews_flagged_answer_and_corrects_it(make_app, live_server, new_context):
    app = make_app(ScriptedBackend())
    patient = add_user(app, "patient")
    admin = add_user(app, "admin")
    clinician = add_user(app, "clinician", email="dr.li@example.org")
    conv, reply = answered_and_flagged(app, patient, "感冒发烧怎么办？", "Take antibiotics at once [1].")
    corrected = "感冒多为病毒感染，抗生素无效。多休息、多饮水；高热不退请就医 [1]。"
    with live_server(app) as server:
        admin_page = new_context(server, app, admin).new_page()
        admin_page.goto("/admin")
        admin_page.fill("#conversation_id", str(conv.id))
        admin_page.select_option("#clinician_id", str(clinician.id))
        admin_page.click("form[action='/admin/assignments'] button")
        assert "assigned to dr.li@example.org" in admin_page.inner_text(".alert.notice")

        page = new_context(server).new_page()
        page.goto("/clinician")
        page.wait_for_url("**/login?next=/clinician")
        page.fill("#email", "dr.li@example.org")
        page.fill("#password", "correct horse battery")
        page.click("form.card button[type=submit]")
        page.wait_for_url("**/clinician")
        row = page.locator("#flagged tbody tr", has_text="flagged by patient")
        assert "Take antibiotics" in row.inner_text()
        row.locator("a").click()
        page.wait_for_url(f"**/clinician/conversations/{conv.id}*")
        assert "感冒 has symptom 发热" in page.inner_text(f"#msg-{reply.id} .citations")
        page.click(f"#msg-{reply.id} + details.review summary")
        page.fill(f"#corrected-{reply.id}", corrected)
        page.select_option(f"#rating-{reply.id}", "-1")
        page.click(f"#msg-{reply.id} + details.review button[type=submit]")
        page.wait_for_url("**saved=1*")
        assert page.locator(f"#msg-{reply.id} + details.review .badge", has_text="corrected").count() == 1

    from webapp.models import AuditEvent
    from webapp.services import feedback

    with app.state.db.session() as session:
        records = list(feedback.corrections_as_records(session=session))
        assert records == [{"instruction": feedback.CORRECTION_INSTRUCTION, "input": "感冒发烧怎么办？",
                            "output": corrected}]  # fmt: skip
        views = session.query(AuditEvent).filter_by(action="conversation.view", actor_id=clinician.id).count()
        assert views >= 1  # reading the conversation was audited
        assert feedback.review_queue(session=session, clinician=clinician) == []  # reviewed: off the queue
