"""Tiny models built on the fly: a byte-level BPE tokenizer trained on local medical text, and
few-layer LLaMA and GLM causal LMs. Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

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

SPECIAL_TOKENS = [
    "<unk>",
    "<s>",
    "</s>",
    "<pad>",
    "[gMASK]",
    "sop",
    "<sop>",
    "<eop>",
    "<|endoftext|>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]


def build_tokenizer(out: Path, vocab_size: int = 600):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=SPECIAL_TOKENS[4:],
    )
    fast.save_pretrained(out)
    return fast


def build_llama(out: Path, tokenizer, *, hidden: int = 64, heads: int = 4, layers: int = 2, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_glm(out: Path, tokenizer, *, hidden: int = 64, heads: int = 4, layers: int = 2, seed: int = 0):
    import torch
    from transformers import GlmConfig, GlmForCausalLM

    torch.manual_seed(seed)
    cfg = GlmConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=2,
        head_dim=hidden // heads,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|user|>")],
        bos_token_id=None,
    )
    model = GlmForCausalLM(cfg)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
