"""The hf backend's ChatGLM remote-code path (``trust_remote_code`` + the model's own ``stream_chat``).

THUDM's checkpoints cannot be downloaded here, so the test builds a local remote-code checkpoint: the
tiny LLaMA weights under ``model_type: chatglm`` with a modeling file whose ``stream_chat`` follows
ChatGLM2's contract (``(query, history)`` pairs, cumulative text, ``max_length`` = prompt + output,
extra kwargs such as ``stopping_criteria`` passed to generation).
"""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from chatdoctor.backends import create_backend
from chatdoctor.config import ChatConfig
from chatdoctor.types import GenParams, Message

MODELING = """
import torch
from transformers import LlamaConfig, LlamaForCausalLM


class ChatGLMConfig(LlamaConfig):
    model_type = "chatglm"


class ChatGLMForConditionalGeneration(LlamaForCausalLM):
    config_class = ChatGLMConfig
    calls = []

    @torch.inference_mode()
    def stream_chat(self, tokenizer, query, history=None, max_length=8192, do_sample=True, top_p=0.8,
                    temperature=0.8, logits_processor=None, stopping_criteria=None, **kwargs):
        history = history or []
        type(self).calls.append({"query": query, "history": list(history), "max_length": max_length})
        prompt = "".join(f"[Round {i + 1}]\\n\\n问：{q}\\n\\n答：{a}\\n\\n" for i, (q, a) in enumerate(history))
        prompt = "[gMASK]sop" + prompt + f"[Round {len(history) + 1}]\\n\\n问：{query}\\n\\n答："
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        start = ids.shape[1]
        while ids.shape[1] < max_length:
            nxt = self(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
            if nxt.item() == tokenizer.eos_token_id:
                break
            response = tokenizer.decode(ids[0, start:], skip_special_tokens=True)
            yield response, history + [(query, response)]
            if stopping_criteria is not None and bool(stopping_criteria(ids, None).all()):
                break
"""


@pytest.fixture(scope="module")
def chatglm_dir(tmp_path_factory, tiny_llama_dir):
    out = tmp_path_factory.mktemp("remote_chatglm")
    shutil.copytree(tiny_llama_dir, out, dirs_exist_ok=True)
    (out / "modeling_chatglm.py").write_text(MODELING, encoding="utf-8")
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    cfg.update(
        model_type="chatglm",
        architectures=["ChatGLMForConditionalGeneration"],
        auto_map={
            "AutoConfig": "modeling_chatglm.ChatGLMConfig",
            "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
        },
    )
    (out / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def chatglm(chatglm_dir):
    backend = create_backend(ChatConfig(backend="hf", model=str(chatglm_dir), trust_remote_code=True))
    yield backend
    backend.close()


def test_remote_chatglm_uses_its_stream_chat_with_native_history(chatglm):
    assert chatglm.template_name == "chatglm2" and chatglm._remote_chatglm
    calls = type(chatglm.model).calls
    convo = [
        Message("system", "Be brief."),
        Message("user", "q1"),
        Message("assistant", "a1"),
        Message("user", "q2"),
    ]
    deltas = list(chatglm.stream_chat(convo, GenParams(max_new_tokens=6)))
    assert calls[-1]["query"] == "q2"
    assert calls[-1]["history"] == [("Be brief.\n\nq1", "a1")]  # no system slot: it joins the first turn
    assert (
        calls[-1]["max_length"] == chatglm.count_tokens(convo) + 6
    )  # ChatGLM's max_length = prompt + output
    assert len([d for d in deltas if d.text]) >= 2, "cumulative text is turned into pieces"
    assert deltas[-1].finish_reason == "length"


def test_remote_chatglm_stops_on_cancel(chatglm):
    cancel = threading.Event()
    deltas = []
    for delta in chatglm.stream_chat([Message("user", "hello")], GenParams(max_new_tokens=300), cancel):
        deltas.append(delta)
        if len(deltas) == 2:
            cancel.set()
    assert deltas[-1].finish_reason == "abort" and len(deltas) < 10
