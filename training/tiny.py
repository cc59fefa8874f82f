"""A tiny random base model for smoke runs (``model: tiny-random:llama`` or ``tiny-random:glm``).

A fresh clone has no weights and nothing may be downloaded, so the CPU smoke pipeline builds its own
base: a byte-level BPE tokenizer trained on the first stage's records (with every family's special
tokens) and a few-layer LLaMA or GLM with random weights. It learns the data's surface, not medicine.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000):  # -> PreTrainedTokenizerFast
    """A byte-level BPE tokenizer trained on ``texts``, with every family's special tokens."""
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
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        additional_special_tokens=SPECIAL_TOKENS[4:],
    )  # fmt: skip


def random_model(
    family: str,
    tokenizer,
    *,
    hidden: int = 128,
    heads: int = 2,
    kv_heads: int = 2,
    layers: int = 2,
    max_positions: int = 1024,
    glm_eos: tuple[str, ...] = ("<|endoftext|>", "<|user|>"),
    seed: int = 0,
):  # -> PreTrainedModel
    """A few-layer LLaMA or native GLM with random weights sized to ``tokenizer``."""
    import torch
    from transformers import GlmConfig, GlmForCausalLM, LlamaConfig, LlamaForCausalLM

    shape = {"vocab_size": len(tokenizer), "hidden_size": hidden, "intermediate_size": hidden * 2,
             "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
             "max_position_embeddings": max_positions, "pad_token_id": tokenizer.pad_token_id}  # fmt: skip
    torch.manual_seed(seed)
    if family == "llama":
        ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
        return LlamaForCausalLM(LlamaConfig(**shape, **ids, tie_word_embeddings=False))
    eos = [tokenizer.convert_tokens_to_ids(t) for t in glm_eos]
    return GlmForCausalLM(GlmConfig(**shape, head_dim=hidden // heads, eos_token_id=eos, bos_token_id=None))


def build_tiny(model: str, out: Path, dataset: str, vocab_size: int = 2000, seed: int = 0) -> Path:
    """Train the tokenizer on ``dataset`` and save a random tiny model to ``out`` (once)."""
    family = model[len(PREFIX) :]
    if family not in ("llama", "glm"):
        raise ConfigError(f"model: {model!r}: tiny-random supports llama and glm")
    if (out / "config.json").is_file():
        return out
    from training.encode import read_dataset

    fast = train_tokenizer((r.text() for r in read_dataset(dataset)), vocab_size)
    net = random_model(family, fast, seed=seed)
    with atomic_dir(out) as tmp:
        net.save_pretrained(tmp)
        fast.save_pretrained(tmp)
    return out
