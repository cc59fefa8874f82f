"""QASystemOnMedicalKG ``medical.json``: xywy.com disease records, one mongoexport JSON object per line.

The original is GBK with CRLF; every field is listed in ../shared/data/qasystem_medical_sample/SOURCE.md.
"""

from __future__ import annotations

import json
import re

from knowledge.graph import KnowledgeGraph
from knowledge.importers.base import ImportContext, read_lines, register_importer
from knowledge.schema import Kind, Rel

#: upstream text field → our attribute
ATTRS = {
    "desc": "description",
    "prevent": "prevention",
    "cause": "cause",
    "yibao_status": "insurance",
    "get_prob": "incidence",
    "easy_get": "susceptible_population",
    "get_way": "transmission",
    "cure_lasttime": "cure_duration",
    "cured_prob": "cure_probability",
    "cost_money": "cost",
}
#: upstream list field → (relation, object kind)
LISTS = {
    "symptom": (Rel.HAS_SYMPTOM, Kind.SYMPTOM),
    "acompany": (Rel.ACOMPANY_WITH, Kind.DISEASE),
    "check": (Rel.NEEDS_CHECK, Kind.CHECK),
    "common_drug": (Rel.COMMON_DRUG, Kind.DRUG),
    "recommand_drug": (Rel.RECOMMENDED_DRUG, Kind.DRUG),
    "do_eat": (Rel.DO_EAT, Kind.FOOD),
    "not_eat": (Rel.NOT_EAT, Kind.FOOD),
    "recommand_eat": (Rel.RECOMMENDED_EAT, Kind.FOOD),
}
_PRODUCT = re.compile(r"^(?P<producer>.+?)\((?P<drug>[^()]+)\)$")


@register_importer("qasystem", source="qasystem_medical", lang="zh", help="QASystemOnMedicalKG medical.json")
def import_qasystem(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """One disease per line; blank lines are skipped, a line that is not a JSON object is an error."""
    for line, text in read_lines(ctx):
        if not text.strip():
            continue
        ctx.report.read += 1
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ctx.error(f"not valid JSON ({exc.msg} at column {exc.colno})", line=line) from None
        if not isinstance(rec, dict):
            raise ctx.error(f"expected a JSON object, got {type(rec).__name__}", line=line)
        _record(kg, ctx, line, rec)


def _record(kg: KnowledgeGraph, ctx: ImportContext, line: int, rec: dict) -> None:
    where = f"line {line}"
    name = ctx.cleaner.name(rec.get("name"), Kind.DISEASE, where)
    if name is None:
        ctx.report.skip("record without a usable name", where)
        return
    oid = rec.get("_id", {}).get("$oid") if isinstance(rec.get("_id"), dict) else None
    src = ctx.src(oid or line)
    attrs = {ours: ctx.cleaner.text(_text(ctx, rec, f, line), where) for f, ours in ATTRS.items()}
    cure_way = ctx.cleaner.items(_list(ctx, rec, "cure_way", line), Kind.DISEASE, where)
    if cure_way:
        attrs["cure_way"] = "、".join(cure_way)
    d = kg.add_entity(Kind.DISEASE, name, source=src, attrs={k: v for k, v in attrs.items() if v})
    for field, (rel, kind) in LISTS.items():
        for obj in ctx.cleaner.items(_list(ctx, rec, field, line), kind, where):
            o = kg.ensure(kind, obj, source=src)
            if o != d:
                kg.add_edge(d, rel, o, (src,))
    _departments(kg, ctx, d, _list(ctx, rec, "cure_department", line), src, where)
    for product in ctx.cleaner.items(_list(ctx, rec, "drug_detail", line), Kind.PRODUCER, where):
        m = _PRODUCT.match(product)
        if m is None:
            ctx.report.clean("drug_detail without '(generic drug)' kept as producer only", product, where)
            continue
        p = kg.ensure(Kind.PRODUCER, m["producer"].strip(), source=src)
        kg.add_edge(p, Rel.DRUG_OF, kg.ensure(Kind.DRUG, m["drug"].strip(), source=src), (src,))
    ctx.report.imported += 1


def _departments(kg: KnowledgeGraph, ctx: ImportContext, d: str, path: list[str], src, where: str) -> None:
    """``[big, small]``: the disease belongs to the most specific department; it records its parent."""
    names = ctx.cleaner.items(path, Kind.DEPARTMENT, where)
    if not names:
        return
    dep = kg.ensure(Kind.DEPARTMENT, names[-1], source=src)
    if len(names) > 1:
        kg.entity(dep).attrs.setdefault("parent", names[-2])
    kg.add_edge(d, Rel.BELONGS_TO_DEPARTMENT, dep, (src,))


def _list(ctx: ImportContext, rec: dict, field: str, line: int) -> list[str]:
    value = rec.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.error("expected a list of strings", line=line, field=field)
    return value


def _text(ctx: ImportContext, rec: dict, field: str, line: int) -> str | None:
    value = rec.get(field)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise ctx.error(f"expected text, got {type(value).__name__}", line=line, field=field)
