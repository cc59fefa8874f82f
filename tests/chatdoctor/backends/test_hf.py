"""The hf backend on the tiny LLaMA and GLM: loading, adapters, streaming, stop, cancel, max tokens."""

from __future__ import annotations

import threading

import pytest

from chatdoctor.backends import create_backend
from chatdoctor.config import ChatConfig
from chatdoctor.errors import BackendUnavailable, ConfigError
from chatdoctor.templates import get_template, render
from chatdoctor.types import GenParams, Message

ASK = [Message("user", "感冒的症状有哪些？")]


@pytest.fixture(params=["llama", "glm"])
def backend(request, llama_backend, glm_backend):
    return llama_backend if request.param == "llama" else glm_backend


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory, tiny_llama_dir):
    """A LoRA adapter with non-zero weights on the tiny LLaMA, saved like a training run saves it."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("lora")
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    cfg = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, cfg).save_pretrained(out)
    (out / "config.yaml").write_text("template: alpaca\n", encoding="utf-8")
    return out


def test_templates_are_inferred_from_the_model_family(llama_backend, glm_backend):
    assert llama_backend.describe()["template"] == "llama2"
    assert glm_backend.describe()["template"] == "glm4"
    assert llama_backend.describe()["device"] == "cpu"


def test_stream_yields_text_pieces_and_ends_with_a_finish_reason(backend):
    deltas = list(backend.stream_chat(ASK, GenParams(max_new_tokens=16)))
    texts = [d.text for d in deltas if d.text]
    assert len(texts) >= 2, "text must arrive in pieces, not at the end"
    assert all(d.finish_reason is None for d in deltas[:-1])
    assert deltas[-1].finish_reason in ("stop", "length")
    assert "".join(texts) == backend.chat(ASK, GenParams(max_new_tokens=16)).text  # greedy is deterministic


def test_generation_runs_on_a_worker_thread(llama_backend):
    stream = llama_backend.stream_chat(ASK, GenParams(max_new_tokens=32))
    next(stream)
    assert any(t.name == "chatdoctor-hf-generate" and t.is_alive() for t in threading.enumerate())
    stream.close()  # the caller walks away: generation stops and the worker ends
    assert not any(t.name == "chatdoctor-hf-generate" for t in threading.enumerate())


def test_max_new_tokens_ends_with_length(backend):
    reply = backend.chat(ASK, GenParams(max_new_tokens=4))
    assert reply.finish_reason == "length"
    longer = backend.chat(ASK, GenParams(max_new_tokens=12)).text
    assert longer.startswith(reply.text.rstrip("\ufffd")) and len(longer) > len(reply.text)


def test_cancel_event_stops_generation_with_abort_and_keeps_partial_text(backend):
    cancel = threading.Event()
    deltas = []
    for delta in backend.stream_chat(ASK, GenParams(max_new_tokens=400), cancel):
        deltas.append(delta)
        if len(deltas) == 2:
            cancel.set()
    assert deltas[-1].finish_reason == "abort"
    text = "".join(d.text for d in deltas)
    assert text and len(deltas) < 20, "generation must stop within a token or two of the request"


def test_stop_string_cuts_the_reply_before_it(llama_backend):
    full = llama_backend.chat(ASK, GenParams(max_new_tokens=12)).text
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    reply = llama_backend.chat(ASK, GenParams(max_new_tokens=12, stop=[stop]))
    assert reply.text == full[: full.index(stop)]
    assert reply.finish_reason == "stop"


def test_count_tokens_uses_the_real_tokenizer_over_the_rendered_template(llama_backend, glm_backend):
    for backend in (llama_backend, glm_backend):
        text = render(get_template(backend.template_name), ASK)
        assert backend.count_tokens(ASK) == len(
            backend.tokenizer(text, add_special_tokens=False)["input_ids"]
        )
    assert llama_backend.context_window == 512  # the tiny model's max_position_embeddings


def test_glm_stops_on_its_role_tokens(glm_backend):
    tok = glm_backend.tokenizer
    for stop in ("<|user|>", "<|observation|>", "<|endoftext|>"):
        assert tok.convert_tokens_to_ids(stop) in glm_backend._stop_ids


def test_lora_adapter_changes_the_output_and_brings_its_template(lora_dir, tiny_llama_dir, llama_backend):
    adapted = create_backend(ChatConfig(backend="hf", model=str(tiny_llama_dir), adapter=str(lora_dir)))
    try:
        assert adapted.describe()["adapter"] == str(lora_dir)
        assert adapted.template_name == "alpaca"  # from the adapter dir's config.yaml
        same_prompt = ChatConfig(backend="hf", model=str(tiny_llama_dir), template="alpaca")
        base = create_backend(same_prompt)
        params = GenParams(max_new_tokens=12)
        assert adapted.chat(ASK, params).text != base.chat(ASK, params).text
        base.close()
    finally:
        adapted.close()


def test_adapter_alone_finds_its_base_model(lora_dir, tiny_llama_dir):
    backend = create_backend(ChatConfig(backend="hf", adapter=str(lora_dir), context_window=128))
    try:
        assert backend.describe()["model"] == str(tiny_llama_dir)
        assert backend.context_window == 128  # the config overrides the model's 512
    finally:
        backend.close()


@pytest.fixture(scope="module")
def prefix_dir(tmp_path_factory, tiny_llama_dir):
    from peft import PrefixTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("prefix")
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    get_peft_model(model, PrefixTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM")).save_pretrained(
        out
    )
    return out


def test_prefix_tuning_adapter_loads_and_streams(prefix_dir, tiny_llama_dir):
    backend = create_backend(ChatConfig(backend="hf", model=str(tiny_llama_dir), adapter=str(prefix_dir)))
    try:
        reply = backend.chat(ASK, GenParams(max_new_tokens=6))
        assert reply.text and reply.finish_reason == "length"
        assert backend.describe()["adapter"] == str(prefix_dir)
    finally:
        backend.close()


@pytest.mark.xfail(
    strict=True,
    reason="upstream: peft 0.21 passes the prefix as past_key_values, transformers 5.x generate() ignores it "
    "in favour of its own cache; the forward pass does use it. Remove this mark when it passes.",
)
def test_prefix_tuning_adapter_changes_generated_output(prefix_dir, tiny_llama_dir, llama_backend):
    backend = create_backend(ChatConfig(backend="hf", model=str(tiny_llama_dir), adapter=str(prefix_dir)))
    try:
        params = GenParams(max_new_tokens=8)
        assert backend.chat(ASK, params).text != llama_backend.chat(ASK, params).text
    finally:
        backend.close()


def test_missing_model_dir_is_backend_unavailable_naming_the_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(BackendUnavailable, match="no-such-model"):
        create_backend(ChatConfig(backend="hf", model=str(missing)))


def test_missing_adapter_dir_is_backend_unavailable_naming_the_path(tmp_path, tiny_llama_dir):
    with pytest.raises(BackendUnavailable, match="no-adapter"):
        create_backend(
            ChatConfig(backend="hf", model=str(tiny_llama_dir), adapter=str(tmp_path / "no-adapter"))
        )


def test_quantized_loading_on_cpu_is_a_clear_config_error(tiny_llama_dir):
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        create_backend(ChatConfig(backend="hf", model=str(tiny_llama_dir), device="cpu", load_in_4bit=True))


def test_unknown_template_in_config_lists_the_known_ones(tiny_llama_dir):
    from chatdoctor.errors import RegistryError

    with pytest.raises(RegistryError, match="llama3"):
        create_backend(ChatConfig(backend="hf", model=str(tiny_llama_dir), template="llama-3"))


def test_max_new_tokens_is_clamped_to_the_context_window(llama_backend, monkeypatch):
    prompt = llama_backend.count_tokens(ASK)
    monkeypatch.setattr(llama_backend.config, "context_window", prompt + 3)
    reply = llama_backend.chat(ASK, GenParams(max_new_tokens=50))
    assert reply.finish_reason == "length"
    assert reply.text == llama_backend.chat(ASK, GenParams(max_new_tokens=3)).text


def test_a_prompt_longer_than_the_window_is_input_too_long(llama_backend, monkeypatch):
    from chatdoctor.errors import InputTooLong

    monkeypatch.setattr(llama_backend.config, "context_window", 8)
    with pytest.raises(InputTooLong, match="context window is 8"):
        llama_backend.chat(ASK, GenParams(max_new_tokens=4))
