"""KG → instructions: bilingual question/answer pairs from a ``KnowledgeGraph``, each citing its facts.

Per disease and language: one pair per fact type (all objects of the relation in one answer), one
per text attribute, an overview pair combining several fact types, and "which disease" pairs built
from symptom sets. Phrasings come from ``templates/kg_qa.yaml``; a seed makes the output repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chatdoctor.errors import DataError
from chatdoctor.records import InstructionRecord
from chatdoctor.types import Message
from knowledge.graph import Fact, KnowledgeGraph
from knowledge.schema import Entity, Kind, Rel
from training.data.loaders import register_loader

TEMPLATES = Path(__file__).parent / "templates" / "kg_qa.yaml"


@dataclass
class KGQAOptions:
    langs: tuple[str, ...] = ("zh", "en")
    seed: int = 0
    max_items: int = 8  # objects listed per answer
    which_disease: int = 1  # symptom-set questions per disease and language
    max_candidates: int = 3  # diseases named in a "which disease" answer
    limit: int | None = None  # diseases used (first N by key)


def name_in(ent: Entity, lang: str) -> str | None:
    """The entity's display name in ``lang`` (None when the graph has none)."""
    return ent.name if ent.lang == lang else ent.names.get(lang)


def attr_in(ent: Entity, attr: str, lang: str) -> str | None:
    for key in (f"{attr}_{lang}", f"{attr}.{lang}", f"{attr}:{lang}"):
        if ent.attrs.get(key):
            return ent.attrs[key]
    return ent.attrs.get(attr) if ent.lang == lang else None


def _lower_first(item: str) -> str:
    """``Sharp chest pain`` → ``sharp chest pain`` inside an English sentence; ``HbA1c``/``CT`` stay as they are."""
    word = item.split(" ", 1)[0]
    return item[0].lower() + item[1:] if word[:1].isupper() and word[1:].islower() else item


def _join(items: list[str], joiner: dict[str, str]) -> str:
    return items[0] if len(items) == 1 else joiner["sep"].join(items[:-1]) + joiner["last"] + items[-1]


def _cite(f: Fact) -> dict[str, Any]:
    return {
        "subject": f.subject,
        "relation": f.rel.value,
        "object": f.object,
        "sources": sorted(s.cite() for s in f.sources),
    }


def _record(
    q: str, a: str, lang: str, kind: str, facts: list[dict[str, Any]], **meta: Any
) -> InstructionRecord:
    return InstructionRecord(
        [Message("user", q), Message("assistant", a)], lang=lang, meta={"kind": kind, "facts": facts, **meta}
    )


