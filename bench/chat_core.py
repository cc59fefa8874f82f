"""Core chat library speed: template rendering/segmenting throughput and hf streaming overhead.

    python bench/chat_core.py                       # tiny models built on the fly (CPU)
    python bench/chat_core.py --model ./out/merged  # a real model dir (GPU if present)

Prints: conversations/s through ``render`` and ``segments`` (what the data builder and trainer do per
record), then for the hf backend time to first streamed piece, pieces/s and the same for a direct
``model.generate`` call, so the worker-thread/streamer overhead is visible.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from chatdoctor.templates import TEMPLATES, get_template, render, segments
from chatdoctor.types import GenParams, Message


def bench_templates(n: int) -> None:
    convo = [Message("system", "You are a careful doctor.")]
    for i in range(3):
        convo += [
            Message("user", f"问题 {i}: 发烧咳嗽三天了怎么办？" * 3),
            Message("assistant", f"回答 {i}: 多休息。" * 5),
        ]
    for name in TEMPLATES.names():
        t = get_template(name)
        start = time.perf_counter()
        for _ in range(n):
            render(t, convo, add_generation_prompt=False)
            segments(t, convo)
        rate = n / (time.perf_counter() - start)
        print(f"template {name:<10} {rate:>9,.0f} conversations/s (render + segments, 3 turns)")


def bench_hf(model: str | None, tokens: int) -> None:
    from chatdoctor.backends import create_backend
    from chatdoctor.config import ChatConfig

    if model is None:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tiny-model builders in tests/
        from transformers import AutoTokenizer

        from tests.tiny import build_llama, build_tokenizer

        tmp = Path(tempfile.mkdtemp())
        build_tokenizer(tmp / "tok")
        model = str(build_llama(tmp / "llama", AutoTokenizer.from_pretrained(tmp / "tok")))
    backend = create_backend(ChatConfig(backend="hf", model=model))
    ask = [Message("user", "I have had a fever and a cough for three days. What should I do?")]
    params = GenParams(max_new_tokens=tokens)
    backend.chat(ask, GenParams(max_new_tokens=4))  # warm-up
    start = time.perf_counter()
    first = None
    pieces = 0
    for delta in backend.stream_chat(ask, params):
        if delta.text:
            pieces += 1
            first = first or time.perf_counter() - start
    total = time.perf_counter() - start
    print(
        f"hf stream   ttft {first * 1000:7.1f} ms   {pieces / total:8.1f} pieces/s   {total:6.2f} s ({pieces} pieces)"
    )
    import torch

    enc = backend.tokenizer(render(backend.template, ask), return_tensors="pt", add_special_tokens=False)
    enc = enc.to(backend.model.device)
    start = time.perf_counter()
    with torch.inference_mode():
        out = backend.model.generate(**enc, max_new_tokens=tokens, do_sample=False, min_new_tokens=tokens)
    total = time.perf_counter() - start
    n = out.shape[1] - enc["input_ids"].shape[1]
    print(f"hf generate (no streaming)          {n / total:8.1f} tokens/s   {total:6.2f} s ({n} tokens)")
    backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a local model dir (default: a tiny LLaMA built on the fly)")
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    bench_templates(args.conversations)
    bench_hf(args.model, args.tokens)


if __name__ == "__main__":
    main()
