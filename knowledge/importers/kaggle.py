"""Kaggle "Disease Symptom Prediction" tables and the Medicine-Recommendation companions (41 diseases, English).

A folder or one file; the table is told by its file name (``dataset.csv``, ``Symptom_severity.csv``,
``symptom_Description.csv``, ``symptom_precaution.csv``, ``medications.csv``, ``diets.csv``,
``description.csv``, ``precautions_df.csv``, ``workout_df.csv``). Headers may be empty or missing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from knowledge.graph import KnowledgeGraph
from knowledge.importers.base import ImportContext, read_csv, register_importer
from knowledge.schema import Kind, Rel

Table = Callable[[KnowledgeGraph, ImportContext], None]


@register_importer(
    "kaggle",
    source="kaggle",
    lang="en",
    help="Kaggle disease–symptom / medicine-recommendation CSVs (file or folder)",
    folders=True,
)
def import_kaggle(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """Import each known table in the folder (or the one file); unknown files are skipped and reported."""
    files = sorted(p for p in ctx.path.rglob("*") if p.is_file()) if ctx.path.is_dir() else [ctx.path]
    for path in files:
        table = TABLES.get(path.name.lower().replace("-", "_"))
        if table is None:
            if not ctx.path.is_dir():
                raise ctx.error(f"unknown Kaggle table; expected one of: {', '.join(sorted(TABLES))}")
            if path.suffix.lower() == ".csv":
                ctx.report.skip("file is not a known Kaggle table", path.name)
            continue
        sub = ImportContext(path, ctx.source, ctx.report, ctx.encoding, ctx.progress)
        table(kg, sub)


def _rows(ctx: ImportContext, header_word: str | None) -> list[tuple[int, list[str]]]:
    """Non-blank rows with cells stripped; a first row that is a header (or all empty) is dropped."""
    out = []
    for line, row in read_csv(ctx):
        cells = [c.strip() for c in row]
        if line == 1 and (not any(cells) or (header_word and header_word in (c.casefold() for c in cells))):
            continue
        if line == 1 and cells and cells[0] == "" and len(cells) > 1 and cells[1].casefold() == "unnamed: 0":
            continue
        if not any(cells):
            continue
        ctx.report.read += 1
        out.append((line, cells))
    return out


def _disease(kg: KnowledgeGraph, ctx: ImportContext, name: str, line: int) -> str | None:
    clean = ctx.cleaner.name(name, Kind.DISEASE, f"{ctx.path.name}:{line}")
    if clean is None:
        ctx.report.skip("row without a disease name", f"{ctx.path.name}:{line}")
        return None
    return kg.add_entity(Kind.DISEASE, clean, source=ctx.src(f"{ctx.path.name}:{line}"), lang="en")


def _symptom_table(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """``disease, symptom_1 … symptom_17``: 120 rows per disease; one edge per distinct pair, first row cited."""
    for line, cells in _rows(ctx, "disease"):
        d = _disease(kg, ctx, cells[0], line)
        if d is None:
            continue
        src = ctx.src(f"{ctx.path.name}:{line}")
        for sym in ctx.cleaner.items([c for c in cells[1:] if c], Kind.SYMPTOM, f"line {line}"):
            s = kg.ensure(Kind.SYMPTOM, sym, source=src, lang="en")
            if kg.g.get_edge_data(d, s, key=Rel.HAS_SYMPTOM.value) is None:
                kg.add_edge(d, Rel.HAS_SYMPTOM, s, (src,))
        ctx.report.imported += 1


def _severity(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """``symptom,weight`` (1–7); the bogus ``prognosis`` row (a column name, not a symptom) is skipped."""
    for line, cells in _rows(ctx, "weight"):
        if len(cells) < 2 or not cells[1].lstrip("-").isdigit():
            raise ctx.error(f"expected 'symptom,weight', got {','.join(cells)!r}", line=line, field="weight")
        if cells[0].casefold() == "prognosis":
            ctx.report.skip("'prognosis' is the label column, not a symptom", f"line {line}")
            continue
        sym = ctx.cleaner.name(cells[0], Kind.SYMPTOM, f"line {line}")
        if sym is None:
            continue
        s = kg.ensure(Kind.SYMPTOM, sym, source=ctx.src(f"{ctx.path.name}:{line}"), lang="en")
        kg.entity(s).attrs.setdefault("severity", cells[1])
        ctx.report.imported += 1


def _text_table(attr: str, skip_cols: int = 0, join: str = " ") -> Table:
    """``disease,text…`` → one attribute (several text cells joined)."""

    def table(kg: KnowledgeGraph, ctx: ImportContext) -> None:
        texts: dict[str, list[str]] = {}
        for line, cells in _rows(ctx, "disease"):
            cells = cells[skip_cols:]
            d = _disease(kg, ctx, cells[0], line) if cells else None
            if d is None:
                continue
            texts.setdefault(d, []).extend(c for c in cells[1:] if c)
            ctx.report.imported += 1
        for d, parts in texts.items():
            if parts:
                kg.entity(d).attrs.setdefault(attr, join.join(dict.fromkeys(parts)))

    return table


def _list_table(rel: Rel, kind: Kind) -> Table:
    """``Disease,"['a', 'b']"`` → one edge per list item."""

    def table(kg: KnowledgeGraph, ctx: ImportContext) -> None:
        for line, cells in _rows(ctx, "disease"):
            d = _disease(kg, ctx, cells[0], line)
            if d is None or len(cells) < 2:
                continue
            try:
                items = ast.literal_eval(cells[1])
            except (ValueError, SyntaxError):
                raise ctx.error(
                    f"not a Python list literal: {cells[1][:60]!r}", line=line, field="list"
                ) from None
            src = ctx.src(f"{ctx.path.name}:{line}")
            for obj in ctx.cleaner.items(items if isinstance(items, list) else [], kind, f"line {line}"):
                kg.add_edge(d, rel, kg.ensure(kind, obj, source=src, lang="en"), (src,))
            ctx.report.imported += 1

    return table


TABLES: dict[str, Table] = {
    "dataset.csv": _symptom_table,
    "symptom_severity.csv": _severity,
    "symptom_description.csv": _text_table("description"),
    "description.csv": _text_table("description"),
    "symptom_precaution.csv": _text_table("self_care", join="; "),
    "precautions_df.csv": _text_table("self_care", skip_cols=1, join="; "),
    "workout_df.csv": _text_table("lifestyle", skip_cols=2, join="; "),
    "medications.csv": _list_table(Rel.COMMON_DRUG, Kind.DRUG),
    "diets.csv": _list_table(Rel.DO_EAT, Kind.FOOD),
}
