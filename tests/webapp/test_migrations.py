"""Alembic: upgrade from empty, the result matches the models, downgrade to empty, upgrade again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from webapp.db import current_revision, downgrade, head_revision, make_engine, upgrade
from webapp.models import Base

pytestmark = pytest.mark.postgres


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(db_url):
    assert tables(db_url) == set() and current_revision(db_url) is None
    upgrade(db_url)
    assert tables(db_url) == set(Base.metadata.tables) and current_revision(db_url) == head_revision()
    downgrade(db_url, "base")
    assert tables(db_url) == set() and current_revision(db_url) is None
    upgrade(db_url)
    assert tables(db_url) == set(Base.metadata.tables)


def test_migrated_schema_matches_the_models(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_db_commands_upgrade_and_report_current(db_url, monkeypatch):
    from typer.testing import CliRunner

    from webapp.commands import db_app

    monkeypatch.setenv("CHATDOCTOR_DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    assert "current: 0001" in runner.invoke(db_app, ["current"]).output
    assert runner.invoke(db_app, ["downgrade", "base"]).exit_code == 0
    assert tables(db_url) == set()


def test_db_commands_export_corrections_and_verify_the_audit_trail(make_app, db_url, monkeypatch, tmp_path):
    import json

    from typer.testing import CliRunner

    from tests.webapp.conftest import add_user
    from webapp.commands import db_app
    from webapp.models import AuditEvent, Message
    from webapp.services import conversations, feedback

    app = make_app()
    patient, clinician = add_user(app, "patient"), add_user(app, "clinician")
    with app.state.db.session() as session:
        conv = conversations.create_conversation(session=session, owner=patient)
        question = Message(conversation_id=conv.id, role="user", content="咳嗽怎么办？", status="done")
        session.add(question)
        session.flush()
        answer = Message(
            conversation_id=conv.id, parent_id=question.id, role="assistant", content="x", status="done"
        )
        session.add(answer)
        session.commit()
        feedback.correct_answer(
            session=session, message=answer, clinician=clinician, corrected="多喝水，休息。"
        )
    monkeypatch.setenv("CHATDOCTOR_DATABASE_URL", db_url)
    runner = CliRunner()
    out = tmp_path / "corrections.jsonl"
    result = runner.invoke(db_app, ["export-corrections", str(out)])
    assert result.exit_code == 0 and "wrote 1" in result.output
    assert json.loads(out.read_text(encoding="utf-8"))["output"] == "多喝水，休息。"
    assert "intact" in runner.invoke(db_app, ["verify-audit"]).output
    with app.state.db.session() as session:
        session.query(AuditEvent).filter(AuditEvent.action == "message.correct").update({"reason": "edited"})
        session.commit()
    result = runner.invoke(db_app, ["verify-audit"])
    assert result.exit_code != 0 and "hash chain" in str(result.exception)
