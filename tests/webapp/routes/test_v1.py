"""The OpenAI-compatible API, driven by the official ``openai`` client against a real loopback server."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from chatdoctor.engine import ChatEngine, Grounding, TriageResult
from chatdoctor.errors import BackendUnavailable
from chatdoctor.types import Citation
from tests.webapp.conftest import ScriptedBackend, add_user

pytestmark = pytest.mark.postgres


def api_key(app, role: str = "patient") -> str:
    from webapp.services.api_keys import create_api_key

    user = add_user(app, role)
    with app.state.db.session() as session:
        return create_api_key(session=session, user=user, name="test")[1]


class OneFactGrounder:
    def ground(self, messages):
        fact = Citation("感冒", "symptom", "发热", "starter-kg", "r1")
        return Grounding(context="Facts: 感冒 has symptom 发热", citations=[fact])


class ChestPainGuard:
    def check_input(self, messages, audience):
        if "chest pain" in messages[-1].content:
            return TriageResult(level="emergency", category="cardiac", response="Call 120 now.", version="t1")
        return TriageResult(version="t1")

    def check_output(self, text, messages, audience):
        from chatdoctor.engine import OutputCheck

        return OutputCheck(text=text)


@pytest.fixture
def served(make_app, live_server):
    """(base_url, key, app) for an app with a grounder and guard around the scripted backend."""

    def build(backend=None, **settings):
        app = make_app(backend or ScriptedBackend(words=3), **settings)
        app.state.manager.engine = ChatEngine(
            backend=backend or ScriptedBackend(words=3), guard=ChestPainGuard(), grounder=OneFactGrounder()
        )
        return app

    return build


def test_models_lists_the_served_model(served, live_server):
    app = served()
    with live_server(app) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key(app))
        assert [m.id for m in client.models.list()] == ["scripted-model"]


def test_non_streaming_completion_has_text_usage_and_citations(served, live_server):
    app = served()
    with live_server(app) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key(app))
        r = client.chat.completions.create(
            model="scripted-model",
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "fever?"}],
        )
    assert r.choices[0].message.content == "Answer to fever?: w1 w2 w3"
    assert r.choices[0].finish_reason == "stop" and r.object == "chat.completion"
    assert r.usage.completion_tokens == 4 and r.usage.total_tokens == r.usage.prompt_tokens + 4
    assert r.model_extra["chatdoctor"]["citations"][0]["object"] == "发热"


def test_streaming_chunks_follow_openai_order_with_usage(served, live_server):
    app = served()
    with live_server(app) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key(app))
        chunks = list(
            client.chat.completions.create(
                model="scripted-model",
                messages=[{"role": "user", "content": "fever?"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Answer to fever?: w1 w2 w3"
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    assert len({c.id for c in chunks}) == 1


def test_raw_stream_ends_with_done_marker(served, live_server):
    app = served()
    with live_server(app) as server:
        r = httpx.post(
            f"{server.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {api_key(app)}"},
            json={"model": "scripted-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        )
    events = [line[6:] for line in r.text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and r.headers["content-type"].startswith("text/event-stream")
    assert json.loads(events[-2])["choices"][0]["delta"] == {}


def test_emergency_triage_answers_without_the_model_and_logs_a_safety_event(served, live_server):
    backend = ScriptedBackend()
    app = served(backend)
    with live_server(app) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key(app))
        r = client.chat.completions.create(
            model="scripted-model", messages=[{"role": "user", "content": "crushing chest pain"}]
        )
    assert r.choices[0].message.content == "Call 120 now."
    assert r.model_extra["chatdoctor"]["triage"]["level"] == "emergency"
    from sqlalchemy import select

    from webapp.models import SafetyEvent

    with app.state.db.session() as session:
        assert session.scalars(select(SafetyEvent.category)).all() == ["cardiac"]


def test_bad_key_unknown_model_and_bad_params_are_openai_errors(served, live_server):
    app = served()
    with live_server(app) as server:
        bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="cdk_wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key(app), max_retries=0)
        with pytest.raises(openai.NotFoundError) as err:
            client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "x"}])
        assert err.value.body["code"] == "model_not_found"
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(
                model="scripted-model", messages=[{"role": "user", "content": "x"}], temperature=5
            )
        assert err.value.body["param"] == "temperature"


def test_backend_down_is_503_and_mid_stream_failure_is_an_error_event(served, live_server):
    app = served(ScriptedBackend(raise_after=2, error=BackendUnavailable("model server unreachable")))
    with live_server(app) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key(app), max_retries=0)
        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(
                model="scripted-model", messages=[{"role": "user", "content": "x"}]
            )
        assert err.value.status_code == 503 and "unreachable" in err.value.message
        with pytest.raises(openai.APIError, match="unreachable"):
            list(
                client.chat.completions.create(
                    model="scripted-model", stream=True, messages=[{"role": "user", "content": "x"}]
                )
            )


def test_rate_limit_is_429_with_retry_after(served, live_server):
    app = served(rate_limit_per_minute=1)
    with live_server(app) as server:
        headers = {"Authorization": f"Bearer {api_key(app)}"}
        body = {"model": "scripted-model", "messages": [{"role": "user", "content": "x"}]}
        assert httpx.post(f"{server.url}/v1/chat/completions", headers=headers, json=body).status_code == 200
        r = httpx.post(f"{server.url}/v1/chat/completions", headers=headers, json=body)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["type"] == "rate_limit_error"


def test_client_closing_the_stream_cancels_the_backend(make_app, live_server):
    backend = ScriptedBackend(words=50, delay=0.05)
    app = make_app(backend)
    with live_server(app) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key(app))
        stream = client.chat.completions.create(
            model="scripted-model", stream=True, messages=[{"role": "user", "content": "long answer please"}]
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        stream.close()
        assert backend.cancelled.wait(5)
