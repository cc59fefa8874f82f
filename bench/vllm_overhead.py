"""The web app's overhead in front of vLLM (loopback only, bounded): N concurrent streamed chats, app vs direct.

    python bench/vllm_overhead.py --concurrency 8 --requests 32
    python bench/vllm_overhead.py --model exports/cpu-smoke          # an export of our own pipeline

1. Serves a model with vLLM (``chatdoctor.serving.VLLMServer``, the CPU build from ``.venv-vllm``):
   ``--model`` (an export with ``chatdoctor.yaml``), else a tiny random LLaMA (head_dim 64, tokenizer
   trained on GenMedGPT-5k) built in a temporary directory.
2. Starts the web app (``uvicorn --factory webapp.app:create_app``, fresh SQLite) with the ``openai``
   backend pointed at vLLM, as many generation threads as concurrent chats.
3. Direct: ``--concurrency`` clients send ``--requests`` streamed chat completions straight to vLLM, with
   the messages the app's engine would send (system prompt + knowledge-graph facts). App: as many
   signed-in patients post the same questions, each in a fresh conversation, and follow
   ``/messages/{id}/stream``. Both greedy, ``--max-tokens`` each. Time to first token = send → first
   text; latency = send → end of stream (app: ``done``, after its safety check and database write).
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
from collections import Counter
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
    prompt_tokens: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)  # why a chat did not end done


def tiny_model(out: Path, dataset: Path) -> Path:
    """A tiny random LLaMA (hidden 128, 2 heads = head_dim 64) that records the ``chatdoctor`` template."""
    from training.tiny import build_tiny

    if not dataset.is_file():
        raise SystemExit(f"{dataset}: not found; pass --dataset (JSON/JSONL records) or --model")
    build_tiny("tiny-random:llama", out, str(dataset))
    (out / "chatdoctor.yaml").write_text("template: chatdoctor\n", encoding="utf-8")
    return out


def engine_prompts(chat: dict, questions: list[str]) -> dict[str, list[dict]]:
    """The messages the app's engine sends vLLM for each question (system prompt + KG facts): the direct
    phase sends the same, so both phases ask vLLM for the same work."""
    from chatdoctor.config import ChatConfig, from_dict
    from chatdoctor.engine import Grounding
    from chatdoctor.types import Message
    from webapp.generation import build_engine

    engine = build_engine(from_dict(ChatConfig, chat))
    out = {}
    for question in set(questions):
        turn = [Message("user", question)]
        grounding = engine.grounder.ground(turn) if engine.grounder else Grounding()
        out[question] = [m.to_dict() for m in engine.build_messages(turn, grounding)]
    engine.backend.close()
    return out


async def direct_chat(client: httpx.AsyncClient, body: dict, tally: Tally) -> None:
    """One streamed completion straight from vLLM."""
    started, first = time.perf_counter(), None
    async with client.stream("POST", "/chat/completions", json=body) as r:
        if r.status_code != 200:
            tally.failures[f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"] += 1
            return
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tally.prompt_tokens.append(chunk["usage"]["prompt_tokens"])
                tally.tokens.append(chunk["usage"]["completion_tokens"])
            if first is None and any(c["delta"].get("content") for c in chunk.get("choices", [])):
                first = time.perf_counter()
    end = time.perf_counter()
    tally.ttft_ms.append(((first or end) - started) * 1000)
    tally.latency_ms.append((end - started) * 1000)


async def app_chat(client: httpx.AsyncClient, question: str, tally: Tally) -> str | None:
    """Post one question in a fresh conversation and follow its stream to ``done``; returns the message id."""
    conversation = (await client.post("/conversations", json={"title": "bench"})).json()["id"]
    started, first, done = time.perf_counter(), None, {}
    r = await client.post(f"/conversations/{conversation}/messages", json={"content": question})
    if r.status_code != 201:
        tally.failures[f"HTTP {r.status_code}: {r.text[:200]}"] += 1
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
                done = json.loads(line[6:])
                break
    end = time.perf_counter()
    if done.get("status") != "done":
        tally.failures[f"{done.get('status')}: {done.get('error')}"] += 1
        return mid
    tally.ttft_ms.append(((first or end) - started) * 1000)
    tally.latency_ms.append((end - started) * 1000)
    return mid


async def run_direct(base_url: str, bodies: list[dict], concurrency: int) -> tuple[Tally, float]:
    """``concurrency`` clients send ``bodies`` (streamed chat completions) straight to vLLM."""
    tally, queue = Tally(), list(reversed(bodies))

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
            while queue:
                await direct_chat(client, queue.pop(), tally)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally, time.perf_counter() - started


async def run_app(
    base: str, cookies: list[tuple[str, str]], questions: list[str], database_url: str
) -> tuple:
    """One signed-in patient per cookie asks ``questions`` through the web app."""
    from webapp.security import CSRF_HEADER, SESSION_COOKIE

    tally, queue, posted = Tally(), list(reversed(questions)), []

    async def patient(cookie: str, csrf: str) -> None:
        async with httpx.AsyncClient(
            base_url=base, cookies={SESSION_COOKIE: cookie}, headers={CSRF_HEADER: csrf}, timeout=300
        ) as client:
            while queue:
                posted.append(await app_chat(client, queue.pop(), tally))

    started = time.perf_counter()
    await asyncio.gather(*(patient(c, t) for c, t in cookies))
    elapsed = time.perf_counter() - started
    tally.prompt_tokens, tally.tokens = _stored_tokens(database_url, [m for m in posted if m])
    return tally, elapsed


def _stored_tokens(database_url: str, ids: list[str]) -> tuple[list[int], list[int]]:
    """Prompt and completion tokens the app stored for its finished answers."""
    import uuid

    from webapp.db import Database
    from webapp.models import Message

    db = Database(database_url)
    with db.session() as session:
        rows = [session.get(Message, uuid.UUID(i)) for i in ids]
        done = [r for r in rows if r is not None and r.status == "done"]
        out = [r.prompt_tokens or 0 for r in done], [r.completion_tokens or 0 for r in done]
    db.dispose()
    return out


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else float("nan")


def line(name: str, tally: Tally, seconds: float) -> dict[str, float]:
    """Print one phase's figures; return them."""
    done = len(tally.latency_ms)
    figures = {"rps": done / seconds, "ttft50": percentile(tally.ttft_ms, 0.5),
               "ttft99": percentile(tally.ttft_ms, 0.99), "lat50": percentile(tally.latency_ms, 0.5),
               "lat99": percentile(tally.latency_ms, 0.99)}  # fmt: skip
    print(
        f"{name:<16} {figures['rps']:5.2f} req/s  TTFT p50 {figures['ttft50']:6.0f} ms  p99 {figures['ttft99']:6.0f} ms"
        f"  latency p50 {figures['lat50']:6.0f} ms  p99 {figures['lat99']:6.0f} ms"
        f"  tokens prompt/answer {_mean(tally.prompt_tokens):4.0f}/{_mean(tally.tokens):4.1f}"
        f"  done {done}  failed {sum(tally.failures.values())}"
    )
    for reason, n in tally.failures.most_common(5):
        print(f"{'':<16} {n} x {reason}")
    return figures


