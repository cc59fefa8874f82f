"""A tiny random base model for smoke runs (``model: tiny-random:llama`` or ``tiny-random:glm``).

A fresh clone has no weights and nothing may be downloaded, so the CPU smoke pipeline builds its own
base: a byte-level BPE tokenizer trained on the first stage's records (with every family's special
tokens) and a few-layer LLaMA or GLM with random weights. It learns the data's surface, not medicine.
"""

from __future__ import annotations

from pathlib import Path

from chatdoctor.errors import ConfigError
from chatdoctor.io import atomic_dir

PREFIX = "tiny-random:"
SPECIAL_TOKENS = [
    "<unk>", "<s>", "</s>", "<pad>", "[gMASK]", "sop", "<sop>", "<eop>", "<|endoftext|>", "<|system|>", "<|user|>",
    "<|assistant|>", "<|observation|>", "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
    "<|end_header_id|>", "<|eot_id|>",
]  # fmt: skip


def is_tiny(model: str) -> bool:
    """True for ``tiny-random:<family>``."""
    return model.startswith(PREFIX)


def tiny_dir(model: str, output_dir: str | Path) -> Path:
    """Where the run keeps its tiny base."""
    return Path(output_dir) / f"tiny-base-{model[len(PREFIX) :]}"


def build_tiny(model: str, out: Path, dataset: str, vocab_size: int = 2000, seed: int = 0) -> Path:
    """Train the tokenizer on ``dataset`` and save a random tiny model to ``out`` (once)."""
    family = model[len(PREFIX) :]
    if family not in ("llama", "glm"):
        raise ConfigError(f"model: {model!r}: tiny-random supports llama and glm")
    if (out / "config.json").is_file():
        return out
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GlmConfig, GlmForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from training.encode import read_dataset

    texts = [r.text() for r in read_dataset(dataset)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        additional_special_tokens=SPECIAL_TOKENS[4:],
    )  # fmt: skip
    torch.manual_seed(seed)
    shape = {"vocab_size": len(fast), "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
             "num_attention_heads": 2, "max_position_embeddings": 1024, "pad_token_id": fast.pad_token_id}  # fmt: skip
    if family == "llama":
        cfg = LlamaConfig(
            **shape, num_key_value_heads=2, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id
        )
        net = LlamaForCausalLM(cfg)
    else:
        eos = [fast.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|user|>")]
        net = GlmForCausalLM(GlmConfig(**shape, num_key_value_heads=2, head_dim=64, eos_token_id=eos))
    with atomic_dir(out) as tmp:
        net.save_pretrained(tmp)
        fast.save_pretrained(tmp)
    return out
