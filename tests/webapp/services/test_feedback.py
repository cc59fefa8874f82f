"""Feedback, the clinician review queue, and corrections exported as instruction records."""

from __future__ import annotations

import json

import pytest

from tests.webapp.conftest import add_user
from webapp.models import Message
from webapp.services import conversations, feedback

pytestmark = pytest.mark.postgres


@pytest.fixture
def answered(make_app):
    """(app, patient, clinician, answer) with the conversation assigned to the clinician."""
    app = make_app()
    patient, clinician, admin = add_user(app, "patient"), add_user(app, "clinician"), add_user(app, "admin")
    with app.state.db.session() as session:
        conv = conversations.create_conversation(session=session, owner=patient)
        question = Message(conversation_id=conv.id, role="user", content="What helps a cold?", status="done")
        session.add(question)
        session.flush()
        answer = Message(
            conversation_id=conv.id,
            parent_id=question.id,
            role="assistant",
            content="Take antibiotics.",
            status="done",
        )
        session.add(answer)
        session.commit()
        conversations.assign(session=session, conversation=conv, clinician=clinician, actor=admin)
    return app, patient, clinician, answer


def test_flagged_answer_enters_the_assigned_clinicians_queue_until_corrected(answered):
    app, patient, clinician, answer = answered
    with app.state.db.session() as session:
        fb = feedback.rate_message(session=session, message=answer, user=patient, rating=-1, reason="wrong")
        assert fb.flagged_for_review and fb.message_snapshot == "Take antibiotics."
        queue = feedback.review_queue(session=session, clinician=clinician)
        assert [(i["message"].id, i["why"]) for i in queue] == [(answer.id, "patient_flag")]
        other = add_user(app, "clinician")
        assert feedback.review_queue(session=session, clinician=other) == []
        feedback.correct_answer(
            session=session,
            message=answer,
            clinician=clinician,
            corrected="Colds are viral: rest and fluids; antibiotics do not help.",
        )
        assert feedback.review_queue(session=session, clinician=clinician) == []


def test_rating_twice_updates_the_same_feedback(answered):
    app, patient, _, answer = answered
    with app.state.db.session() as session:
        first = feedback.rate_message(session=session, message=answer, user=patient, rating=1)
        second = feedback.rate_message(
            session=session, message=answer, user=patient, rating=-1, comment="hmm"
        )
        assert first.id == second.id and second.rating == -1


def test_corrections_export_as_instruction_records(answered, tmp_path):
    app, _, clinician, answer = answered
    out = tmp_path / "corrections.jsonl"
    with app.state.db.session() as session:
        feedback.correct_answer(
            session=session, message=answer, clinician=clinician, corrected="Rest and fluids."
        )
        assert feedback.export_corrections(session=session, path=str(out), actor=clinician) == 1
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records == [
        {
            "instruction": feedback.CORRECTION_INSTRUCTION,
            "input": "What helps a cold?",
            "output": "Rest and fluids.",
        }
    ]


def test_empty_correction_is_refused(answered):
    app, _, clinician, answer = answered
    from webapp.errors import BadRequest

    with app.state.db.session() as session, pytest.raises(BadRequest, match="empty"):
        feedback.correct_answer(session=session, message=answer, clinician=clinician, corrected="  ")
