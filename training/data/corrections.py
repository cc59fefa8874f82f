"""Clinician corrections from the web app's database → an instruction set for the next fine-tuning stage.

The ``corrections`` table is read by reflection (SQLAlchemy Core), so ``training`` does not import
``webapp``: each row's ``question`` becomes the user turn and ``corrected`` the assistant turn.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from chatdoctor.errors import ConfigError, DataError
from chatdoctor.records import InstructionRecord
from chatdoctor.types import Message
from training.data.formats import write_records

DEFAULT_URL = "sqlite:///./var/chatdoctor.db"  # the web app's embedded default


def read_corrections(database_url: str) -> Iterator[InstructionRecord]:
    """One record per correction, oldest first; the original answer and note travel in ``meta``."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        table = sa.Table("corrections", sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        raise DataError(
            "no 'corrections' table; run `chatdoctor db upgrade` first", path=database_url
        ) from None
    except sa.exc.OperationalError as exc:
        raise DataError(f"cannot open the database ({exc.orig})", path=database_url) from None
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.created_at, table.c.id)).mappings().all()
    engine.dispose()
    for row in rows:
        if not (row["question"] or "").strip() or not (row["corrected"] or "").strip():
            continue
        meta = {
            "kind": "clinician_correction",
            "correction_id": str(row["id"]),
            "message_id": str(row["message_id"]),
            "original": row["original"],
            "note": row.get("note"),
            "rating": row.get("rating"),
            "created_at": str(row["created_at"]),
        }
        msgs = [Message("user", row["question"]), Message("assistant", row["corrected"])]
        yield InstructionRecord(
            msgs,
            source="clinician_corrections",
            id=f"correction-{row['id']}",
            license="internal: clinician corrections",
            meta=meta,
        )


def export(dst: Path, database_url: str | None = None) -> int:
    url = database_url or os.environ.get("CHATDOCTOR_DATABASE_URL") or DEFAULT_URL
    if "://" not in url:
        raise ConfigError(f"database_url: {url!r} is not a SQLAlchemy URL")
    return write_records(dst, read_corrections(url))
