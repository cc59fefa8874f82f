"""Download public knowledge graphs listed in ``knowledge/sources.yaml``, verifying each file's checksum.

``fetch("kg39", dest)`` writes ``dest/kg39/<files>`` (each file appears only after its checksum
matched) and returns the folder; ``chatdoctor kg import`` then takes the entry's ``import`` path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from tqdm import tqdm

from chatdoctor.errors import ConfigError, DataError
from chatdoctor.io import atomic_write

REGISTRY = Path(__file__).with_name("sources.yaml")
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative path inside the dataset folder
    url: str
    sha256: str | None = None
    git_blob: str | None = None  # upstream git blob id, when no copy was available to hash
    size: int | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    format: str
    license: str
    homepage: str
    import_path: str  # what to pass to `kg import`, relative to the dataset folder
    files: tuple[RemoteFile, ...] = field(default_factory=tuple)


def datasets(registry: str | Path = REGISTRY) -> dict[str, Dataset]:
    """Every dataset in the registry file, by name."""
    try:
        raw = yaml.safe_load(Path(registry).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{registry}: cannot read the KG source registry ({exc})") from None
    out = {}
    for name, d in raw.items():
        try:
            base = d.get("base_url", "")
            files = tuple(
                RemoteFile(
                    f["path"],
                    f.get("url") or base + f["path"],
                    f.get("sha256"),
                    f.get("git_blob"),
                    f.get("size"),
                )
                for f in d["files"]
            )
            out[name] = Dataset(
                name,
                d.get("description", ""),
                d["format"],
                d.get("license", "unknown"),
                d.get("homepage", ""),
                d.get("import", "."),
                files,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{registry}: entry {name!r} is missing {exc}") from None
    return out


def get_dataset(name: str, registry: str | Path = REGISTRY) -> Dataset:
    from chatdoctor.registry import Registry

    reg: Registry[Dataset] = Registry("public KG")
    for key, ds in datasets(registry).items():
        reg.register(key, ds)
    return reg.get(name)


def fetch(
    name: str,
    dest: str | Path,
    *,
    registry: str | Path = REGISTRY,
    allow_unverified: bool = False,
    progress: bool = True,
) -> Path:
    """Download every file of dataset ``name`` into ``dest/name``; returns the path to import."""
    ds = get_dataset(name, registry)
    folder = Path(dest) / name
    for rf in ds.files:
        if not (rf.sha256 or rf.git_blob) and not allow_unverified:
            raise DataError(
                "no checksum is recorded for this file; pass --allow-unverified to accept it", path=rf.url
            )
        target = folder / rf.path
        if target.is_file() and _matches(target.read_bytes(), rf):
            continue  # already there and verified
        _download(rf, target, ds, progress)
    return folder / ds.import_path


def _matches(data: bytes, rf: RemoteFile) -> bool:
    if rf.sha256:
        return hashlib.sha256(data).hexdigest() == rf.sha256
    if rf.git_blob:
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == rf.git_blob
    return True


def _download(rf: RemoteFile, target: Path, ds: Dataset, progress: bool) -> None:
    """Stream ``rf.url`` into ``target`` (temporary file, renamed only when the checksum matches)."""
    import httpx

    hint = (
        f"download it by hand from {ds.homepage or rf.url}, then run "
        f"`chatdoctor kg import PATH --format {ds.format}`"
    )
    chunks: list[bytes] = []
    try:
        with httpx.stream("GET", rf.url, timeout=TIMEOUT_S, follow_redirects=True) as resp:
            if resp.status_code != 200:
                raise DataError(f"HTTP {resp.status_code} while downloading; {hint}", path=rf.url)
            total = int(resp.headers.get("content-length") or rf.size or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=rf.path, disable=not progress) as bar:
                for chunk in resp.iter_bytes():
                    chunks.append(chunk)
                    bar.update(len(chunk))
    except httpx.HTTPError as exc:
        raise DataError(
            f"cannot download ({type(exc).__name__}: {exc}); this machine may be offline: {hint}", path=rf.url
        ) from None
    data = b"".join(chunks)
    if not _matches(data, rf):
        got = hashlib.sha256(data).hexdigest()
        raise DataError(f"checksum mismatch (got sha256 {got}); the file was not saved", path=rf.url)
    with atomic_write(target, "wb") as f:
        f.write(data)
