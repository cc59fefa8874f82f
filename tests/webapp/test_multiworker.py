"""Two worker processes' apps over one database and Redis: follow and stop an answer from the other worker."""

from __future__ import annotations

import threading

import pytest
import redis
from fastapi.testclient import TestClient

from tests.webapp.conftest import ScriptedBackend, add_user, message_row, sign_in, wait_for
from tests.webapp.routes.test_messages import ask, new_conversation, parse_sse

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.mark.postgres
def test_answer_generated_on_one_worker_streams_and_stops_from_another(make_app, redis_url):
    gate = threading.Event()
    backend = ScriptedBackend(words=4, gate=gate, gate_after=3)
    worker_a = make_app(backend, redis_url=redis_url)
    worker_b = make_app(ScriptedBackend(), redis_url=redis_url)
    patient = add_user(worker_a, "patient")
    with TestClient(worker_a) as a:
        sign_in(worker_a, a, patient)
        turn = ask(a, new_conversation(a))
        mid = turn["assistant_message"]["id"]
        wait_for(lambda: message_row(worker_a, mid).status == "streaming")
        with TestClient(worker_b) as b:  # starts while A generates: A's answer is not "interrupted"
            sign_in(worker_b, b, patient)
            assert message_row(worker_b, mid).status == "streaming"
            got: dict = {}
            follower = threading.Thread(
                target=lambda: got.setdefault("events", parse_sse(b.get(turn["stream_url"]).text))
            )
            follower.start()
            wait_for(lambda: worker_b.state.broker.snapshot(mid) is not None)
            r = b.post(f"/messages/{mid}/stop")
            assert r.status_code == 200
            assert backend.cancelled.wait(5)
            follower.join(10)
    events = got["events"]
    text = "".join(d["text"] for e, d, _ in events if e == "delta")
    assert text == "Answer to headache and fever: w1 w2"
    assert events[-1][0] == "done" and events[-1][1]["status"] == "stopped"
    assert message_row(worker_a, mid).content == text
