"""Passwords (argon2), the signed session cookie, CSRF tokens, API-key hashing and per-user rate limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "chatdoctor_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
API_KEY_PREFIX = "cdk_"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


class SessionSigner:
    """Signs the session cookie: ``{"uid": user id, "sid": random per sign-in}``."""

    def __init__(self, secret: str, max_age_s: int, secure: bool = False) -> None:
        self._secret = secret
        self._serializer = URLSafeTimedSerializer(secret, salt="chatdoctor.session")
        self.max_age_s = max_age_s
        self.secure = secure

    def issue(self, response: Response, user_id: str) -> str:
        """Set the HttpOnly SameSite=Lax cookie and return its value."""
        value = self._serializer.dumps({"uid": str(user_id), "sid": secrets.token_urlsafe(16)})
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=self.max_age_s,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )
        return value

    def cookie_value(self, user_id: str) -> str:
        """A cookie value for ``user_id`` (tests and the benchmark sign in with it)."""
        return self._serializer.dumps({"uid": str(user_id), "sid": secrets.token_urlsafe(16)})

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def read(self, request: Request) -> dict[str, Any] | None:
        """The session payload, or None when absent, forged or expired."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self.max_age_s)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and "uid" in data and "sid" in data else None

    def csrf_token(self, session: dict[str, Any] | None) -> str:
        """The CSRF token bound to this sign-in (empty when signed out)."""
        if not session:
            return ""
        return hmac.new(self._secret.encode(), f"csrf:{session['sid']}".encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session: dict[str, Any] | None, token: str | None) -> bool:
        expected = self.csrf_token(session)
        return bool(expected and token) and hmac.compare_digest(expected, token or "")


def generate_api_key() -> tuple[str, str]:
    """A new API key and its display prefix; only the hash is stored."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12]


def hash_api_key(key: str) -> str:
    # Keys are 256-bit random: a plain SHA-256 is enough (no dictionary to attack).
    return hashlib.sha256(key.encode()).hexdigest()


class RateLimiter:
    """At most ``limit`` hits per ``window_s`` per key: in memory, or in Redis across workers."""

    def __init__(self, limit: int, window_s: float = 60.0, redis_url: str | None = None) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)

    def hit(self, key: str) -> float | None:
        """Count a hit; return seconds to wait when over the limit (the hit is not counted then)."""
        if self._redis is not None:
            return self._hit_redis(key)
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window_s - now, 1.0)
            hits.append(now)
        return None

    def _hit_redis(self, key: str) -> float | None:
        window = int(time.time() // self.window_s)
        name = f"chatdoctor:rate:{key}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, int(self.window_s) + 1)
        count, _ = pipe.execute()
        if count > self.limit:
            return max((window + 1) * self.window_s - time.time(), 1.0)
        return None
