"""``chatdoctor serve``: migrates the embedded SQLite database and serves on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from webapp.db import current_revision, head_revision


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_migrates_and_answers_health_checks(tmp_path):
    port = free_port()
    url = f"sqlite:///{tmp_path / 'var' / 'chatdoctor.db'}"
    env = {**os.environ, "CHATDOCTOR_DATABASE_URL": url, "CHATDOCTOR_DATA_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatdoctor.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert r.json() == {"status": "ok"} and r.headers["x-request-id"]
        assert current_revision(url) == head_revision()
        assert (tmp_path / "var" / "secret_key").is_file()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "Traceback" not in out


def test_serve_refuses_several_workers_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "CHATDOCTOR_DATA_DIR": str(tmp_path),
        "CHATDOCTOR_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    r = subprocess.run(
        [sys.executable, "-m", "chatdoctor.cli", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "PostgreSQL" in r.stderr and "Traceback" not in r.stderr


def test_create_user_makes_an_approved_admin_and_refuses_a_duplicate(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from chatdoctor.cli import app
    from webapp.db import Database
    from webapp.services.users import authenticate

    url = f"sqlite:///{tmp_path / 'var' / 'chatdoctor.db'}"
    monkeypatch.setenv("CHATDOCTOR_DATABASE_URL", url)
    monkeypatch.setenv("CHATDOCTOR_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    args = ["db", "create-user", "Boss@Example.org", "--role", "admin", "--password", "correct horse"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    db = Database(url)
    with db.session() as session:
        user = authenticate(session=session, email="boss@example.org", password="correct horse")
        assert user.role == "admin" and user.approved
    db.dispose()
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "already exists" in str(again.exception or again.output)
