"""Web load benchmark (loopback only, bounded): N patients streaming answers vs a bare FastAPI ceiling.

    python bench/web_load.py --patients 8 --seconds 20

1. Starts the real app (``uvicorn --factory webapp.app:create_app``) in a subprocess on 127.0.0.1, over a
   fresh SQLite database in a temporary directory, with the knowledge-only backend (starter graph).
2. N simulated patients (httpx async, each signed in with its own session cookie) loop for ``--seconds``:
   post a question, follow ``/messages/{id}/stream`` until ``done``. Latency = post → ``done``.
3. Checks every posted answer in the database: status ``done`` and the text the stream delivered.
   Anything else counts as lost.
4. Runs a bare FastAPI JSON endpoint (``GET /ping``) under uvicorn the same way, with the same number
   of concurrent clients and the same time, as the ceiling of this machine, and prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "I have a fever and a cough, what should I do?",
    "我咳嗽发烧两天了，怎么办？",
    "What are the symptoms of diabetes?",
    "头痛恶心是什么原因？",
    "My child has a rash and itchy skin.",
    "高血压应该注意什么饮食？",
]
BARE_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/ping")
def ping() -> dict:
    return {"ok": True}
"""


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    posted: dict[str, str] = field(default_factory=dict)  # assistant message id -> streamed text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float) -> None:
    """Until ``url`` answers 200 (``/readyz`` does once the model backend is loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server at {url} did not come up within {timeout:.0f} s")


def serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A uvicorn subprocess bound to loopback only; its output goes to ``log``."""
    cmd = [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--log-level", "warning"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


# --- the app -------------------------------------------------------------------------------------


def app_env(tmp: Path, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CHATDOCTOR_DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
        CHATDOCTOR_DATA_DIR=str(tmp),
        CHATDOCTOR_SECRET_KEY="bench-secret-" + os.urandom(8).hex(),
        CHATDOCTOR_ENVIRONMENT="test",
        CHATDOCTOR_CHAT=json.dumps({"backend": "knowledge"}),
        CHATDOCTOR_RATE_LIMIT_PER_MINUTE="1000000",
        CHATDOCTOR_GENERATION_THREADS=str(threads),
        CHATDOCTOR_QUEUE_SIZE="10000",
    )
    return env


def prepare_database(env: dict[str, str], patients: int) -> list[tuple[str, str]]:
    """Migrate the database and create the patients; returns (session cookie, CSRF token) for each."""
    from starlette.requests import Request

    from webapp.db import Database, upgrade
    from webapp.models import User
    from webapp.security import SESSION_COOKIE, SessionSigner
    from webapp.settings import Settings

    upgrade(env["CHATDOCTOR_DATABASE_URL"])
    settings = Settings(database_url=env["CHATDOCTOR_DATABASE_URL"], secret_key=env["CHATDOCTOR_SECRET_KEY"])
    signer = SessionSigner(settings.resolved_secret(), settings.session_max_age_s)
    db = Database(settings.database_url)
    cookies = []
    with db.session() as session:
        for i in range(patients):
            # A placeholder hash: these users never sign in with a password (argon2 would dominate set-up).
            user = User(email=f"bench{i}@example.org", password_hash="!", role="patient", approved=True)
            session.add(user)
            session.flush()
            cookie = signer.cookie_value(str(user.id))
            request = Request(
                {"type": "http", "headers": [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())]}
            )
            cookies.append((cookie, signer.csrf_token(signer.read(request))))
        session.commit()
    db.dispose()
    return cookies


async def one_answer(client: httpx.AsyncClient, conversation: str, question: str, tally: Tally) -> None:
    started = time.perf_counter()
    r = await client.post(f"/conversations/{conversation}/messages", json={"content": question})
    tally.requests += 1
    if r.status_code != 201:
        tally.errors += 1
        await asyncio.sleep(0.2)
        return
    mid = r.json()["assistant_message"]["id"]
    text, status = "", None
    async with client.stream("GET", f"/messages/{mid}/stream") as stream:
        tally.requests += 1
        event = None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event in ("delta", "done"):
                data = json.loads(line[6:])
                if event == "delta":
                    text = text[: data["start"]] + data["text"]
                else:
                    status = data["status"]
                    break
    tally.posted[mid] = text
    if status != "done":
        tally.errors += 1
        return
    tally.latencies_ms.append((time.perf_counter() - started) * 1000)


