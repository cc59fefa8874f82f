"""KG importers, one module per input format, all in the ``IMPORTERS`` registry.

``import_file(kg, path, "kg39")`` streams one file (or a folder, for the word-list and Kaggle formats)
into ``kg`` and returns an ``ImportReport``; ``detect_format(path)`` names the format from its header.
"""

from __future__ import annotations

import json
from pathlib import Path

from chatdoctor.errors import DataError
from knowledge.graph import KnowledgeGraph
from knowledge.importers import chatdoctor_db, cmekg, hsdn, jsonl, kaggle, kg39, qasystem, wordlist
from knowledge.importers.base import IMPORTERS, ImportContext, Importer, ImportReport, detect_encoding

__all__ = [
    "IMPORTERS",
    "ImportReport",
    "Importer",
    "detect_format",
    "import_file",
    "import_files",
]
_MODULES = (chatdoctor_db, cmekg, hsdn, jsonl, kaggle, kg39, qasystem, wordlist)  # imported to register


def import_file(
    kg: KnowledgeGraph,
    path: str | Path,
    fmt: str = "auto",
    *,
    source: str | None = None,
    encoding: str | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import one file/folder into ``kg``; on ``DataError`` ``kg`` may hold part of it (callers write nothing)."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", path=path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    imp = IMPORTERS.get(fmt)
    if path.is_dir() and not imp.folders:
        raise DataError(f"the {fmt} format reads a file, not a folder; name the file inside", path=path)
    report = ImportReport(str(path), fmt, source or imp.source)
    try:
        imp.fn(kg, ImportContext(path, report.source, report, encoding, progress))
    except OSError as exc:  # unreadable file, folder where a file was expected...
        raise DataError(f"cannot read: {exc.strerror or exc}", path=exc.filename or path) from None
    return report


def import_files(
    paths: list[str | Path], fmt: str = "auto", *, kg: KnowledgeGraph | None = None, **kw: object
) -> tuple[KnowledgeGraph, list[ImportReport]]:
    """Import several inputs into one graph (a new one unless ``kg`` is given), merging as they come."""
    kg = kg if kg is not None else KnowledgeGraph()
    return kg, [import_file(kg, p, fmt, **kw) for p in paths]  # type: ignore[arg-type]


def detect_format(path: str | Path) -> str:
    """Guess the format from a folder's file names or a file's first line; DataError when unsure."""
    path = Path(path)
    if path.is_dir():
        names = {p.name.lower().replace("-", "_") for p in path.rglob("*")}
        if names & {"dataset.csv", "symptom_severity.csv", "medications.csv", "symptom_description.csv"}:
            return "kaggle"
        if any(n.endswith(".txt") for n in names):
            return "wordlist"
        raise DataError("cannot tell the format of this folder; pass --format", path=path)
    enc = detect_encoding(path)
    with open(path, encoding=enc, errors="replace") as f:
        head = f.read(4096)
    first = head.lstrip().split("\n", 1)[0].strip().casefold()
    if path.suffix.lower() == ".txt" and not first.startswith(("{", "[")):
        return "wordlist"
    if "tfidf" in first and "symptom" in first and "\t" in first:
        return "hsdn"
    if first.startswith("name,alias,part"):
        return "kg39"
    if "disease" in first and "symptom" in first and "," in first:
        return "chatdoctor"
    if first.startswith("{"):
        return _json_format(first)
    if first.startswith("[") and ("spo_list" in head or "中心词" in head):
        return "cmekg"
    raise DataError(
        f"cannot tell the format from the first line {first[:60]!r}; pass --format "
        f"(one of {', '.join(IMPORTERS.names())})",
        path=path,
    )


def _json_format(first: str) -> str:
    try:
        rec = json.loads(first)
    except json.JSONDecodeError:
        rec = {}
    keys = set(rec) if isinstance(rec, dict) else set()
    if keys & {"中心词", "spo_list"}:
        return "cmekg"
    if keys & {"type"} and rec.get("type") in ("entity", "fact", "graph"):
        return "jsonl"
    if '"$oid"' in first or keys & {"cure_department", "symptom", "acompany"}:
        return "qasystem"
    return "cmekg" if "中心词" in first else "qasystem"
