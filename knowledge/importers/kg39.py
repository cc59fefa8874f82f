"""39.net disease table (zhihao-chen/QASystemOnMedicalGraph ``data/disease.csv``, GB18030, ~14k diseases).

Columns ``name,alias,part,age,infection,insurance,department,checklist,symptom,complication,treatment,
drug,period,rate,money``; lists are space-separated (aliases: ``,`` ``，`` ``、``) and may end in ``[详细]``.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.clean import is_truncated, split_list
from knowledge.graph import KnowledgeGraph
from knowledge.importers.base import ImportContext, cell, header_index, read_csv, register_importer
from knowledge.schema import Kind, Rel

COLUMNS = {"name": ("name",), "symptom": ("symptom",)}
OPTIONAL = [
    "alias",
    "part",
    "age",
    "infection",
    "insurance",
    "department",
    "checklist",
    "complication",
    "treatment",
    "drug",
    "period",
    "rate",
    "money",
]
ATTRS = {
    "age": "susceptible_population",
    "infection": "transmission",
    "insurance": "insurance",
    "period": "cure_duration",
    "rate": "cure_probability",
    "money": "cost",
}
#: column → (relation, object kind, list separators)
LISTS = {
    "part": (Rel.LOCATED_IN, Kind.BODY_PART, r"\s"),
    "department": (Rel.BELONGS_TO_DEPARTMENT, Kind.DEPARTMENT, r"\s"),
    "checklist": (Rel.NEEDS_CHECK, Kind.CHECK, r"\s"),
    "symptom": (Rel.HAS_SYMPTOM, Kind.SYMPTOM, r"\s"),
    "complication": (Rel.ACOMPANY_WITH, Kind.DISEASE, r"\s"),
    "drug": (Rel.COMMON_DRUG, Kind.DRUG, r"\s"),
}


@register_importer("kg39", source="kg39", lang="zh", help="39.net disease.csv (14k diseases, GB18030)")
def import_kg39(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """Each row: one disease with aliases, attributes and list columns as facts."""
    rows = read_csv(ctx)
    first = next(rows, None)
    if first is None:
        raise ctx.error("empty file")
    cols = header_index(ctx, first[1], COLUMNS, line=first[0])
    header = {h.strip().casefold(): i for i, h in enumerate(first[1]) if h.strip()}
    cols.update({c: header[c] for c in OPTIONAL if c in header})
    needed = max(cols.values()) + 1
    vocab = _vocab(ctx.path.parent)
    for kind, names in vocab.items():
        ctx.cleaner.set_vocab(kind, names)
    deferred: list[tuple[int, dict[str, str]]] = []  # rows whose disease name was cut with '...'
    for line, row in rows:
        ctx.report.read += 1
        if not any(c.strip() for c in row):
            ctx.report.skip("blank row", f"line {line}")
            continue
        if len(row) < needed:
            raise ctx.error(
                f"row has {len(row)} columns, expected at least {needed} (broken quoting?)", line=line
            )
        rec = {k: cell(row, i) for k, i in cols.items()}
        if is_truncated(rec["name"]):
            deferred.append((line, rec))
        else:
            _row(kg, ctx, line, rec)
    # A cut name is restored when exactly one full name in this file (or disease_vocab.txt) extends it.
    names = [e.name for e in kg.entities(Kind.DISEASE)] + vocab.get(Kind.DISEASE, [])
    ctx.cleaner.set_vocab(Kind.DISEASE, names)
    for line, rec in deferred:
        _row(kg, ctx, line, rec)


def _vocab(folder: Path) -> dict[Kind, list[str]]:
    """The 39.net word lists beside disease.csv, when present (UTF-8, the symptom list with a BOM)."""
    files = {
        Kind.DISEASE: ("disease_vocab.txt", "complications_vocab.txt"),
        Kind.SYMPTOM: ("symptom_vocab.txt",),
    }
    out: dict[Kind, list[str]] = {}
    for kind, names in files.items():
        for name in names:
            path = folder / name
            if path.is_file():
                text = path.read_text(encoding="utf-8-sig", errors="replace")
                out.setdefault(kind, []).extend(w.strip() for w in text.splitlines() if w.strip())
    return out


def _row(kg: KnowledgeGraph, ctx: ImportContext, line: int, rec: dict[str, str]) -> None:
    where = f"line {line}"
    name = ctx.cleaner.name(rec["name"], Kind.DISEASE, where)
    if name is None:
        ctx.report.skip("disease name empty or truncated", where)
        return
    src = ctx.src(line)
    aliases = ctx.cleaner.items(split_list(rec.get("alias"), ",，、;；"), Kind.DISEASE, where)
    attrs = {a: ctx.cleaner.text(rec.get(c), where) for c, a in ATTRS.items()}
    treatment = ctx.cleaner.items(split_list(rec.get("treatment"), "、"), Kind.DISEASE, where)
    if treatment:
        attrs["cure_way"] = "、".join(treatment)
    d = kg.add_entity(
        Kind.DISEASE, name, source=src, aliases=aliases, attrs={k: v for k, v in attrs.items() if v}
    )
    for col, (rel, kind, seps) in LISTS.items():
        for obj in ctx.cleaner.items(split_list(rec.get(col), seps), kind, where):
            o = kg.ensure(kind, obj, source=src)
            if o != d:
                kg.add_edge(d, rel, o, (src,))
    ctx.report.imported += 1
