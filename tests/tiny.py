"""Tiny models built on the fly: a byte-level BPE tokenizer trained on local medical text, and
few-layer LLaMA and GLM causal LMs (the builders behind ``model: tiny-random:...``). Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

from training.tiny import random_model, train_tokenizer

CORPUS = (
    """
If you are a doctor, please answer the medical questions based on the patient's description.
Patient: I have had a fever, cough and headache for three days. What should I do?
Doctor: A fever with cough and headache is often a viral infection such as influenza. Rest, drink fluids,
and take paracetamol for the fever. See a doctor if you have trouble breathing or the fever lasts more than three days.
Patient: My chest hurts when I climb stairs and I feel short of breath.
Doctor: Chest pain on exertion needs an ECG and a check of your heart. Please see a cardiologist soon.
Below is an instruction that describes a task. Write a response that appropriately completes the request.
### Instruction: ### Input: ### Response:
感冒的症状有哪些？感冒常见的症状包括发烧、咳嗽、流鼻涕、咽痛和头痛。建议多喝水，注意休息。
最近老流鼻涕怎么办？可能是感冒或者过敏性鼻炎，可以做血常规检查，必要时到耳鼻喉科就诊。
高血压要怎么治？高血压的治疗包括改善生活方式和服用降压药，例如氨氯地平。请定期测量血压。
下面是一个问题，运用医学知识来正确回答提问. ### 问题: ### 回答:
[Round 1] 问：答： 你好，我是医生助手。糖尿病患者应当控制饮食，监测血糖。
"""
    * 3
)


def build_tokenizer(out: Path, vocab_size: int = 600):
    fast = train_tokenizer(CORPUS.splitlines(), vocab_size)
    fast.save_pretrained(out)
    return fast


def build_llama(out: Path, tokenizer, *, hidden: int = 64, heads: int = 4, layers: int = 2, seed: int = 0):
    kw = {"hidden": hidden, "heads": heads, "kv_heads": heads, "layers": layers, "max_positions": 512}
    random_model("llama", tokenizer, **kw, seed=seed).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_glm(out: Path, tokenizer, *, hidden: int = 64, heads: int = 4, layers: int = 2, seed: int = 0):
    kw = {"hidden": hidden, "heads": heads, "kv_heads": 2, "layers": layers, "max_positions": 512}
    model = random_model("glm", tokenizer, **kw, glm_eos=(tokenizer.eos_token, "<|user|>"), seed=seed)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