async def patient(base: str, cookie: str, csrf: str, until: float, index: int, tally: Tally) -> None:
    from webapp.security import CSRF_HEADER, SESSION_COOKIE

    headers = {CSRF_HEADER: csrf}
    async with httpx.AsyncClient(
        base_url=base, cookies={SESSION_COOKIE: cookie}, headers=headers, timeout=60
    ) as c:
        conversation = (await c.post("/conversations", json={"title": f"bench {index}"})).json()["id"]
        n = index
        while time.perf_counter() < until:
            try:
                await one_answer(c, conversation, QUESTIONS[n % len(QUESTIONS)], tally)
            except httpx.HTTPError:
                tally.errors += 1
            n += 1


def lost_messages(env: dict[str, str], posted: dict[str, str]) -> int:
    """Posted answers that are not ``done`` with exactly the streamed text in the database."""
    import uuid

    from webapp.db import Database
    from webapp.models import Message

    db = Database(env["CHATDOCTOR_DATABASE_URL"])
    lost = 0
    with db.session() as session:
        for mid, text in posted.items():
            row = session.get(Message, uuid.UUID(mid))
            if row is None or row.status != "done" or row.content != text or not text:
                lost += 1
    db.dispose()
    return lost


# --- the ceiling ---------------------------------------------------------------------------------


async def pinger(base: str, until: float, tally: Tally) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        while time.perf_counter() < until:
            started = time.perf_counter()
            try:
                r = await c.get("/ping")
                tally.requests += 1
                if r.status_code == 200:
                    tally.latencies_ms.append((time.perf_counter() - started) * 1000)
                else:
                    tally.errors += 1
            except httpx.HTTPError:
                tally.errors += 1


async def drive(coros) -> None:
    await asyncio.gather(*coros)


def report(name: str, tally: Tally, seconds: float, unit: str) -> float:
    done = len(tally.latencies_ms)
    rate = done / seconds
    print(
        f"{name:<28} {rate:8.1f} {unit}/s  requests {tally.requests / seconds:8.1f}/s  "
        f"p50 {percentile(tally.latencies_ms, 0.5):7.1f} ms  p99 {percentile(tally.latencies_ms, 0.99):7.1f} ms  "
        f"errors {tally.errors}"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=8, help="concurrent patients (and ceiling clients)")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase (max 300)")
    parser.add_argument("--generation-threads", type=int, default=2, help="concurrent generations in the app")
    parser.add_argument("--startup-timeout", type=float, default=180.0, help="seconds to wait for the app")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), 300.0)
    patients = min(max(args.patients, 1), 256)

    with tempfile.TemporaryDirectory(prefix="chatdoctor-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        env = app_env(tmp, args.generation_threads)
        cookies = prepare_database(env, patients)
        port = free_port()
        server = serve(["--factory", "webapp.app:create_app", "--port", str(port)], env, tmp / "app.log")
        try:
            print(f"starting the app on 127.0.0.1:{port} (knowledge-only backend) ...", flush=True)
            wait_up(f"http://127.0.0.1:{port}/readyz", args.startup_timeout)
            base = f"http://127.0.0.1:{port}"
            app_tally = Tally()
            until = time.perf_counter() + seconds
            started = time.perf_counter()
            clients = (
                patient(base, cookie, csrf, until, i, app_tally) for i, (cookie, csrf) in enumerate(cookies)
            )
            asyncio.run(drive(clients))
            app_seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(30)
        lost = lost_messages(env, app_tally.posted)

        (tmp / "bare_app.py").write_text(BARE_APP)
        bare_env = dict(os.environ, PYTHONPATH=str(tmp))
        port = free_port()
        bare = serve(["bare_app:app", "--port", str(port)], bare_env, tmp / "bare.log")
        try:
            wait_up(f"http://127.0.0.1:{port}/ping", 60)
            bare_tally = Tally()
            until = time.perf_counter() + seconds
            started = time.perf_counter()
            asyncio.run(drive(pinger(f"http://127.0.0.1:{port}", until, bare_tally) for _ in range(patients)))
            bare_seconds = time.perf_counter() - started
        finally:
            bare.terminate()
            bare.wait(30)

    print(f"\n{patients} concurrent clients, {seconds:.0f} s per phase, loopback, {os.cpu_count()} CPUs")
    answers = report("app: streamed answers", app_tally, app_seconds, "answers")
    print(f"{'':<28} posted {len(app_tally.posted)}, lost {lost} (not done with the streamed text in the DB)")
    ceiling = report("bare FastAPI JSON (ceiling)", bare_tally, bare_seconds, "req")
    app_rps = app_tally.requests / app_seconds
    print(f"ratio: app HTTP requests/s ÷ bare requests/s = {app_rps / ceiling:.3f}  "
          f"(answers/s ÷ bare req/s = {answers / ceiling:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
