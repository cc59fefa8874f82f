"""`data fetch`: resume with HTTP Range, checksum verification, and a clear error when offline."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chatdoctor.registry import Registry
from training.data.catalog import DatasetInfo, DownloadError, fetch

PAYLOAD = b'[{"instruction": "q", "input": "", "output": "a"}]\n' * 20000


class RangeServer:
    """Serves PAYLOAD at /data.json honouring ``Range: bytes=N-``; can cut the body short once."""

    def __init__(self) -> None:
        self.ranges: list[str | None] = []
        self.cut_at: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                server.ranges.append(rng)
                start = int(rng.split("=")[1].rstrip("-")) if rng else 0
                body = PAYLOAD[start:]
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_at is not None:
                    self.wfile.write(body[: server.cut_at])
                    server.cut_at = None
                    self.wfile.flush()
                    self.connection.close()
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data.json"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = RangeServer()
    yield s
    s.close()


def registry(url: str, sha256: str | None) -> Registry[DatasetInfo]:
    reg: Registry[DatasetInfo] = Registry("dataset")
    reg.register(
        "demo",
        DatasetInfo(
            description="d",
            urls=[url],
            file_name="data.json",
            loader="alpaca",
            license="CC0",
            formatting="alpaca",
            sha256=sha256,
        ),
    )
    return reg


def test_an_interrupted_download_resumes_with_a_range_request(tmp_path, server):
    server.cut_at = 400_000
    reg = registry(server.url, hashlib.sha256(PAYLOAD).hexdigest())
    with pytest.raises(DownloadError, match=r"kept in .*data\.json\.part to resume"):
        fetch("demo", tmp_path, registry=reg, timeout=5)
    have = (tmp_path / "data.json.part").stat().st_size
    assert 0 < have <= 400_000
    assert not (tmp_path / "data.json").exists()
    path = fetch("demo", tmp_path, registry=reg, timeout=5)
    assert path.read_bytes() == PAYLOAD
    assert server.ranges == [None, f"bytes={have}-"]


def test_a_checksum_mismatch_is_refused_and_nothing_kept(tmp_path, server):
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch("demo", tmp_path, registry=registry(server.url, "0" * 64), timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_host_says_the_network_is_unavailable(tmp_path):
    reg = registry("http://127.0.0.1:9/nothing.json", None)
    with pytest.raises(
        DownloadError, match=r"network unreachable or blocked.*pass the local path to the 'alpaca' loader"
    ):
        fetch("demo", tmp_path, registry=reg, timeout=2)


def test_an_existing_complete_file_is_not_downloaded_again(tmp_path, server):
    (tmp_path / "data.json").write_bytes(PAYLOAD)
    fetch("demo", tmp_path, registry=registry(server.url, hashlib.sha256(PAYLOAD).hexdigest()), timeout=5)
    assert server.ranges == []
