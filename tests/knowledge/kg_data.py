"""Real-data graphs for the importer/store tests, built once per test session (read-only: never mutate)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from knowledge.graph import KnowledgeGraph
from knowledge.importers import ImportReport, import_file


@cache
def imported(path: Path, fmt: str = "auto") -> tuple[KnowledgeGraph, ImportReport]:
    """``path`` imported alone into a fresh graph."""
    kg = KnowledgeGraph()
    report = import_file(kg, path, fmt, progress=False)
    return kg, report


def facts(kg: KnowledgeGraph, disease: str, rel: str, kind: str = "disease") -> set[str]:
    """Object names of ``disease —rel→ *``."""
    (key,) = kg.find(disease, kind)
    return {f.object_name for f in kg.facts(key, rel)}
