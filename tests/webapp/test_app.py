"""Settings, health, metrics, request ids and the error shapes."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from chatdoctor.errors import ConfigError
from tests.webapp.conftest import ScriptedBackend, wait_for
from webapp.settings import Settings


def test_placeholder_secret_is_refused_outside_development(tmp_path):
    with pytest.raises(ConfigError, match="placeholder"):
        Settings(secret_key="changethis", environment="production", data_dir=tmp_path).resolved_secret()
    assert Settings(secret_key="changethis", data_dir=tmp_path).resolved_secret() == "changethis"


def test_empty_secret_is_generated_once_and_kept(tmp_path):
    first = Settings(data_dir=tmp_path).resolved_secret()
    assert len(first) >= 32 and Settings(data_dir=tmp_path).resolved_secret() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_settings_read_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CHATDOCTOR_DATABASE_URL", "postgresql+psycopg://db/x")
    monkeypatch.setenv("CHATDOCTOR_CHAT", '{"backend": "openai", "base_url": "http://127.0.0.1:9/v1"}')
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://db/x"
    assert settings.chat_settings().backend == "openai"


def test_unknown_chat_setting_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="bakend"):
        Settings(chat={"bakend": "hf"}).chat_settings()


def test_app_refuses_an_unmigrated_database(make_settings):
    from webapp.app import create_app

    app = create_app(make_settings())
    with pytest.raises(ConfigError, match="chatdoctor db upgrade"), TestClient(app):
        pass


def test_health_ready_and_metrics(make_app, actors):
    app = make_app(ScriptedBackend(words=2))
    client = actors(app)["patient"].client
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "model": "ok"}
    cid = client.post("/conversations", json={}).json()["id"]
    turn = client.post(f"/conversations/{cid}/messages", json={"content": "hi"}).json()
    client.get(turn["stream_url"])
    text = client.get("/metrics").text
    for name in (
        "chatdoctor_http_requests_total",
        "chatdoctor_generation_queue_length",
        "chatdoctor_time_to_first_token_seconds_count",
        "chatdoctor_tokens_per_second_bucket",
        'chatdoctor_generations_total{status="done"} 1.0',
    ):
        assert name in text


def test_not_ready_when_the_configured_backend_fails_to_load(make_app, make_settings):
    from webapp.app import create_app

    make_app()  # creates the tables
    app = create_app(make_settings(chat={"backend": "no-such-backend"}))
    with TestClient(app) as client:
        wait_for(lambda: not app.state.manager.loading)
        r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["model"].startswith("error")


def test_request_id_is_echoed_and_logged_without_content(make_app, actors, caplog):
    app = make_app(ScriptedBackend(words=1))
    client = actors(app)["patient"].client
    cid = client.post("/conversations", json={}).json()["id"]
    with caplog.at_level(logging.INFO, logger="chatdoctor"):
        r = client.post(
            f"/conversations/{cid}/messages",
            json={"content": "my secret symptom"},
            headers={"X-Request-ID": "req-42"},
        )
        client.get(r.json()["stream_url"])
    assert r.headers["x-request-id"] == "req-42"
    lines = [rec for rec in caplog.records if getattr(rec, "request_id", None) == "req-42"]
    assert lines and lines[0].route == "/conversations/{conversation_id}/messages" and lines[0].status == 201
    assert all("secret symptom" not in (rec.getMessage() + str(rec.__dict__)) for rec in caplog.records)


def test_oversized_body_is_413_before_reaching_routes(make_app, actors):
    app = make_app(max_body_bytes=2048)
    client = actors(app)["patient"].client
    r = client.post("/conversations", content=b"x" * 4096, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_unknown_page_is_html_for_browsers_and_json_for_api_clients(make_app, actors):
    app = make_app()
    client = actors(app)["anonymous"].client
    html = client.get("/no/such/page", headers={"accept": "text/html"})
    assert html.status_code == 404 and html.headers["content-type"].startswith("text/html")
    api = client.get("/v1/no-such")
    assert api.status_code == 404 and set(api.json()["error"]) == {"message", "type", "param", "code"}


def test_responses_carry_security_headers(make_app, actors):
    app = make_app()
    r = actors(app)["anonymous"].client.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
