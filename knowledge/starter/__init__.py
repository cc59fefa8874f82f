"""The starter graph shipped with ChatDoctor: common conditions in Chinese and English, written by us.

``diseases.yaml`` holds one record per condition (names, symptoms most typical first, checks, drugs,
department, body part, foods, complications, description, cause, red flags, self-care);
``vocab.yaml`` gives every other entity its English name and aliases; ``extra.yaml`` adds prevention,
duration, who-gets-it and outlook texts to some conditions. One node per concept: the node
name is Chinese, ``Entity.names`` has ``{"zh", "en"}`` and the aliases mix both languages. English
text attributes sit next to the Chinese ones under ``<attr>_en`` (see ``attr_text``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from chatdoctor.errors import DataError
from knowledge.graph import KnowledgeGraph
from knowledge.schema import Entity, Kind, Rel, Source

HERE = Path(__file__).parent
DISEASES = HERE / "diseases.yaml"
VOCAB = HERE / "vocab.yaml"
EXTRA = HERE / "extra.yaml"  # optional texts (prevention, duration, who gets it) for some conditions
SOURCE_NAME = "starter"

#: diseases.yaml list field → (relation, object kind)
LIST_FIELDS: dict[str, tuple[Rel, Kind]] = {
    "symptoms": (Rel.HAS_SYMPTOM, Kind.SYMPTOM),
    "checks": (Rel.NEEDS_CHECK, Kind.CHECK),
    "drugs": (Rel.COMMON_DRUG, Kind.DRUG),
    "department": (Rel.BELONGS_TO_DEPARTMENT, Kind.DEPARTMENT),
    "body_part": (Rel.LOCATED_IN, Kind.BODY_PART),
    "eat": (Rel.DO_EAT, Kind.FOOD),
    "avoid": (Rel.NOT_EAT, Kind.FOOD),
    "complications": (Rel.ACOMPANY_WITH, Kind.DISEASE),
}
#: diseases.yaml text field → disease attribute (Chinese; English under ``<attr>_en``)
TEXT_FIELDS = {"desc": "description", "cause": "cause", "red_flags": "red_flags", "self_care": "self_care"}
EXTRA_FIELDS = ("prevention", "cure_duration", "susceptible_population", "cure_probability")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster than pure Python
REQUIRED = ("name", "en", "symptoms", "department", "desc")


def attr_text(entity: Entity, name: str, lang: str = "zh") -> str | None:
    """A text attribute in ``lang``, falling back to the other language."""
    if lang == "en":
        return entity.attrs.get(f"{name}_en") or entity.attrs.get(name)
    return entity.attrs.get(name) or entity.attrs.get(f"{name}_en")


def _read(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(
            f"invalid YAML ({getattr(exc, 'problem', exc)})", path=path, line=mark.line + 1 if mark else None
        ) from None


def _add_vocab(kg: KnowledgeGraph, vocab: dict, path: Path) -> dict[tuple[Kind, str], str]:
    keys: dict[tuple[Kind, str], str] = {}
    for kind_name, entries in vocab.items():
        try:
            kind = Kind(kind_name)
        except ValueError:
            raise DataError(f"unknown entity kind {kind_name!r}", path=path, field=kind_name) from None
        for zh, spec in entries.items():
            if not isinstance(spec, list) or not spec or not all(isinstance(s, str) for s in spec):
                raise DataError("expected [English name, aliases...]", path=path, field=f"{kind_name}.{zh}")
            keys[(kind, str(zh))] = kg.add_entity(
                kind,
                str(zh),
                source=Source(SOURCE_NAME, f"vocab/{kind_name}/{zh}"),
                aliases=spec,
                names={"zh": str(zh), "en": spec[0]},
            )
    return keys


def _texts(rec: dict, fields: dict[str, str], where: str, path: Path) -> dict[str, str]:
    """``{field: {zh, en}}`` → attributes ``attr`` (Chinese) and ``attr_en``."""
    attrs: dict[str, str] = {}
    for field, attr in fields.items():
        text = rec.get(field) or {}
        if not isinstance(text, dict):
            raise DataError("expected {zh: ..., en: ...}", path=path, field=f"{where}.{field}")
        if text.get("zh"):
            attrs[attr] = str(text["zh"])
        if text.get("en"):
            attrs[f"{attr}_en"] = str(text["en"])
    return attrs


def _add_extra(kg: KnowledgeGraph, extra: dict, keys: dict[tuple[Kind, str], str], path: Path) -> None:
    for name, rec in extra.items():
        key = keys.get((Kind.DISEASE, str(name)))
        if key is None or not isinstance(rec, dict):
            raise DataError("not a disease of diseases.yaml (or not a mapping)", path=path, field=str(name))
        unknown = set(rec) - set(EXTRA_FIELDS)
        if unknown:
            raise DataError(f"unknown field(s) {', '.join(sorted(unknown))}", path=path, field=str(name))
        kg.entity(key).attrs.update(_texts(rec, {f: f for f in EXTRA_FIELDS}, str(name), path))


def _add_disease(kg: KnowledgeGraph, rec: dict, where: str, path: Path) -> str:
    missing = [f for f in REQUIRED if not rec.get(f)]
    if missing:
        raise DataError(f"missing required field(s) {', '.join(missing)}", path=path, field=where)
    name = str(rec["name"])
    src = Source(SOURCE_NAME, name)
    attrs = _texts(rec, TEXT_FIELDS, where, path)
    return kg.add_entity(
        Kind.DISEASE,
        name,
        source=src,
        aliases=[str(a) for a in rec.get("aliases", [])],
        names={"zh": name, "en": str(rec["en"])},
        attrs=attrs,
    )


def _add_facts(
    kg: KnowledgeGraph, rec: dict, where: str, keys: dict[tuple[Kind, str], str], path: Path
) -> None:
    subject = keys[(Kind.DISEASE, str(rec["name"]))]
    src = Source(SOURCE_NAME, str(rec["name"]))
    for field, (rel, kind) in LIST_FIELDS.items():
        for obj in rec.get(field) or []:
            if (kind, str(obj)) not in keys:
                raise DataError(
                    f"{obj!r} is not defined (add it to vocab.yaml or diseases.yaml)",
                    path=path,
                    field=f"{where}.{field}",
                )
            kg.add_edge(subject, rel, keys[(kind, str(obj))], {src})


def load_starter(
    diseases: Path = DISEASES, vocab: Path = VOCAB, extra: Path | None = EXTRA
) -> KnowledgeGraph:
    """Build the starter graph from its YAML files (a few milliseconds; callers cache it)."""
    kg = KnowledgeGraph(name="starter")
    voc = _read(vocab) or {}
    recs = _read(diseases) or []
    if not isinstance(voc, dict) or not isinstance(recs, list):
        raise DataError("vocab must be a mapping of kinds, diseases a list of records", path=diseases)
    keys = _add_vocab(kg, voc, vocab)
    for i, rec in enumerate(recs):
        if not isinstance(rec, dict):
            raise DataError("expected a mapping", path=diseases, field=f"[{i}]")
        keys[(Kind.DISEASE, str(rec.get("name")))] = _add_disease(
            kg, rec, f"[{i}] {rec.get('name')}", diseases
        )
    for i, rec in enumerate(recs):
        _add_facts(kg, rec, f"[{i}] {rec.get('name')}", keys, diseases)
    if extra is not None and extra.exists():
        _add_extra(kg, _read(extra) or {}, keys, extra)
    return kg