class KGQAGenerator:
    """Walks the graph in key order; one ``random.Random(seed)`` picks templates and symptom sets."""

    def __init__(self, kg: KnowledgeGraph, opts: KGQAOptions, templates: dict[str, Any]) -> None:
        self.kg, self.opts, self.t = kg, opts, templates
        self.rng = random.Random(opts.seed)

    def _objects(self, key: str, rel: str, lang: str) -> list[tuple[str, Fact]]:
        out = []
        for f in self.kg.facts(key, rel):
            nm = name_in(self.kg.entity(f.object), lang)
            if nm:
                out.append((nm, f))
        return out[: self.opts.max_items]

    def _relation_pair(
        self, key: str, name: str, rel: str, lang: str
    ) -> tuple[InstructionRecord, str] | None:
        spec = self.t["relations"][rel].get(lang)
        objs = self._objects(key, rel, lang)
        if not spec or not objs:
            return None
        names = [_lower_first(o) if lang == "en" else o for o, _ in objs]
        items = _join(names, self.t["joiners"][lang])
        qi, ai = self.rng.randrange(len(spec["q"])), self.rng.randrange(len(spec["a"]))
        answer = spec["a"][ai].format(name=name, items=items)
        rec = _record(
            spec["q"][qi].format(name=name),
            answer,
            lang,
            "kg_fact",
            [_cite(f) for _, f in objs],
            relation=rel,
            template=f"{rel}.{lang}.q{qi}a{ai}",
        )
        return rec, answer

    def disease(self, ent: Entity) -> Iterator[InstructionRecord]:
        for lang in self.opts.langs:
            name = name_in(ent, lang)
            if not name:
                continue
            answers: list[str] = []
            facts: list[dict[str, Any]] = []
            for rel in self.t["relations"]:
                pair = self._relation_pair(ent.key, name, rel, lang)
                if pair:
                    answers.append(pair[1])
                    facts.extend(pair[0].meta["facts"])
                    yield pair[0]
            yield from self._attributes(ent, name, lang)
            if len(answers) >= 2:
                spec = self.t["overview"][lang]
                desc = attr_in(ent, "description", lang)
                body = (
                    " ".join([desc, *answers] if desc else answers)
                    if lang == "en"
                    else "".join([desc, *answers] if desc else answers)
                )
                yield _record(self.rng.choice(spec["q"]).format(name=name), body, lang, "kg_overview", facts)
            for _ in range(self.opts.which_disease):
                rec = self._which_disease(ent, lang)
                if rec:
                    yield rec

    def _attributes(self, ent: Entity, name: str, lang: str) -> Iterator[InstructionRecord]:
        for attr, specs in self.t["attributes"].items():
            text, spec = attr_in(ent, attr, lang), specs.get(lang)
            if not text or not spec:
                continue
            q = self.rng.choice(spec["q"]).format(name=name)
            a = self.rng.choice(spec["a"]).format(name=name, text=text.strip())
            cite = {"subject": ent.key, "attribute": attr, "sources": sorted(s.cite() for s in ent.sources)}
            yield _record(q, a, lang, "kg_attribute", [cite], attribute=attr)

    def _which_disease(self, ent: Entity, lang: str) -> InstructionRecord | None:
        symptoms = self._objects(ent.key, Rel.HAS_SYMPTOM, lang)
        if len(symptoms) < 2:
            return None
        chosen = self.rng.sample(symptoms, self.rng.randint(2, min(4, len(symptoms))))
        candidates = self._candidates([f.object for _, f in chosen], ent.key, lang)
        spec, joiner = self.t["which_disease"][lang], self.t["joiners"][lang]
        names = [name_in(self.kg.entity(k), lang) or "" for k, _ in candidates]
        depts = [nm for nm, _ in self._objects(ent.key, Rel.BELONGS_TO_DEPARTMENT, lang)]
        advice = spec["advice"].format(department=_join(depts, joiner)) if depts else ""
        items = _join([s for s, _ in chosen], joiner)
        q = self.rng.choice(spec["q"]).format(items=items)
        a = self.rng.choice(spec["a"]).format(items=items, candidates=_join(names, joiner), advice=advice)
        facts = [_cite(f) for _, fs in candidates for f in fs]
        return _record(
            q,
            a[0].upper() + a[1:],
            lang,
            "kg_which_disease",
            facts,
            symptoms=[f.object for _, f in chosen],
            target=ent.key,
        )

    def _candidates(self, symptom_keys: list[str], target: str, lang: str) -> list[tuple[str, list[Fact]]]:
        """Diseases having every chosen symptom; the seed disease first, then by key."""
        support: dict[str, list[Fact]] = {}
        for s in symptom_keys:
            for f in self.kg.facts(s, Rel.HAS_SYMPTOM, incoming=True):
                support.setdefault(f.subject, []).append(f)
        full = [
            k
            for k, fs in support.items()
            if len(fs) == len(symptom_keys) and name_in(self.kg.entity(k), lang)
        ]
        ranked = [target, *sorted(k for k in full if k != target)]
        return [(k, support[k]) for k in ranked[: self.opts.max_candidates]]

    def __iter__(self) -> Iterator[InstructionRecord]:
        diseases = sorted(self.kg.entities(Kind.DISEASE), key=lambda e: e.key)
        for ent in diseases[: self.opts.limit]:
            yield from self.disease(ent)


def generate_pairs(
    kg: KnowledgeGraph, opts: KGQAOptions | None = None, templates: Path = TEMPLATES
) -> Iterator[InstructionRecord]:
    """All pairs for ``kg``, ids ``kg_qa-000000``… in a stable order."""
    t = yaml.safe_load(Path(templates).read_text("utf-8"))
    for i, rec in enumerate(KGQAGenerator(kg, opts or KGQAOptions(), t)):
        rec.id, rec.source = f"kg_qa-{i:06d}", "kg_qa"
        yield rec


def load_graph(path: str | Path, fmt: str = "auto") -> KnowledgeGraph:
    """``builtin:starter`` → the bundled starter graph; else import a KG file/folder with ``knowledge.importers``."""
    if str(path) in ("builtin:starter", "starter"):
        from knowledge.starter import load_starter

        return load_starter()
    from knowledge.importers import import_files

    kg, _ = import_files([path], fmt, progress=False)
    return kg


@register_loader("kg_qa")
def load_kg_qa(
    path: Path, *, source: str = "kg_qa", format: str = "auto", templates: str | None = None, **opts: Any
) -> Iterator[InstructionRecord]:
    """Instruction pairs generated from the KG at ``path`` (``builtin:starter`` for the bundled graph)."""
    try:
        options = KGQAOptions(**{k: tuple(v) if k == "langs" else v for k, v in opts.items()})
    except TypeError as exc:
        raise DataError(f"kg_qa options: {exc}", path=path) from None
    kg = load_graph(path, format)
    for rec in generate_pairs(kg, options, Path(templates) if templates else TEMPLATES):
        rec.source = source
        rec.id = rec.id.replace("kg_qa", source, 1)
        yield rec
