"""The audit trail is hash-chained: any edit or deletion of a past row is detected."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from tests.webapp.conftest import add_user
from webapp.models import AuditEvent
from webapp.services import audit

pytestmark = pytest.mark.postgres


def test_chain_verifies_then_detects_an_edited_row(make_app):
    app = make_app()
    admin = add_user(app, "admin")
    with app.state.db.session() as session:
        for i in range(3):
            audit.record(
                session=session,
                action="conversation.view",
                actor=admin,
                resource_type="conversation",
                resource_id=str(i),
                reason="review",
            )
        assert audit.verify_chain(session=session) is None
        target = audit.list_events(session=session, action="conversation.view")[1]
        session.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(reason="nothing to see"))
        session.commit()
        assert audit.verify_chain(session=session) == target.id


def test_chain_detects_a_deleted_row(make_app):
    app = make_app()
    user = add_user(app, "patient")
    with app.state.db.session() as session:
        for action in ("a", "b", "c"):
            audit.record(session=session, action=action, actor=user)
        middle = audit.list_events(session=session, action="b")[0]
        session.execute(delete(AuditEvent).where(AuditEvent.id == middle.id))
        session.commit()
        assert audit.verify_chain(session=session) == middle.id + 1