def main() -> None:
    from chatdoctor.backends.hf_load import saved_template
    from chatdoctor.serving import VLLMConfig, VLLMServer, default_python

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="exported model dir (default: a tiny random LLaMA)")
    parser.add_argument(
        "--dataset", type=Path, default=DATASET, help="records for the tiny model's tokenizer"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent chats (max 64)")
    parser.add_argument("--requests", type=int, default=32, help="chats per phase (max 512)")
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens generated per answer")
    parser.add_argument(
        "--max-model-len", type=int, default=1024, help="vLLM's context (and the app's budget)"
    )
    parser.add_argument("--vllm-python", default=None, help="python of the vLLM env (default: .venv-vllm)")
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="seconds to wait for vLLM / app")
    args = parser.parse_args()
    concurrency, requests = min(max(args.concurrency, 1), 64), min(max(args.requests, 1), 512)
    python = args.vllm_python or default_python() or ""
    if not Path(python).is_file():
        raise SystemExit("vLLM is not installed: bash scripts/install_vllm.sh (or pass --vllm-python)")
    # the tiny model's tokenizer knows English only: a Chinese question + KG facts overflows its 1024 positions
    asked = QUESTIONS if args.model else [q for q in QUESTIONS if q.isascii()]
    questions = [asked[i % len(asked)] for i in range(requests)]

    with tempfile.TemporaryDirectory(prefix="chatdoctor-vllm-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        model = args.model or tiny_model(tmp / "tiny-llama", args.dataset)
        cfg = VLLMConfig(model_dir=str(model), python=python, port=free_port(), dtype="float32",
                         max_model_len=args.max_model_len, served_name="bench")  # fmt: skip
        env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), "HF_HUB_OFFLINE": "1"}
        print(f"starting vLLM on 127.0.0.1:{cfg.port} ({model}) ...", flush=True)
        with VLLMServer(cfg, log_path=tmp / "vllm.log", env=env, ready_timeout=args.startup_timeout) as vllm:
            chat = {"backend": "openai", "base_url": vllm.base_url, "model": "bench", "tokenizer": str(model),
                    "template": saved_template(model), "context_window": args.max_model_len,
                    "params": {"max_new_tokens": args.max_tokens, "temperature": 0.0}}  # fmt: skip
            prompts = engine_prompts(chat, questions)
            bodies = [{"model": "bench", "messages": prompts[q], "max_tokens": args.max_tokens, "temperature": 0.0,
                       "stream": True, "stream_options": {"include_usage": True}} for q in questions]  # fmt: skip
            app = app_env(tmp, concurrency)
            app.update(CHATDOCTOR_CHAT=json.dumps(chat), CHATDOCTOR_GENERATION_TIMEOUT_S="300")
            cookies = prepare_database(app, concurrency)
            db_url, port = app["CHATDOCTOR_DATABASE_URL"], free_port()
            server = serve(["--factory", "webapp.app:create_app", "--port", str(port)], app, tmp / "app.log")
            try:
                wait_up(f"http://127.0.0.1:{port}/readyz", args.startup_timeout)
                print(f"up; warm-up, then {requests} chats straight to vLLM ...", flush=True)
                asyncio.run(run_direct(vllm.base_url, bodies[:2], 2))
                asyncio.run(run_app(f"http://127.0.0.1:{port}", cookies[:2], questions[:2], db_url))
                direct, direct_s = asyncio.run(run_direct(vllm.base_url, bodies, concurrency))
                print(f"... and {requests} chats through the web app", flush=True)
                via_app, app_s = asyncio.run(run_app(f"http://127.0.0.1:{port}", cookies, questions, db_url))
            finally:
                server.terminate()
                server.wait(30)

    print(f"\n{concurrency} concurrent streamed chats, {requests} per phase, {args.max_tokens} tokens max, greedy, "
          f"same prompts (system + KG facts), loopback, {os.cpu_count()} CPUs, model {model.name}")  # fmt: skip
    d = line("direct to vLLM", direct, direct_s)
    a = line("web app -> vLLM", via_app, app_s)
    print(
        f"app overhead: throughput x{a['rps'] / d['rps']:.2f}, TTFT p50 x{a['ttft50'] / d['ttft50']:.2f} "
        f"(+{a['ttft50'] - d['ttft50']:.0f} ms), latency p50 x{a['lat50'] / d['lat50']:.2f} "
        f"(+{a['lat50'] - d['lat50']:.0f} ms), p99 x{a['lat99'] / d['lat99']:.2f}"
    )


if __name__ == "__main__":
    main()
