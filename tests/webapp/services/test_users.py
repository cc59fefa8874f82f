"""Accounts: sign-up rules, approval, sign-in auditing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.models import AuditEvent
from webapp.services import api_keys, users

pytestmark = pytest.mark.postgres


@pytest.fixture
def session(make_app):
    app = make_app()
    with app.state.db.session() as s:
        yield s


def test_patients_are_active_at_once_and_clinicians_wait_for_approval(session):
    patient = users.create_user(session=session, email="P@Example.org", password="long enough pw")
    clinician = users.create_user(
        session=session, email="c@example.org", password="long enough pw", role="clinician"
    )
    assert patient.email == "p@example.org" and patient.approved and not clinician.approved
    with pytest.raises(users.AccountError, match="waiting for an administrator"):
        users.authenticate(session=session, email="c@example.org", password="long enough pw")
    admin = users.create_user(
        session=session, email="a@example.org", password="long enough pw", role="admin", approved=True
    )
    users.approve_user(session=session, user=clinician, actor=admin)
    assert (
        users.authenticate(session=session, email="c@example.org", password="long enough pw").id
        == clinician.id
    )


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("no-at-sign", "long enough pw", "valid email"),
        ("x@example.org", "short", "at least 8"),
    ],
)
def test_bad_sign_up_is_refused_with_a_clear_message(session, email, password, message):
    with pytest.raises(users.AccountError, match=message):
        users.create_user(session=session, email=email, password=password)


def test_duplicate_email_is_refused(session):
    users.create_user(session=session, email="x@example.org", password="long enough pw")
    with pytest.raises(users.AccountError, match="already exists"):
        users.create_user(session=session, email="X@example.org", password="long enough pw")


def test_failed_sign_in_is_audited_without_the_password(session):
    users.create_user(session=session, email="x@example.org", password="long enough pw")
    with pytest.raises(users.AccountError, match="wrong email or password"):
        users.authenticate(
            session=session,
            email="x@example.org",
            password="guess-123",
            context={"ip": "10.0.0.1", "user_agent": "t", "request_id": "r1"},
        )
    event = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "failure")).one()
    assert (event.action, event.ip, event.request_id) == ("auth.login", "10.0.0.1", "r1")
    assert "guess" not in str(event.details)


def test_api_key_is_stored_hashed_and_stops_working_when_revoked(session):
    user = users.create_user(session=session, email="x@example.org", password="long enough pw")
    key, plain = api_keys.create_api_key(session=session, user=user, name="ci")
    assert (
        plain.startswith("cdk_") and plain not in (key.key_hash, key.prefix) and plain.startswith(key.prefix)
    )
    assert api_keys.user_for_key(session=session, plain=plain).id == user.id
    assert api_keys.revoke_api_key(session=session, key_id=key.id, user=user)
    assert api_keys.user_for_key(session=session, plain=plain) is None
