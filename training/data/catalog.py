"""The dataset registry (``registry.yaml``) and ``fetch``: download with progress, resume and checksum.

A download goes to ``<dest>/<file>.part``; an interrupted one resumes with an HTTP ``Range`` request.
The finished file is checked against the registry's sha256 (when known) before it is renamed into
place, so ``<dest>/<file>`` only ever exists complete.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chatdoctor.config import from_dict
from chatdoctor.errors import ChatDoctorError, ConfigError, DataError
from chatdoctor.io import sha256_file
from chatdoctor.registry import Registry

REGISTRY_FILE = Path(__file__).with_name("registry.yaml")


class DownloadError(ChatDoctorError):
    """A dataset could not be downloaded (network, HTTP status or checksum)."""


@dataclass
class DatasetInfo:
    """One registry entry; ``loader`` names the function in ``LOADERS`` that reads ``file_name``."""

    description: str
    urls: list[str]
    file_name: str
    loader: str
    license: str
    formatting: str
    sha256: str | None = None  # null: unknown (never invented)
    lang: str | None = None
    container: str = ""
    num_samples: int | None = None
    homepage: str | None = None
    hf_hub_url: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


def load_registry(path: Path = REGISTRY_FILE) -> Registry[DatasetInfo]:
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    reg: Registry[DatasetInfo] = Registry("dataset")
    for name, entry in data.items():
        try:
            reg.register(name, from_dict(DatasetInfo, entry, name))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return reg


def fetch(
    name: str, dest: Path, *, registry: Registry[DatasetInfo] | None = None, timeout: float = 30.0
) -> Path:
    """Download dataset ``name`` into ``dest`` (trying each URL in turn); returns the file path."""
    info = (registry or load_registry()).get(name)
    target = Path(dest) / info.file_name
    if target.is_file() and (info.sha256 is None or sha256_file(target) == info.sha256):
        return target
    errors = []
    for url in info.urls:
        try:
            return _download(url, target, info.sha256, timeout)
        except DownloadError as exc:
            errors.append(f"{url}: {exc}")
    hint = f"; or download it yourself and pass the local path to the '{info.loader}' loader"
    raise DownloadError(f"could not fetch {name!r} ({'; '.join(errors)}){hint}")


def _download(url: str, target: Path, sha256: str | None, timeout: float) -> Path:
    import httpx
    from tqdm import tqdm

    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with httpx.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as resp:
            if resp.status_code == 416:  # the part file is already complete
                pass
            elif resp.status_code not in (200, 206):
                raise DownloadError(f"HTTP {resp.status_code}")
            else:
                if resp.status_code == 200:
                    have = 0  # the server ignored Range: start over
                total = have + int(resp.headers.get("content-length", 0)) or None
                with (
                    part.open("ab" if have else "wb") as f,
                    tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=target.name) as bar,
                ):
                    for chunk in resp.iter_bytes(1 << 16):
                        f.write(chunk)
                        bar.update(len(chunk))
    except httpx.HTTPError as exc:
        kind = (
            "network unreachable or blocked"
            if isinstance(exc, httpx.ConnectError | httpx.TimeoutException)
            else "transfer failed"
        )
        kept = (
            f"; {part.stat().st_size} bytes kept in {part} to resume"
            if part.exists() and part.stat().st_size
            else ""
        )
        raise DownloadError(f"{kind} ({exc.__class__.__name__}: {exc}){kept}") from None
    got = sha256_file(part)
    if sha256 and got != sha256:
        part.unlink()
        raise DownloadError(f"checksum mismatch: expected sha256 {sha256}, got {got}")
    os.replace(part, target)
    return target


def describe(info: DatasetInfo) -> dict[str, Any]:
    return {
        "urls": info.urls,
        "sha256": info.sha256 or "unknown",
        "license": info.license,
        "loader": info.loader,
    }


def check_file(path: Path, info: DatasetInfo) -> None:
    """Raise DataError when a local copy does not match the registry checksum."""
    if info.sha256 and sha256_file(path) != info.sha256:
        raise DataError(f"sha256 differs from the registry's {info.sha256}", path=path)
