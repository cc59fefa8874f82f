"""The openai backend against a real loopback OpenAI-compatible server (SSE streaming, faults)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from chatdoctor.backends import create_backend
from chatdoctor.config import ChatConfig
from chatdoctor.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError
from chatdoctor.types import GenParams, Message
from tests.openai_server import Fault

ASK = [Message("system", "You are a careful doctor."), Message("user", "I have a fever.")]
REPLY = "Rest, drink fluids and see a doctor if the fever lasts more than three days."


def make(server, **kw):
    cfg = {"backend": "openai", "base_url": server.base_url, "model": "tiny-test-model", "timeout": 2.0}
    cfg.update(kw)
    return create_backend(ChatConfig(**cfg))


def test_streams_the_reply_in_pieces_and_sends_an_openai_request(openai_server):
    openai_server.replies = [REPLY]
    deltas = list(
        make(openai_server).stream_chat(ASK, GenParams(max_new_tokens=100, temperature=0.3, top_k=5))
    )
    assert len([d for d in deltas if d.text]) > 5
    assert "".join(d.text for d in deltas) == REPLY
    assert deltas[-1].finish_reason == "stop"
    body = openai_server.requests[-1].body
    assert body["messages"] == [m.to_dict() for m in ASK]
    assert body["stream"] is True and body["max_tokens"] == 100 and body["model"] == "tiny-test-model"
    assert body["temperature"] == 0.3 and body["top_k"] == 5  # extras go in the body for vLLM/FastChat


def test_max_tokens_maps_to_length(openai_server):
    openai_server.replies = [REPLY]
    reply = make(openai_server).chat(ASK, GenParams(max_new_tokens=3))
    assert reply.text == "Rest, drink fluids" and reply.finish_reason == "length"


def test_stop_strings_are_sent_to_the_server(openai_server):
    openai_server.replies = [REPLY]
    reply = make(openai_server).chat(ASK, GenParams(stop=[" and"]))
    assert reply.text == "Rest, drink fluids"
    assert openai_server.requests[-1].body["stop"] == [" and"]


def test_cancel_closes_the_stream_and_ends_with_abort(openai_server):
    openai_server.replies = [REPLY]
    openai_server.chunk_delay = 0.05
    cancel = threading.Event()
    deltas = []
    for delta in make(openai_server).stream_chat(ASK, GenParams(), cancel):
        deltas.append(delta)
        if len(deltas) == 3:
            cancel.set()
    assert deltas[-1].finish_reason == "abort"
    assert 0 < len("".join(d.text for d in deltas)) < len(REPLY)
    deadline = time.monotonic() + 3
    while not openai_server.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert openai_server.disconnects == 1, "the server must see the client hang up"


def test_rate_limit_is_retried_with_backoff(openai_server):
    openai_server.replies = [REPLY]
    openai_server.fail(Fault(status=429, retry_after=0), Fault(status=503))
    reply = make(openai_server, max_retries=2).chat(ASK)
    assert reply.text == REPLY
    assert len(openai_server.requests) == 3


def test_server_errors_beyond_the_retries_raise_backend_error(openai_server):
    openai_server.fail(Fault(status=500), Fault(status=500))
    with pytest.raises(BackendError, match="HTTP 500"):
        make(openai_server, max_retries=1).chat(ASK)
    assert len(openai_server.requests) == 2


def test_server_down_raises_backend_unavailable_naming_the_url():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    backend = create_backend(ChatConfig(backend="openai", base_url=url, model="m", max_retries=0))
    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{port}"):
        backend.chat(ASK)


def test_slow_server_raises_backend_timeout(openai_server):
    openai_server.fail(Fault(delay=3))
    started = time.monotonic()
    with pytest.raises(BackendTimeout, match=r"did not answer within 0\.5s"):
        make(openai_server, timeout=0.5, max_retries=0).chat(ASK)
    assert time.monotonic() - started < 2.5


def test_stall_mid_stream_keeps_the_partial_text_and_ends_with_error(openai_server):
    openai_server.replies = [REPLY]
    openai_server.fail(Fault(stall_after=4))
    reply = make(openai_server, timeout=0.5, max_retries=0).chat(ASK)
    assert reply.finish_reason == "error" and "did not answer" in reply.error
    assert reply.text == "Rest, drink fluids"  # role chunk + 3 content chunks arrived


@pytest.mark.parametrize(
    "fault", [Fault(garbage=True), Fault(drop_after=0)], ids=["bad-json", "empty-stream"]
)
def test_malformed_response_raises_a_clear_backend_error(openai_server, fault):
    openai_server.fail(fault)
    with pytest.raises(BackendError, match="malformed response"):
        make(openai_server, max_retries=0).chat(ASK)


def test_unknown_model_is_backend_unavailable(openai_server):
    openai_server.fail(Fault(status=404))
    with pytest.raises(BackendUnavailable, match="does not serve model"):
        make(openai_server, max_retries=0).chat(ASK)


def test_count_tokens_needs_a_local_tokenizer(openai_server, tiny_tokenizer_dir):
    assert make(openai_server).count_tokens(ASK) is None
    counted = make(openai_server, tokenizer=str(tiny_tokenizer_dir), template="llama3").count_tokens(ASK)
    from transformers import AutoTokenizer

    from chatdoctor.templates import get_template, render

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    expected = len(tok(render(get_template("llama3"), ASK), add_special_tokens=False)["input_ids"])
    assert counted == expected


def test_missing_model_name_is_a_config_error(openai_server):
    with pytest.raises(ConfigError, match="served model name"):
        create_backend(ChatConfig(backend="openai", base_url=openai_server.base_url))
