"""``kg fetch`` against a real loopback HTTP server: checksum checked, nothing saved on mismatch or no network."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest
import yaml

from chatdoctor.errors import DataError
from knowledge.fetch import REGISTRY, datasets, fetch


@pytest.fixture
def http_dir(tmp_path):
    """A directory served over http://127.0.0.1:PORT/."""
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a, **k: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _registry(tmp_path: Path, url: str, **checksum: str) -> Path:
    entry = {
        "format": "hsdn",
        "description": "t",
        "import": "s.tsv",
        "files": [{"path": "s.tsv", "url": url, **checksum}],
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"tiny": entry}), encoding="utf-8")
    return path


def test_fetch_downloads_and_verifies_the_sha256(http_dir, tmp_path) -> None:
    root, base = http_dir
    data = b"symptom_name\tdisease_name\ttfidf_score\nCough\tasthma\t929.5\n"
    (root / "s.tsv").write_bytes(data)
    reg = _registry(tmp_path, base + "s.tsv", sha256=hashlib.sha256(data).hexdigest())
    path = fetch("tiny", tmp_path / "dl", registry=reg, progress=False)
    assert path == tmp_path / "dl" / "tiny" / "s.tsv"
    assert path.read_bytes() == data


def test_fetch_accepts_a_git_blob_checksum(http_dir, tmp_path) -> None:
    root, base = http_dir
    data = b"hello\n"
    (root / "s.tsv").write_bytes(data)
    blob = "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object` of "hello\n"
    path = fetch(
        "tiny", tmp_path / "dl", registry=_registry(tmp_path, base + "s.tsv", git_blob=blob), progress=False
    )
    assert path.read_bytes() == data


def test_checksum_mismatch_saves_nothing(http_dir, tmp_path) -> None:
    root, base = http_dir
    (root / "s.tsv").write_bytes(b"tampered")
    reg = _registry(tmp_path, base + "s.tsv", sha256="0" * 64)
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch("tiny", tmp_path / "dl", registry=reg, progress=False)
    assert not (tmp_path / "dl" / "tiny" / "s.tsv").exists()


def test_unreachable_host_says_how_to_import_by_hand(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    reg = _registry(tmp_path, f"http://127.0.0.1:{port}/s.tsv", sha256="0" * 64)
    with pytest.raises(DataError, match="cannot download") as info:
        fetch("tiny", tmp_path / "dl", registry=reg, progress=False)
    assert "kg import PATH --format hsdn" in str(info.value)


def test_http_error_status_is_reported(http_dir, tmp_path) -> None:
    _, base = http_dir
    with pytest.raises(DataError, match="HTTP 404"):
        fetch(
            "tiny",
            tmp_path / "dl",
            registry=_registry(tmp_path, base + "missing.tsv", sha256="0" * 64),
            progress=False,
        )


def test_no_checksum_needs_explicit_consent(tmp_path) -> None:
    with pytest.raises(DataError, match="--allow-unverified"):
        fetch(
            "tiny", tmp_path / "dl", registry=_registry(tmp_path, "http://127.0.0.1:9/s.tsv"), progress=False
        )


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(Exception, match="kg39"):
        fetch("kg3", "/nonexistent")


def test_the_shipped_registry_pins_every_file_with_a_checksum() -> None:
    entries = datasets(REGISTRY)
    assert {"kg39", "qasystem_medical", "chatdoctor_disease_db", "hsdn", "cmekg_tools"} <= set(entries)
    for ds in entries.values():
        assert ds.license and ds.format
        for f in ds.files:
            assert f.url.startswith("https://raw.githubusercontent.com/") and (f.sha256 or f.git_blob)


def test_shipped_checksums_match_the_real_copies(shared_data) -> None:
    kg39 = datasets()["kg39"]
    csv = next(f for f in kg39.files if f.path == "disease.csv")
    assert (
        hashlib.sha256((shared_data / "kg39_medicalgraph" / "disease.csv").read_bytes()).hexdigest()
        == csv.sha256
    )
