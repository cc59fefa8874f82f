"""Posting a turn, streaming it over SSE, stop, regenerate, limits: through the real routes."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from tests.webapp.conftest import ScriptedBackend, message_row, wait_for

pytestmark = pytest.mark.postgres


def parse_sse(body: str) -> list[tuple[str, dict, str | None]]:
    """``[(event, data, id)]`` of an SSE body (comments skipped)."""
    out = []
    for block in body.strip().split("\n\n"):
        event, data, event_id = "message", None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line.startswith("id: "):
                event_id = line[4:]
        if data is not None:
            out.append((event, data, event_id))
    return out


def ask(client, conversation_id, content="headache and fever"):
    r = client.post(f"/conversations/{conversation_id}/messages", json={"content": content})
    assert r.status_code == 201, r.text
    return r.json()


def new_conversation(client) -> str:
    r = client.post("/conversations", json={"title": "t"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_posted_question_streams_answer_and_stores_it_done(make_app, actors):
    app = make_app(ScriptedBackend(words=5))
    client = actors(app)["patient"].client
    turn = ask(client, new_conversation(client))
    assert turn["assistant_message"]["status"] == "pending"
    events = parse_sse(client.get(turn["stream_url"]).text)
    text = "".join(d["text"] for e, d, _ in events if e == "delta")
    assert text == "Answer to headache and fever: w1 w2 w3 w4 w5"
    assert events[-1][0] == "done" and events[-1][1]["status"] == "done"
    row = message_row(app, turn["assistant_message"]["id"])
    assert (row.status, row.content, row.finish_reason) == ("done", text, "stop")
    assert row.completion_tokens == 6 and row.latency_ms is not None and row.model == "scripted-model"


def test_history_of_the_branch_reaches_the_model(make_app, actors):
    backend = ScriptedBackend(words=1)
    app = make_app(backend)
    client = actors(app)["patient"].client
    cid = new_conversation(client)
    first = ask(client, cid, "first question")
    client.get(first["stream_url"])
    second = ask(client, cid, "second question")
    client.get(second["stream_url"])
    assert [m.content for m in backend.calls[-1]] == [
        "first question",
        "Answer to first question: w1",
        "second question",
    ]


def test_stream_replays_from_last_event_id_without_duplicates(make_app, actors):
    app = make_app(ScriptedBackend(words=4))
    client = actors(app)["patient"].client
    turn = ask(client, new_conversation(client))
    full = "".join(d["text"] for e, d, _ in parse_sse(client.get(turn["stream_url"]).text) if e == "delta")
    again = parse_sse(client.get(turn["stream_url"], headers={"Last-Event-ID": "10"}).text)
    deltas = [d for e, d, _ in again if e == "delta"]
    assert deltas == [{"start": 10, "text": full[10:]}]


def test_stop_cancels_the_backend_and_keeps_partial_text(make_app, actors):
    gate = threading.Event()
    backend = ScriptedBackend(words=6, gate=gate, gate_after=3)
    app = make_app(backend)
    client = actors(app)["patient"].client
    turn = ask(client, new_conversation(client))
    mid = turn["assistant_message"]["id"]
    wait_for(lambda: message_row(app, mid).content.endswith("w2"))
    r = client.post(f"/messages/{mid}/stop")
    assert r.status_code == 200 and r.json()["stopped"] is True
    events = parse_sse(client.get(turn["stream_url"]).text)
    assert backend.cancelled.wait(5)
    row = wait_for(lambda: (m := message_row(app, mid)).status == "stopped" and m)
    assert row.content == "Answer to headache and fever: w1 w2" and row.finish_reason == "abort"
    assert events[-1][1]["status"] == "stopped"


def test_stop_by_another_user_is_not_found_and_generation_continues(make_app, actors):
    gate = threading.Event()
    app = make_app(ScriptedBackend(words=3, gate=gate, gate_after=1))
    people = actors(app)
    client = people["patient"].client
    turn = ask(client, new_conversation(client))
    mid = turn["assistant_message"]["id"]
    for other in ("other_patient", "clinician", "admin"):
        assert people[other].client.post(f"/messages/{mid}/stop").status_code == 404
    gate.set()
    wait_for(lambda: message_row(app, mid).status == "done")


def test_second_question_while_answering_is_429_with_retry_after(make_app, actors):
    gate = threading.Event()
    app = make_app(ScriptedBackend(gate=gate, gate_after=1))
    client = actors(app)["patient"].client
    cid = new_conversation(client)
    ask(client, cid)
    r = client.post(f"/conversations/{cid}/messages", json={"content": "again"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "generation_in_progress"
    gate.set()


def test_rate_limit_per_user_is_429_with_retry_after(make_app, actors):
    app = make_app(ScriptedBackend(words=1), rate_limit_per_minute=2)
    client = actors(app)["patient"].client
    cid = new_conversation(client)
    for _ in range(2):
        client.get(ask(client, cid)["stream_url"])
    r = client.post(f"/conversations/{cid}/messages", json={"content": "third"})
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60


def test_regenerate_adds_a_sibling_and_keeps_the_old_answer(make_app, actors):
    app = make_app(ScriptedBackend(words=2))
    client = actors(app)["patient"].client
    cid = new_conversation(client)
    first = ask(client, cid)
    client.get(first["stream_url"])
    r = client.post(f"/messages/{first['assistant_message']['id']}/regenerate")
    assert r.status_code == 201
    second = r.json()
    client.get(second["stream_url"])
    thread = client.get(f"/conversations/{cid}/messages").json()
    assert second["assistant_message"]["parent_id"] == first["user_message"]["id"]
    assert [m["id"] for m in thread] == [first["user_message"]["id"], second["assistant_message"]["id"]]
    assert message_row(app, first["assistant_message"]["id"]).status == "done"


def test_message_over_the_size_limit_is_refused(make_app, actors):
    app = make_app(max_message_chars=20)
    client = actors(app)["patient"].client
    r = client.post(f"/conversations/{new_conversation(client)}/messages", json={"content": "x" * 21})
    assert r.status_code == 400 and r.json()["error"]["code"] == "message_too_long"


def test_post_without_csrf_token_is_refused(make_app, actors):
    app = make_app()
    client = actors(app)["patient"].client
    cid = new_conversation(client)
    del client.headers["X-CSRF-Token"]
    r = client.post(f"/conversations/{cid}/messages", json={"content": "hi"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"


def test_closing_the_stream_does_not_stop_generation(make_app, actors, live_server):
    app = make_app(ScriptedBackend(words=6, delay=0.05))
    people = actors(app, lifespan=False)
    with live_server(app) as server:
        cookies = dict(people["patient"].client.cookies)
        headers = dict(people["patient"].client.headers)
        with httpx.Client(base_url=server.url, cookies=cookies, headers=headers, timeout=10) as client:
            turn = ask(client, new_conversation(client))
            with client.stream("GET", turn["stream_url"]) as r:
                for line in r.iter_lines():
                    if line.startswith("event: delta"):
                        break  # the tab closes after the first delta
            mid = turn["assistant_message"]["id"]
            row = wait_for(lambda: (m := message_row(app, mid)).status == "done" and m)
    assert row.content.endswith("w6")


def test_quiet_stream_sends_keep_alive_comments(make_app, actors, live_server):
    gate = threading.Event()
    app = make_app(ScriptedBackend(words=2, gate=gate, gate_after=1), keepalive_s=0.2)
    people = actors(app, lifespan=False)
    with live_server(app) as server:
        patient = people["patient"].client
        with httpx.Client(
            base_url=server.url, cookies=dict(patient.cookies), headers=dict(patient.headers), timeout=10
        ) as client:
            turn = ask(client, new_conversation(client))
            with client.stream("GET", turn["stream_url"]) as r:
                assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
                lines = []
                for line in r.iter_lines():
                    lines.append(line)
                    if line == ": keep-alive":
                        break
            gate.set()
            wait_for(lambda: message_row(app, turn["assistant_message"]["id"]).status == "done")
    assert lines[-1] == ": keep-alive"
