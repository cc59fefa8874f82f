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
