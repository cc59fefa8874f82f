"""API keys for ``/v1``: shown once at creation, stored hashed, revocable."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import ApiKey, User, utcnow
from webapp.security import generate_api_key, hash_api_key
from webapp.services import audit


def create_api_key(*, session: Session, user: User, name: str = "") -> tuple[ApiKey, str]:
    """The stored key row and the plain key (never retrievable again)."""
    plain, prefix = generate_api_key()
    key = ApiKey(user_id=user.id, name=name.strip()[:100], prefix=prefix, key_hash=hash_api_key(plain))
    session.add(key)
    session.flush()
    audit.record(
        session=session, action="api_key.create", actor=user, resource_type="api_key", resource_id=key.id
    )
    return key, plain


def user_for_key(*, session: Session, plain: str) -> User | None:
    """The active, approved owner of a valid, unrevoked key; touches ``last_used_at``."""
    key = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_api_key(plain), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        return None
    user = session.get(User, key.user_id)
    if user is None or not user.is_active or not user.approved:
        return None
    key.last_used_at = utcnow()
    session.commit()
    return user


def list_api_keys(*, session: Session, user: User) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at)))


def revoke_api_key(*, session: Session, key_id: uuid.UUID, user: User) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None or (key.user_id != user.id and user.role != "admin"):
        return False
    key.revoked_at = utcnow()
    audit.record(
        session=session, action="api_key.revoke", actor=user, resource_type="api_key", resource_id=key.id
    )
    return True
