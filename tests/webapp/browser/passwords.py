"""Argon2 at its production cost takes seconds per hash on a loaded 2-core CI box; page tests create many
users with the same few passwords, so each distinct password is hashed once (a real argon2 hash) and reused."""

from __future__ import annotations

import pytest

_HASHES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def reuse_password_hashes(monkeypatch):
    """Patch the users service to reuse one real argon2 hash per password."""
    from webapp.security import hash_password
    from webapp.services import users

    def cached(password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = hash_password(password)
        return _HASHES[password]

    monkeypatch.setattr(users, "hash_password", cached)
