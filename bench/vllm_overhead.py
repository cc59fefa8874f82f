"""The web app's overhead in front of vLLM (loopback only, bounded): N concurrent streamed chats, app vs direct.

    python bench/vllm_overhead.py --concurrency 8 --requests 32
    python bench/vllm_overhead.py --model exports/cpu-smoke          # an export of our own pipeline

1. Serves a model with vLLM (``chatdoctor.serving.VLLMServer``, the CPU build from ``.venv-vllm``):
   ``--model`` (an export with ``chatdoctor.yaml``), else a tiny random LLaMA (head_dim 64, tokenizer
   trained on GenMedGPT-5k) built in a temporary directory.
2. Starts the web app (``uvicorn --factory webapp.app:create_app``, fresh SQLite) with the ``openai``
   backend pointed at vLLM, as many generation threads as concurrent chats.
3. Direct: ``--concurrency`` clients send ``--requests`` streamed chat completions straight to vLLM.
   App: as many signed-in patients post the same questions and follow ``/messages/{id}/stream``.
   Both greedy, ``--max-tokens`` each. Time to first token = send → first text; latency = send → end.
4. Prints requests/s, TTFT p50/p99, latency p50/p99 for both, and the app's overhead as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_load import QUESTIONS, app_env, free_port, percentile, prepare_database, serve, wait_up

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "data" / "chatdoctor" / "chatdoctor5k.json"


@dataclass
class Tally:
    ttft_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    errors: int = 0


def tiny_model(out: Path, dataset: Path) -> Path:
    """A tiny random LLaMA (hidden 128, 2 heads = head_dim 64) that records the ``chatdoctor`` template."""
    from training.tiny import build_tiny

    if not dataset.is_file():
        raise SystemExit(f"{dataset}: not found; pass --dataset (JSON/JSONL records) or --model")
    build_tiny("tiny-random:llama", out, str(dataset))
    (out / "chatdoctor.yaml").write_text("template: chatdoctor\n", encoding="utf-8")
    return out


async def direct_chat(
    client: httpx.AsyncClient, model: str, question: str, max_tokens: int, tally: Tally
) -> None:
    """One streamed completion straight from vLLM."""
    body = {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens,
            "temperature": 0.0, "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    started, first = time.perf_counter(), None
    async with client.stream("POST", "/chat/completions", json=body) as r:
        if r.status_code != 200:
            tally.errors += 1
            return
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tally.tokens.append(chunk["usage"]["completion_tokens"])
            if first is None and any(c["delta"].get("content") for c in chunk.get("choices", [])):
                first = time.perf_counter()
    end = time.perf_counter()
    tally.ttft_ms.append(((first or end) - started) * 1000)
    tally.latency_ms.append((end - started) * 1000)


async def app_chat(client: httpx.AsyncClient, conversation: str, question: str, tally: Tally) -> str | None:
    """Post one question to the web app and follow its stream to ``done``; returns the message id."""
    started, first, status = time.perf_counter(), None, None
    r = await client.post(f"/conversations/{conversation}/messages", json={"content": question})
    if r.status_code != 201:
        tally.errors += 1
        return None
    mid = r.json()["assistant_message"]["id"]
    async with client.stream("GET", f"/messages/{mid}/stream") as stream:
        event = None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "delta" and first is None:
                first = time.perf_counter()
            elif line.startswith("data: ") and event == "done":
                status = json.loads(line[6:])["status"]
                break
    end = time.perf_counter()
    if status != "done":
        tally.errors += 1
        return mid
    tally.ttft_ms.append(((first or end) - started) * 1000)
    tally.latency_ms.append((end - started) * 1000)
    return mid


async def run_direct(base_url: str, model: str, concurrency: int, requests: int, max_tokens: int) -> tuple:
    tally, queue = Tally(), _work(requests)

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
            while (n := _next(queue)) is not None:
                await direct_chat(client, model, QUESTIONS[n % len(QUESTIONS)], max_tokens, tally)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally, time.perf_counter() - started


async def run_app(base: str, cookies: list[tuple[str, str]], requests: int, database_url: str) -> tuple:
    from webapp.security import CSRF_HEADER, SESSION_COOKIE

    tally, queue, posted = Tally(), _work(requests), []

    async def patient(cookie: str, csrf: str) -> None:
        async with httpx.AsyncClient(
            base_url=base, cookies={SESSION_COOKIE: cookie}, headers={CSRF_HEADER: csrf}, timeout=300
        ) as client:
            conversation = None
            while (n := _next(queue)) is not None:
                if conversation is None or n % 4 == 0:  # a fresh conversation keeps prompts alike
                    conversation = (await client.post("/conversations", json={"title": "bench"})).json()["id"]
                posted.append(await app_chat(client, conversation, QUESTIONS[n % len(QUESTIONS)], tally))

    started = time.perf_counter()
    await asyncio.gather(*(patient(c, t) for c, t in cookies))
    elapsed = time.perf_counter() - started
    tally.tokens = _stored_tokens(database_url, [m for m in posted if m])
    return tally, elapsed


def _work(n: int) -> list[int]:
    return list(range(n - 1, -1, -1))


def _next(queue: list[int]) -> int | None:
    return queue.pop() if queue else None


def _stored_tokens(database_url: str, ids: list[str]) -> list[int]:
    """Completion tokens the app stored for its answers."""
    import uuid

    from webapp.db import Database
    from webapp.models import Message

    db = Database(database_url)
    with db.session() as session:
        rows = [session.get(Message, uuid.UUID(i)) for i in ids]
        out = [r.completion_tokens for r in rows if r is not None and r.completion_tokens is not None]
    db.dispose()
    return out


def line(name: str, tally: Tally, seconds: float) -> dict[str, float]:
    done = len(tally.latency_ms)
    figures = {"rps": done / seconds, "ttft50": percentile(tally.ttft_ms, 0.5),
               "ttft99": percentile(tally.ttft_ms, 0.99), "lat50": percentile(tally.latency_ms, 0.5),
               "lat99": percentile(tally.latency_ms, 0.99)}  # fmt: skip
    tokens = sum(tally.tokens) / len(tally.tokens) if tally.tokens else float("nan")
    print(
        f"{name:<18} {figures['rps']:6.2f} req/s  TTFT p50 {figures['ttft50']:7.0f} ms  p99 {figures['ttft99']:7.0f} ms"
        f"  latency p50 {figures['lat50']:7.0f} ms  p99 {figures['lat99']:7.0f} ms  tokens/answer {tokens:5.1f}"
        f"  done {done}  errors {tally.errors}"
    )
    return figures


def main() -> None:
    from chatdoctor.serving import VLLMConfig, VLLMServer, default_python

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="exported model dir (default: a tiny random LLaMA)")
    parser.add_argument(
        "--dataset", type=Path, default=DATASET, help="records for the tiny model's tokenizer"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent chats (max 64)")
    parser.add_argument("--requests", type=int, default=32, help="chats per phase (max 512)")
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens generated per answer")
    parser.add_argument("--vllm-python", default=None, help="python of the vLLM env (default: .venv-vllm)")
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="seconds to wait for vLLM / app")
    args = parser.parse_args()
    concurrency, requests = min(max(args.concurrency, 1), 64), min(max(args.requests, 1), 512)
    python = args.vllm_python or default_python() or "/work/vllm-venv/bin/python"
    if not Path(python).is_file():
        raise SystemExit("vLLM is not installed: bash scripts/install_vllm.sh (or pass --vllm-python)")

    with tempfile.TemporaryDirectory(prefix="chatdoctor-vllm-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        model = args.model or tiny_model(tmp / "tiny-llama", args.dataset)
        cfg = VLLMConfig(model_dir=str(model), python=python, port=free_port(), dtype="float32",
                         max_model_len=1024, served_name="bench")  # fmt: skip
        env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), "HF_HUB_OFFLINE": "1"}
        print(f"starting vLLM on 127.0.0.1:{cfg.port} ({model}) ...", flush=True)
        with VLLMServer(cfg, log_path=tmp / "vllm.log", env=env, ready_timeout=args.startup_timeout) as vllm:
            app = app_env(tmp, concurrency)
            app.update(
                CHATDOCTOR_CHAT=json.dumps({"backend": "openai", "base_url": vllm.base_url, "model": "bench",
                                            "context_window": 1024,
                                            "params": {"max_new_tokens": args.max_tokens, "temperature": 0.0}}),
                CHATDOCTOR_GENERATION_TIMEOUT_S="300",
            )  # fmt: skip
            cookies = prepare_database(app, concurrency)
            port = free_port()
            server = serve(["--factory", "webapp.app:create_app", "--port", str(port)], app, tmp / "app.log")
            try:
                wait_up(f"http://127.0.0.1:{port}/readyz", args.startup_timeout)
                asyncio.run(run_direct(vllm.base_url, "bench", 2, 2, args.max_tokens))  # warm-up
                asyncio.run(
                    run_app(f"http://127.0.0.1:{port}", cookies[:2], 2, app["CHATDOCTOR_DATABASE_URL"])
                )
                direct, direct_s = asyncio.run(
                    run_direct(vllm.base_url, "bench", concurrency, requests, args.max_tokens)
                )
                via_app, app_s = asyncio.run(
                    run_app(f"http://127.0.0.1:{port}", cookies, requests, app["CHATDOCTOR_DATABASE_URL"])
                )
            finally:
                server.terminate()
                server.wait(30)

    print(f"\n{concurrency} concurrent streamed chats, {requests} per phase, {args.max_tokens} tokens max, "
          f"greedy, loopback, {os.cpu_count()} CPUs, model {model.name if args.model else 'tiny random LLaMA'}")  # fmt: skip
    d = line("direct to vLLM", direct, direct_s)
    a = line("web app -> vLLM", via_app, app_s)
    print(
        f"app overhead: throughput x{a['rps'] / d['rps']:.2f}, TTFT p50 x{a['ttft50'] / d['ttft50']:.2f} "
        f"(+{a['ttft50'] - d['ttft50']:.0f} ms), latency p50 x{a['lat50'] / d['lat50']:.2f} "
        f"(+{a['lat50'] - d['lat50']:.0f} ms), p99 x{a['lat99'] / d['lat99']:.2f}"
    )


if __name__ == "__main__":
    main()
