"""cMeKG-style JSON in its two public shapes, as a JSON array or JSON Lines.

- Records (the Huatuo knowledge base): ``{"中心词": "偏头痛", "相关疾病": [...], "相关症状": [...],
  "所属科室": [...], "发病部位": [...], ...}``: the centre word is a disease.
- Triples (CMeKG_tools, 23 predicates): ``{"text": ..., "spo_list": [[s, p, o], ...]}``: each subject's kind
  is inferred from its predicates (drug label predicates → drug; 临床表现/检查/并发症/病因/治疗 → disease;
  only 相关疾病/相关症状 → a check when the name looks like one, else a symptom).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from knowledge.graph import KnowledgeGraph
from knowledge.importers.base import ImportContext, read_lines, register_importer
from knowledge.schema import Kind, Rel

#: record field → (relation, object kind); the centre word is the subject
RECORD_LISTS = {
    "相关疾病": (Rel.ACOMPANY_WITH, Kind.DISEASE),
    "并发症": (Rel.ACOMPANY_WITH, Kind.DISEASE),
    "相关症状": (Rel.HAS_SYMPTOM, Kind.SYMPTOM),
    "临床表现": (Rel.HAS_SYMPTOM, Kind.SYMPTOM),
    "症状": (Rel.HAS_SYMPTOM, Kind.SYMPTOM),
    "所属科室": (Rel.BELONGS_TO_DEPARTMENT, Kind.DEPARTMENT),
    "就诊科室": (Rel.BELONGS_TO_DEPARTMENT, Kind.DEPARTMENT),
    "发病部位": (Rel.LOCATED_IN, Kind.BODY_PART),
    "检查": (Rel.NEEDS_CHECK, Kind.CHECK),
    "实验室检查": (Rel.NEEDS_CHECK, Kind.CHECK),
    "辅助检查": (Rel.NEEDS_CHECK, Kind.CHECK),
    "药物治疗": (Rel.COMMON_DRUG, Kind.DRUG),
    "常用药物": (Rel.COMMON_DRUG, Kind.DRUG),
}
ALIAS_FIELDS = ("同义词", "别名", "英文名称")
#: text predicates/fields → entity attribute (several values are joined with '；')
DISEASE_TEXT = {
    "病因": "cause",
    "预防": "prevention",
    "治疗": "cure_way",
    "治疗方式": "cure_way",
    "简介": "description",
    "描述": "description",
    "多发群体": "susceptible_population",
    "易感人群": "susceptible_population",
    "传播途径": "transmission",
    "治愈率": "cure_probability",
    "治疗周期": "cure_duration",
    "发病率": "incidence",
}
DRUG_TEXT = {
    "适应症": "indications",
    "主治": "indications",
    "功能主治": "indications",
    "用法用量": "dosage",
    "不良反应": "adverse_reactions",
    "禁忌": "contraindications",
    "注意事项": "precautions",
    "药物相互作用": "interactions",
    "成份": "ingredients",
    "性状": "appearance",
    "贮藏": "storage",
    "有效期": "shelf_life",
    "规格": "specification",
    "功效": "efficacy",
    "性味": "nature_flavour",
    "入药部位": "medicinal_part",
}
DISEASE_PREDICATES = {"临床表现", "检查", "并发症", "病因", "治疗"}
_CHECK_NAME = re.compile(r"(检查|检测|试验|测定|计数|显像|造影|化验|检验|扫描|镜|超声|CT|MRI|呼气)")


@register_importer(
    "cmekg", source="cmekg", lang="zh", help="cMeKG JSON: {中心词,...} records or {text, spo_list}"
)
def import_cmekg(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """Records are imported one by one; triples are grouped by subject first (to infer its kind)."""
    triples: dict[str, list[tuple[str, str, str]]] = {}
    for where, rec in _records(ctx):
        ctx.report.read += 1
        if "中心词" in rec:
            _record(kg, ctx, where, rec)
        elif isinstance(rec.get("spo_list"), list):
            for spo in rec["spo_list"]:
                if not (
                    isinstance(spo, list | tuple) and len(spo) == 3 and all(isinstance(x, str) for x in spo)
                ):
                    raise ctx.error(
                        f"{where}: spo_list item is not [subject, predicate, object]", field="spo_list"
                    )
                triples.setdefault(spo[0], []).append((where, spo[1], spo[2]))
            ctx.report.imported += 1
        else:
            ctx.report.skip("record has neither 中心词 nor spo_list", where)
    for subject, items in triples.items():
        _subject(kg, ctx, subject, items)


def _records(ctx: ImportContext) -> Iterator[tuple[str, dict]]:
    """``(where, object)`` from a JSON array (read whole) or JSON Lines (streamed)."""
    lines = read_lines(ctx)
    for n, text in lines:
        if not text.strip():
            continue
        if text.lstrip().startswith("["):
            yield from _array(ctx, text + "".join(t for _, t in lines), n)
            return
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ctx.error(f"not valid JSON ({exc.msg} at column {exc.colno})", line=n) from None
        if not isinstance(rec, dict):
            raise ctx.error(f"expected a JSON object, got {type(rec).__name__}", line=n)
        yield f"line {n}", rec


def _array(ctx: ImportContext, text: str, first_line: int) -> Iterator[tuple[str, dict]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ctx.error(f"not valid JSON ({exc.msg})", line=first_line + exc.lineno - 1) from None
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise ctx.error(f"record {i}: expected a JSON object, got {type(rec).__name__}")
        yield f"record {i}", rec


def _values(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if isinstance(v, str | int | float)]


def _record(kg: KnowledgeGraph, ctx: ImportContext, where: str, rec: dict) -> None:
    name = ctx.cleaner.name(rec.get("中心词"), Kind.DISEASE, where)
    if name is None:
        ctx.report.skip("record without a usable 中心词", where)
        return
    src = ctx.src(where.removeprefix("line ").removeprefix("record "))
    aliases = [a for f in ALIAS_FIELDS for a in ctx.cleaner.items(_values(rec.get(f)), Kind.DISEASE, where)]
    attrs = {}
    for field, attr in DISEASE_TEXT.items():
        texts = [t for t in (ctx.cleaner.text(v, where) for v in _values(rec.get(field))) if t]
        if texts and attr not in attrs:
            attrs[attr] = "；".join(texts)
    d = kg.add_entity(Kind.DISEASE, name, source=src, aliases=aliases, attrs=attrs)
    for field, value in rec.items():
        if field in RECORD_LISTS:
            rel, kind = RECORD_LISTS[field]
            for obj in ctx.cleaner.items(_values(value), kind, where):
                o = kg.ensure(kind, obj, source=src)
                if o != d:
                    kg.add_edge(d, rel, o, (src,))
        elif field not in DISEASE_TEXT and field not in ALIAS_FIELDS and field != "中心词":
            ctx.report.skip(f"unknown field {field!r} ignored", where)
    ctx.report.imported += 1


def _subject_kind(subject: str, predicates: set[str]) -> Kind:
    if predicates & set(DRUG_TEXT):
        return Kind.DRUG
    if predicates & DISEASE_PREDICATES:
        return Kind.DISEASE
    return Kind.CHECK if _CHECK_NAME.search(subject) else Kind.SYMPTOM


def _subject(kg: KnowledgeGraph, ctx: ImportContext, subject: str, items: list[tuple[str, str, str]]) -> None:
    kind = _subject_kind(subject, {p for _, p, _ in items})
    name = ctx.cleaner.name(subject, kind, items[0][0])
    if name is None:
        ctx.report.skip("subject dropped by a cleaning rule", items[0][0])
        return
    texts: dict[str, list[str]] = {}
    s = kg.add_entity(kind, name, source=ctx.src(items[0][0].removeprefix("record ")))
    for where, pred, obj in items:
        src = ctx.src(where.removeprefix("record "))
        attr = (DRUG_TEXT if kind == Kind.DRUG else DISEASE_TEXT).get(pred)
        if attr:
            texts.setdefault(attr, []).append(obj.strip())
            continue
        _triple(kg, ctx, s, kind, pred, obj, src, where)
    for attr, values in texts.items():
        kg.entity(s).attrs.setdefault(attr, "；".join(dict.fromkeys(v for v in values if v)))


def _triple(kg: KnowledgeGraph, ctx: ImportContext, s: str, kind: Kind, pred: str, obj: str, src, where: str):
    """One relation triple, oriented the way our relations read (disease → symptom/check/complication)."""
    if kind == Kind.DISEASE and pred in ("临床表现", "相关症状"):
        target, rel, head = Kind.SYMPTOM, Rel.HAS_SYMPTOM, True
    elif kind == Kind.DISEASE and pred == "检查":
        target, rel, head = Kind.CHECK, Rel.NEEDS_CHECK, True
    elif kind == Kind.DISEASE and pred in ("并发症", "相关疾病"):
        target, rel, head = Kind.DISEASE, Rel.ACOMPANY_WITH, True
    elif pred == "相关疾病":  # check/symptom → disease: the disease needs the check / has the symptom
        target, head = Kind.DISEASE, False
        rel = Rel.NEEDS_CHECK if kind == Kind.CHECK else Rel.HAS_SYMPTOM
    elif pred == "相关症状":
        target, rel, head = Kind.SYMPTOM, Rel.RELATED_TO, True
    else:
        ctx.report.skip(f"predicate {pred!r} does not apply to a {kind.value}", where)
        return
    name = ctx.cleaner.name(obj, target, where)
    if name is None:
        return
    o = kg.ensure(target, name, source=src)
    if o != s:
        kg.add_edge(s, rel, o, (src,)) if head else kg.add_edge(o, rel, s, (src,))
