"""Golden strings for every registered template, written out by hand from each family's own code."""

from __future__ import annotations

import pytest

from chatdoctor.errors import DataError, RegistryError
from chatdoctor.templates import TEMPLATES, get_template, instruction_messages, render
from chatdoctor.types import Message

SINGLE = [Message("user", "发烧怎么办？")]
MULTI = [Message("user", "Q1"), Message("assistant", "A1"), Message("user", "Q2")]
SYSTEM = [Message("system", "You are a doctor."), Message("user", "Q1")]
TRAIN = [Message("user", "Q1"), Message("assistant", "A1")]  # rendered without the generation prompt

ALPACA_PRE = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
ALPACA_IN = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request."
)
DOC = "If you are a doctor, please answer the medical questions based on the patient's description."
HUATUO = "下面是一个问题，运用医学知识来正确回答提问."

GOLDEN: dict[str, dict[str, str]] = {
    "alpaca": {
        "single": f"<s>{ALPACA_PRE}\n\n### Instruction:\n发烧怎么办？\n\n### Response:",
        "multi": f"<s>{ALPACA_PRE}\n\n### Instruction:\nQ1\n\n### Response:A1</s>\n\n### Instruction:\nQ2\n\n### Response:",
        "system": "<s>You are a doctor.\n\n### Instruction:\nQ1\n\n### Response:",
        "train": f"<s>{ALPACA_PRE}\n\n### Instruction:\nQ1\n\n### Response:A1</s>",
    },
    "chatdoctor": {
        "single": f"<s>{ALPACA_IN}\n\n### Instruction:\n{DOC}\n\n### Input:\n发烧怎么办？\n\n### Response:",
        "multi": f"<s>{ALPACA_IN}\n\n### Instruction:\n{DOC}\n\n### Input:\nQ1\n\n### Response:A1</s>"
        f"\n\n### Instruction:\n{DOC}\n\n### Input:\nQ2\n\n### Response:",
        "system": f"<s>You are a doctor.\n\n### Instruction:\n{DOC}\n\n### Input:\nQ1\n\n### Response:",
        "train": f"<s>{ALPACA_IN}\n\n### Instruction:\n{DOC}\n\n### Input:\nQ1\n\n### Response:A1</s>",
    },
    "llama2": {
        "single": "<s>[INST] 发烧怎么办？ [/INST]",
        "multi": "<s>[INST] Q1 [/INST] A1 </s><s>[INST] Q2 [/INST]",
        "system": "<s>[INST] <<SYS>>\nYou are a doctor.\n<</SYS>>\n\nQ1 [/INST]",
        "train": "<s>[INST] Q1 [/INST] A1 </s>",
    },
    "llama3": {
        "single": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n发烧怎么办？<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "multi": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nQ2<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "system": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a doctor.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "train": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>",
    },
    "chatglm": {
        "single": "发烧怎么办？[gMASK]<sop>",
        "multi": "[Round 0]\n问：Q1\n答：A1\n[Round 1]\n问：Q2\n答：[gMASK]<sop>",
        "system": "You are a doctor.\n\nQ1[gMASK]<sop>",
        "train": "Q1[gMASK]<sop>A1<eop>",
    },
    "chatglm2": {
        "single": "[gMASK]sop[Round 1]\n\n问：发烧怎么办？\n\n答：",
        "multi": "[gMASK]sop[Round 1]\n\n问：Q1\n\n答：A1\n\n[Round 2]\n\n问：Q2\n\n答：",
        "system": "[gMASK]sop[Round 1]\n\n问：You are a doctor.\n\nQ1\n\n答：",
        "train": "[gMASK]sop[Round 1]\n\n问：Q1\n\n答：A1</s>",
    },
    "chatglm3": {
        "single": "[gMASK]sop<|user|>\n发烧怎么办？<|assistant|>",
        "multi": "[gMASK]sop<|user|>\nQ1<|assistant|>\nA1<|user|>\nQ2<|assistant|>",
        "system": "[gMASK]sop<|system|>\nYou are a doctor.<|user|>\nQ1<|assistant|>",
        "train": "[gMASK]sop<|user|>\nQ1<|assistant|>\nA1</s>",
    },
    "glm4": {
        "single": "[gMASK]<sop><|user|>\n发烧怎么办？<|assistant|>",
        "multi": "[gMASK]<sop><|user|>\nQ1<|assistant|>\nA1<|user|>\nQ2<|assistant|>",
        "system": "[gMASK]<sop><|system|>\nYou are a doctor.<|user|>\nQ1<|assistant|>",
        "train": "[gMASK]<sop><|user|>\nQ1<|assistant|>\nA1<|endoftext|>",
    },
    "huatuo": {
        "single": f"<s>{HUATUO}\n### 问题:\n发烧怎么办？\n### 回答:\n",
        "multi": f"<s>{HUATUO}\n### 问题:\nQ1\n### 回答:\nA1</s>\n### 问题:\nQ2\n### 回答:\n",
        "system": "<s>You are a doctor.\n### 问题:\nQ1\n### 回答:\n",
        "train": f"<s>{HUATUO}\n### 问题:\nQ1\n### 回答:\nA1</s>",
    },
}

CASES = {"single": (SINGLE, True), "multi": (MULTI, True), "system": (SYSTEM, True), "train": (TRAIN, False)}


def test_every_registered_template_has_a_golden_test():
    missing = [name for name in TEMPLATES.names() if name not in GOLDEN]
    assert not missing, f"templates without golden strings: {missing}"
    for name, goldens in GOLDEN.items():
        assert set(goldens) == set(CASES), f"{name}: golden cases {sorted(goldens)} != {sorted(CASES)}"


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_template_renders_golden_string(name, case):
    messages, gen = CASES[case]
    assert render(get_template(name), messages, add_generation_prompt=gen) == GOLDEN[name][case]


def test_alpaca_record_with_input_renders_the_alpaca_with_input_prompt():
    msgs = instruction_messages(get_template("alpaca"), "Summarise the note.", "Patient has a cough.")
    assert render(get_template("alpaca"), msgs) == (
        f"<s>{ALPACA_IN}\n\n### Instruction:\nSummarise the note.\n\n### Input:\nPatient has a cough.\n\n### Response:"
    )


def test_alpaca_record_without_input_renders_the_plain_alpaca_prompt():
    msgs = instruction_messages(get_template("alpaca"), "List flu symptoms.", output="Fever.")
    assert render(get_template("alpaca"), msgs, add_generation_prompt=False) == (
        f"<s>{ALPACA_PRE}\n\n### Instruction:\nList flu symptoms.\n\n### Response:Fever.</s>"
    )


def test_chatdoctor_record_with_its_own_instruction_uses_the_input_as_the_patient_turn():
    t = get_template("chatdoctor")
    msgs = instruction_messages(t, DOC, "I have a cough.", output="See a doctor.")
    assert msgs[-2] == Message("user", "I have a cough.")
    assert render(t, msgs, add_generation_prompt=False) == (
        f"<s>{ALPACA_IN}\n\n### Instruction:\n{DOC}\n\n### Input:\nI have a cough.\n\n### Response:See a doctor.</s>"
    )


def test_render_refuses_non_alternating_roles_naming_the_message():
    with pytest.raises(DataError, match=r"messages\[2\]\.role"):
        render(get_template("llama2"), [Message("system", "s"), Message("user", "a"), Message("user", "b")])


def test_unknown_template_error_suggests_the_closest_name():
    with pytest.raises(RegistryError, match="llama2"):
        get_template("llama-2")
