"""Accounts: sign-up, sign-in, approval and roles."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatdoctor.errors import ChatDoctorError
from webapp.models import ROLES, User, utcnow
from webapp.security import hash_password, password_needs_rehash, verify_password
from webapp.services import audit


class AccountError(ChatDoctorError):
    """Sign-up or sign-in refused; the message is safe to show."""


def get_user(*, session: Session, user_id: uuid.UUID | str) -> User | None:
    try:
        return session.get(User, uuid.UUID(str(user_id)))
    except ValueError:
        return None


def get_by_email(*, session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    *,
    session: Session,
    email: str,
    password: str,
    role: str = "patient",
    name: str = "",
    approved: bool | None = None,
    actor: User | None = None,
) -> User:
    """A new account; clinicians (and admins) stay pending until approved unless ``approved`` says so."""
    email = email.strip().lower()
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 320:
        raise AccountError("enter a valid email address")
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    if get_by_email(session=session, email=email):
        raise AccountError("an account with this email already exists")
    user = User(
        email=email,
        name=name.strip()[:200],
        password_hash=hash_password(password),
        role=role,
        approved=(role == "patient") if approved is None else approved,
    )
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        action="user.create",
        actor=actor or user,
        resource_type="user",
        resource_id=user.id,
        details={"role": role},
    )
    return user


def authenticate(*, session: Session, email: str, password: str, context: dict | None = None) -> User:
    """The user for these credentials; failures are audited and raise ``AccountError``."""
    user = get_by_email(session=session, email=email)
    if user is None or not verify_password(password, user.password_hash):
        audit.record(
            session=session,
            action="auth.login",
            actor=user,
            resource_type="user",
            resource_id=user.id if user else None,
            outcome="failure",
            context=context,
        )
        raise AccountError("wrong email or password")
    if not user.is_active:
        raise AccountError("this account is disabled")
    if not user.approved:
        raise AccountError("this account is waiting for an administrator's approval")
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    audit.record(
        session=session,
        action="auth.login",
        actor=user,
        resource_type="user",
        resource_id=user.id,
        context=context,
    )
    return user


def approve_user(*, session: Session, user: User, actor: User, approved: bool = True) -> User:
    user.approved = approved
    audit.record(
        session=session,
        action="user.approve" if approved else "user.unapprove",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
    )
    return user


def set_role(*, session: Session, user: User, role: str, actor: User) -> User:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    old, user.role = user.role, role
    audit.record(
        session=session,
        action="user.role",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
        details={"from": old, "to": role},
    )
    return user


def set_active(*, session: Session, user: User, active: bool, actor: User) -> User:
    user.is_active = active
    audit.record(
        session=session,
        action="user.enable" if active else "user.disable",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
    )
    return user


def list_users(
    *, session: Session, pending_only: bool = False, role: str | None = None, offset: int = 0, limit: int = 50
) -> list[User]:
    query = select(User).order_by(User.created_at.desc()).offset(offset).limit(limit)
    if pending_only:
        query = query.where(User.approved.is_(False))
    if role:
        query = query.where(User.role == role)
    return list(session.scalars(query))


def count_users(*, session: Session) -> dict[str, int]:
    rows = session.execute(select(User.role, func.count()).group_by(User.role)).all()
    return {role: n for role, n in rows}
