"""`data export-corrections`: clinicians' corrected answers from the web app's database as records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from chatdoctor.errors import DataError
from training.data.corrections import export
from training.data.formats import read_records


def test_corrections_table_rows_become_instruction_records(tmp_path):
    models = pytest.importorskip("webapp.models")
    url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = sa.create_engine(url)
    models.Base.metadata.create_all(engine)
    rows = [
        {
            "id": uuid.uuid4(),
            "message_id": uuid.uuid4(),
            "clinician_id": uuid.uuid4(),
            "question": "Is 39C fever bad?",
            "original": "No.",
            "corrected": "A fever of 39C needs attention; see a doctor if it lasts.",
            "note": "unsafe",
            "rating": -1,
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        },
        {
            "id": uuid.uuid4(),
            "message_id": uuid.uuid4(),
            "clinician_id": uuid.uuid4(),
            "question": "  ",
            "original": "x",
            "corrected": "y",
            "note": None,
            "rating": None,
            "created_at": datetime(2026, 1, 2, tzinfo=UTC),
        },
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Correction.__table__), rows)
    engine.dispose()
    out = tmp_path / "corrections.jsonl"
    assert export(out, url) == 1
    (rec,) = read_records(out)
    assert rec.prompt == "Is 39C fever bad?" and rec.response.startswith("A fever of 39C")
    assert (
        rec.meta["original"] == "No."
        and rec.meta["note"] == "unsafe"
        and rec.source == "clinician_corrections"
    )


def test_a_database_without_the_table_gives_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(DataError, match="no 'corrections' table"):
        export(tmp_path / "out.jsonl", url)
    assert not (tmp_path / "out.jsonl").exists()
