"""Password hashing, session cookies, CSRF binding and the rate limiter (in memory and in Redis)."""

from __future__ import annotations

import uuid

import pytest
import redis
from starlette.requests import Request
from starlette.responses import Response

from webapp.security import SESSION_COOKIE, RateLimiter, SessionSigner, hash_password, verify_password


def request_with_cookie(value: str | None) -> Request:
    headers = [(b"cookie", f"{SESSION_COOKIE}={value}".encode())] if value else []
    return Request({"type": "http", "headers": headers})


def test_password_hash_verifies_only_the_right_password():
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2") and "correct" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("wrong", stored) and not verify_password("x", "not-a-hash")


def test_session_cookie_is_httponly_lax_and_tamper_proof():
    signer = SessionSigner("s" * 32, max_age_s=3600)
    response = Response()
    value = signer.issue(response, "user-1")
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header
    assert signer.read(request_with_cookie(value))["uid"] == "user-1"
    assert signer.read(request_with_cookie(value[:-2] + "xx")) is None
    assert SessionSigner("t" * 32, 3600).read(request_with_cookie(value)) is None


def test_csrf_token_is_bound_to_one_sign_in():
    signer = SessionSigner("s" * 32, max_age_s=3600)
    one = signer.read(request_with_cookie(signer.cookie_value("u")))
    two = signer.read(request_with_cookie(signer.cookie_value("u")))
    assert signer.check_csrf(one, signer.csrf_token(one))
    assert not signer.check_csrf(two, signer.csrf_token(one)) and not signer.check_csrf(one, None)


def test_memory_rate_limiter_refuses_over_the_limit_with_a_wait():
    limiter = RateLimiter(2, window_s=60)
    assert limiter.hit("u") is None and limiter.hit("u") is None
    wait = limiter.hit("u")
    assert wait is not None and 1 <= wait <= 60
    assert limiter.hit("other") is None


def test_redis_rate_limiter_counts_across_instances():
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis not reachable")
    key = f"test-{uuid.uuid4().hex}"
    first, second = RateLimiter(2, 60, url), RateLimiter(2, 60, url)  # two worker processes
    assert first.hit(key) is None and second.hit(key) is None
    assert first.hit(key) is not None
