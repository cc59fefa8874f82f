"""GPU check: one LoRA and one QLoRA stage of a ~1B-parameter LLaMA-shaped model (random init) under
DeepSpeed ZeRO-2 in bf16, through ``chatdoctor train``'s own pipeline; prints tokens/s and peak memory.

    python bench/gpu_lora_qlora.py [--steps 20] [--out /tmp/gpu-check]

Needs a CUDA GPU, deepspeed and bitsandbytes. Data: GenMedGPT-5k from ../shared/data (512 tokens).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "chatdoctor" / "chatdoctor5k.json"


def build_1b(out: Path, data: Path) -> Path:
    """A LLaMA with ~1.1B parameters (TinyLlama's shape) and a tokenizer trained on the data."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from training.tiny import build_tiny

    tok_dir = build_tiny("tiny-random:llama", out / "tok", str(data), vocab_size=32000)
    tok = AutoTokenizer.from_pretrained(tok_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                      num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)  # fmt: skip
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(out / "llama-1b")
    tok.save_pretrained(out / "llama-1b")
    return out / "llama-1b"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="gpu-check-")))
    args = parser.parse_args()

    from chatdoctor.records import InstructionRecord
    from training.config import load_pipeline
    from training.pipeline import run_pipeline

    data = args.out / "genmedgpt.jsonl"
    rows = json.loads(DATA.read_text(encoding="utf-8-sig"))
    data.write_text("".join(json.dumps(InstructionRecord.from_alpaca(r).to_dict()) + "\n" for r in rows))
    base = build_1b(args.out, data)
    for method in ("lora", "qlora"):
        pipe = load_pipeline(None, data={
            "model": str(base), "template": "chatdoctor", "method": method, "output_dir": str(args.out / method),
            "deepspeed": "zero2", "precision": "bf16", "gradient_checkpointing": True, "report_to": [],
            "stages": [{"name": "s", "dataset": str(data), "max_steps": args.steps, "per_device_batch_size": 8,
                        "gradient_accumulation_steps": 1, "max_length": 512, "save_steps": 10_000}],
        })  # fmt: skip
        run_pipeline(pipe)
        m = json.loads((args.out / method / "s" / "manifest.json").read_text())
        tokens_per_sample = m["encode"]["tokens"] / m["encode"]["kept"]
        tps = m["metrics"]["train_samples_per_second"] * tokens_per_sample
        print(f"{method}: {tps:.0f} tokens/s, peak {m['metrics'].get('peak_gpu_memory_gb', 0):.1f} GiB, "
              f"trainable {m['trainable_parameters']:,} of {m['total_parameters']:,}, loss {m['metrics']['train_loss']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
