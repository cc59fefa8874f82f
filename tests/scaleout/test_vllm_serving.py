"""Our exported model served by vLLM (CPU build): the exact trained prompt, unmerged LoRA, behind the web app."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.scaleout.conftest import TEMPLATE
from tests.webapp.conftest import message_row, wait_for
from tests.webapp.routes.test_messages import ask, new_conversation, parse_sse

pytestmark = pytest.mark.slow

QUESTION = "Doctor, I have had a dry cough and a mild fever for three days."
SYSTEM = "You are a careful doctor. Say when the patient must see a clinician in person."
CONVERSATIONS = {
    "single turn": [{"role": "user", "content": QUESTION}],
    "system prompt": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "My knee hurts after running. Should I rest it?"},
    ],
    "multi-turn with system prompt": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "I get headaches every afternoon."},
        {"role": "assistant", "content": "How long have they lasted, and do you drink enough water?"},
        {"role": "user", "content": "Two weeks. I drink coffee, not much water. 头痛 ☕"},
    ],
}


def _chat(served, model: str, content: str) -> dict:
    """A greedy, non-streamed chat completion straight from vLLM."""
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 24,
            "temperature": 0.0}  # fmt: skip
    r = httpx.post(f"{served.base_url}/chat/completions", json=body, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]


@pytest.mark.parametrize("case", list(CONVERSATIONS))
def test_vllm_prompt_equals_our_template_rendering_token_for_token(vllm_server, case):
    from transformers import AutoTokenizer

    from chatdoctor.templates import get_template, render

    messages = CONVERSATIONS[case]
    r = httpx.post(
        f"{vllm_server.root_url}/tokenize",
        json={"model": vllm_server.model, "messages": messages, "add_generation_prompt": True},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    tokenizer = AutoTokenizer.from_pretrained(vllm_server.run.export_dir)
    ours = tokenizer(render(get_template(TEMPLATE), messages), add_special_tokens=False)["input_ids"]
    assert r.json()["tokens"] == ours
    body = {"model": vllm_server.model, "messages": messages, "max_tokens": 1}
    completion = httpx.post(f"{vllm_server.base_url}/chat/completions", json=body, timeout=120)
    assert completion.json()["usage"]["prompt_tokens"] == len(ours), "a real request gets the same prompt"
    assert ours[0] == tokenizer.bos_token_id, "the template's BOS is sent exactly once"


def test_unmerged_lora_adapter_answers_differently_from_the_base(vllm_server):
    models = {m["id"]: m for m in httpx.get(f"{vllm_server.base_url}/models", timeout=30).json()["data"]}
    assert {vllm_server.model, vllm_server.adapter} <= set(models)
    assert models[vllm_server.adapter]["parent"] == vllm_server.model
    base, adapted = (_chat(vllm_server, m, QUESTION) for m in (vllm_server.model, vllm_server.adapter))
    assert base["message"]["content"] and adapted["message"]["content"]
    assert adapted["message"]["content"] != base["message"]["content"]
    again = _chat(vllm_server, vllm_server.adapter, QUESTION)
    assert again["message"]["content"] == adapted["message"]["content"], "greedy decoding is deterministic"


def test_vllm_serves_the_adapter_exactly_as_our_hf_backend_runs_it(vllm_server):
    from chatdoctor.backends import create_backend
    from chatdoctor.config import ChatConfig
    from chatdoctor.types import GenParams, Message

    run = vllm_server.run
    config = ChatConfig(backend="hf", model=str(run.export_dir), adapter=str(run.adapter_dir), template=TEMPLATE,
                        device="cpu", dtype="float32")  # fmt: skip
    backend = create_backend(config)
    try:
        ours = backend.chat([Message("user", QUESTION)], GenParams(max_new_tokens=24, temperature=0.0))
    finally:
        backend.close()
    served = _chat(vllm_server, vllm_server.adapter, QUESTION)["message"]["content"]
    assert ours.text.strip() == served.strip() != ""


@pytest.fixture
def app_on_vllm(vllm_server, make_settings, db_url):
    """The web app configured (settings only, no injected engine) with the ``openai`` backend on vLLM."""
    from webapp.app import create_app
    from webapp.db import make_engine
    from webapp.models import Base

    settings = make_settings(
        chat={"backend": "openai", "base_url": vllm_server.base_url, "model": vllm_server.model,
              "template": TEMPLATE, "tokenizer": str(vllm_server.run.export_dir), "context_window": 1024,
              "params": {"max_new_tokens": 24, "temperature": 0.0}},
        generation_timeout_s=120.0,
    )  # fmt: skip
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return create_app(settings)


def test_patient_gets_a_streamed_answer_from_vllm_through_the_web_app(app_on_vllm, vllm_server, actors):
    client = actors(app_on_vllm)["patient"].client
    turn = ask(client, new_conversation(client), "I have had a mild headache for two days. What can I do?")
    events = parse_sse(client.get(turn["stream_url"]).text)
    streamed = "".join(d["text"] for e, d, _ in events if e == "delta")
    assert sum(e == "delta" for e, _, _ in events) >= 2 and streamed.strip(), f"streamed in pieces: {events}"
    kind, done, _ = events[-1]
    assert kind == "done" and done["status"] == "done", events[-1]
    row = message_row(app_on_vllm, turn["assistant_message"]["id"])
    assert row.status == "done" and row.content == done["text"]
    assert row.content.startswith(streamed), "the stored answer is the streamed text (plus the safety footer)"
    assert row.model == vllm_server.model and row.finish_reason in ("stop", "length")
    assert row.completion_tokens and row.prompt_tokens, "token counts are recorded"


def test_admin_page_names_the_openai_backend_base_url_and_model(app_on_vllm, vllm_server, actors):
    people = actors(app_on_vllm)
    wait_for(lambda: people["anonymous"].client.get("/readyz").status_code == 200, timeout=60)
    described = app_on_vllm.state.manager.engine.backend.describe()
    assert described == {"backend": "openai", "model": vllm_server.model, "base_url": vllm_server.base_url}
    page = people["admin"].client.get("/admin/backend")
    assert page.status_code == 200
    for value in described.values():
        assert f"<dd>{value}</dd>" in page.text
    assert people["patient"].client.get("/admin/backend").status_code == 403


def test_serve_vllm_dry_run_prints_the_template_and_lora_flags(trained_run):
    from chatdoctor.cli import app

    run = trained_run
    result = CliRunner().invoke(
        app, ["serve-vllm", str(run.export_dir), "--lora", f"med={run.adapter_dir}", "--tp", "2",
              "--python", "/opt/vllm/bin/python", "--dry-run"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cmd = shlex.split(result.output)
    assert cmd[:3] == ["/opt/vllm/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    template = cmd[cmd.index("--chat-template") + 1]
    assert template == str(run.export_dir / "chat_template.jinja")
    from chatdoctor.templates import get_template, to_jinja

    assert Path(template).read_text(encoding="utf-8") == to_jinja(get_template(TEMPLATE))
    assert cmd[cmd.index("--lora-modules") + 1] == f"med={run.adapter_dir}"
    assert "--enable-lora" in cmd and cmd[cmd.index("--tensor-parallel-size") + 1] == "2"
    config = json.loads((run.export_dir / "config.json").read_text())
    assert config["hidden_size"] // config["num_attention_heads"] == 64, (
        "vLLM's CPU attention needs head_dim 64"
    )
