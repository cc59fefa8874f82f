"""The built-in templates, verbatim from each family's own code (FIELD_NOTES 3.1)."""

from __future__ import annotations

from chatdoctor.templates.base import Template, register_template

ALPACA_SYSTEM = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
ALPACA_SYSTEM_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request."
)
CHATDOCTOR_INSTRUCTION = (
    "If you are a doctor, please answer the medical questions based on the patient's description."
)
HUATUO_SYSTEM = "下面是一个问题，运用医学知识来正确回答提问."

ALPACA = Template(
    name="alpaca",
    description="Stanford Alpaca (LLaMA): the user turn is the instruction; records with an input use "
    "instruction_messages().",
    prefix="<s>",
    system=ALPACA_SYSTEM,
    system_format="{content}\n\n",
    user_format="### Instruction:\n{content}\n\n### Response:",
    assistant_format="{content}</s>",
    separator="\n\n",
    bos="<s>",
    eos="</s>",
    stop_strings=("</s>", "### Instruction:"),
    input_format="{instruction}\n\n### Input:\n{input}",
    system_with_input=ALPACA_SYSTEM_WITH_INPUT,
)

CHATDOCTOR = Template(
    name="chatdoctor",
    description="ChatDoctor (LLaMA): Alpaca with input, the doctor instruction fixed, the patient's turn as input.",
    prefix="<s>",
    system=ALPACA_SYSTEM_WITH_INPUT,
    system_format="{content}\n\n",
    user_format=f"### Instruction:\n{CHATDOCTOR_INSTRUCTION}\n\n### Input:\n{{content}}\n\n### Response:",
    assistant_format="{content}</s>",
    separator="\n\n",
    bos="<s>",
    eos="</s>",
    stop_strings=("</s>", "### Instruction:"),
    instruction=CHATDOCTOR_INSTRUCTION,
    input_format="{instruction}\n\n{input}",
    system_with_input=ALPACA_SYSTEM_WITH_INPUT,
)

LLAMA2 = Template(
    name="llama2",
    description="Llama-2-chat: [INST] turns, the system prompt in <<SYS>> inside the first turn.",
    prefix="<s>",
    system_format="<<SYS>>\n{content}\n<</SYS>>\n\n",
    system_placement="first_user",
    user_format="[INST] {content} [/INST]",
    assistant_format=" {content} </s>",
    separator="<s>",
    bos="<s>",
    eos="</s>",
    stop_strings=("</s>",),
)

LLAMA3 = Template(
    name="llama3",
    description="Llama-3-instruct: header tokens per role, <|eot_id|> ends every turn.",
    prefix="<|begin_of_text|>",
    system_format="<|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
    user_format="<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>",
    assistant_prefix="<|start_header_id|>assistant<|end_header_id|>\n\n",
    assistant_format="{content}<|eot_id|>",
    bos="<|begin_of_text|>",
    eos="<|eot_id|>",
    stop_strings=("<|eot_id|>", "<|end_of_text|>"),
)

CHATGLM = Template(
    name="chatglm",
    description="ChatGLM-6B: the raw query without history, else [Round i] from 0; [gMASK]<sop> before "
    "the answer, <eop> after it.",
    system_format="{content}\n\n",
    system_placement="first_user",
    user_format="[Round {idx}]\n问：{content}\n答：",
    single_turn_format="{content}",
    separator="\n",
    final_prefix="[gMASK]<sop>",
    end_of_conversation="<eop>",
    eos="<eop>",
    stop_strings=("<eop>",),
)

CHATGLM2 = Template(
    name="chatglm2",
    description="ChatGLM2-6B: [gMASK]sop, [Round i] from 1 with blank lines, even for one turn.",
    prefix="[gMASK]sop",
    system_format="{content}\n\n",
    system_placement="first_user",
    user_format="[Round {idx}]\n\n问：{content}\n\n答：",
    separator="\n\n",
    round_start=1,
    end_of_conversation="</s>",
    bos="[gMASK]sop",
    eos="</s>",
    stop_strings=("</s>",),
)

CHATGLM3 = Template(
    name="chatglm3",
    description="ChatGLM3-6B: [gMASK]sop, role tokens; the model ends a reply with <|user|>/<|observation|>.",
    prefix="[gMASK]sop",
    system_format="<|system|>\n{content}",
    user_format="<|user|>\n{content}",
    assistant_prefix="<|assistant|>",
    assistant_format="\n{content}",
    end_of_conversation="</s>",
    bos="[gMASK]sop",
    eos="</s>",
    stop_strings=("<|user|>", "<|observation|>", "</s>"),
)

GLM4 = Template(
    name="glm4",
    description="GLM-4 (native transformers Glm): [gMASK]<sop>, role tokens, <|endoftext|> at the end.",
    prefix="[gMASK]<sop>",
    system_format="<|system|>\n{content}",
    user_format="<|user|>\n{content}",
    assistant_prefix="<|assistant|>",
    assistant_format="\n{content}",
    end_of_conversation="<|endoftext|>",
    bos="[gMASK]<sop>",
    eos="<|endoftext|>",
    stop_strings=("<|user|>", "<|observation|>", "<|endoftext|>"),
)

HUATUO = Template(
    name="huatuo",
    description="Huatuo/BenTsao (LLaMA) med_template; the response follows '### 回答:'.",
    prefix="<s>",
    system=HUATUO_SYSTEM,
    system_format="{content}\n",
    user_format="### 问题:\n{content}\n### 回答:\n",
    assistant_format="{content}</s>",
    separator="\n",
    bos="<s>",
    eos="</s>",
    stop_strings=("</s>", "### 问题:"),
)

for _t in (ALPACA, CHATDOCTOR, LLAMA2, LLAMA3, CHATGLM, CHATGLM2, CHATGLM3, GLM4, HUATUO):
    register_template(_t)
