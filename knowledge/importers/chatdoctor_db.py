"""ChatDoctor's disease database (``format_dataset.csv``, ``disease_database_mini.csv``, ``disease_symptom.csv``).

Header ``idx,disease,Symptom,reason,TestsAndProcedures,commonMedications`` (the mini file names the last
two ``Medical Tests``/``Medications``); list cells are Python literals, read with ``ast.literal_eval``.
"""

from __future__ import annotations

import ast
import re

from knowledge.graph import KnowledgeGraph
from knowledge.importers.base import ImportContext, cell, open_table, register_importer
from knowledge.schema import Kind, Rel

REQUIRED = {"disease": ("disease",), "symptom": ("Symptom", "Symptoms")}
OPTIONAL = {
    "reason": ("reason", "description"),
    "tests": ("TestsAndProcedures", "Medical Tests"),
    "drugs": ("commonMedications", "Medications"),
}
LISTS = {
    "symptom": (Rel.HAS_SYMPTOM, Kind.SYMPTOM),
    "tests": (Rel.NEEDS_CHECK, Kind.CHECK),
    "drugs": (Rel.COMMON_DRUG, Kind.DRUG),
}
#: A ``reason`` that is only a drug-name fragment (``" beclomethasone nasal product, "``), not a description.
_FRAGMENT = re.compile(r"^[\w\s()\-/.,]{0,80},?\s*$")


@register_importer(
    "chatdoctor",
    source="chatdoctor_disease_db",
    lang="en",
    help="ChatDoctor disease database CSV (796 diseases, English)",
)
def import_chatdoctor(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """One disease per row with its symptoms, tests and medications."""
    rows, cols, header = open_table(ctx, REQUIRED, OPTIONAL)
    headers = {k: header[i].strip() for k, i in cols.items() if i is not None}  # for error messages
    for line, row in rows:
        ctx.report.read += 1
        if not any(c.strip() for c in row):
            ctx.report.skip("blank row", f"line {line}")
            continue
        _row(kg, ctx, line, {k: cell(row, i) for k, i in cols.items()}, headers)


def _row(
    kg: KnowledgeGraph, ctx: ImportContext, line: int, rec: dict[str, str], headers: dict[str, str]
) -> None:
    where = f"line {line}"
    name = ctx.cleaner.name(rec["disease"], Kind.DISEASE, where)
    if name is None:
        ctx.report.skip("disease name empty or truncated", where)
        return
    src = ctx.src(line)
    attrs = {}
    reason = ctx.cleaner.text(rec.get("reason"), where)
    if reason and _FRAGMENT.match(reason) and "." not in reason.rstrip(". ,"):
        ctx.report.clean("dropped 'reason' that is only a drug-name fragment", reason, where)
    elif reason and reason.endswith("may refer to:"):
        ctx.report.clean("dropped 'reason' that is a disambiguation stub", reason, where)
    elif reason:
        attrs["description"] = reason
    d = kg.add_entity(Kind.DISEASE, name, source=src, lang="en", attrs=attrs)
    for col, (rel, kind) in LISTS.items():
        for obj in ctx.cleaner.items(_literal(ctx, rec.get(col), line, headers.get(col, col)), kind, where):
            kg.add_edge(d, rel, kg.ensure(kind, obj, source=src, lang="en"), (src,))
    ctx.report.imported += 1


def _literal(ctx: ImportContext, text: str | None, line: int, field: str) -> list[str]:
    """A Python list literal such as ``"['Cough', 'Fever']"``; empty cell → []."""
    if not text or not text.strip():
        return []
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise ctx.error(f"not a Python list literal: {text[:60]!r}", line=line, field=field) from None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ctx.error("expected a list of strings", line=line, field=field)
    return list(value)
