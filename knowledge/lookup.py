"""Lookups over a ``KnowledgeGraph``; every answer carries the ``Source`` records behind it.

Symptom → disease ranking uses an inverted index (symptom → [(disease, weight)]) built once:

* ``idf(s) = log(1 + N / n_s)`` (N diseases, n_s of them list symptom s): rare symptoms weigh more.
* ``w(s, d) = idf(s)``, or ``idf(s) × (0.5 + 0.5 × hsdn(s, d) / max_hsdn(d))`` when an edge source
  carries an HSDN TF-IDF weight (normalised per disease, as the HSDN authors advise).
* For reported symptoms P and denied symptoms N, disease d scores
  ``explain^(2/3) × cover^(1/3)`` where ``explain = (Σ_{P∩d} idf² − Σ_{N∩d} idf²) / Σ_{P∪N} idf²``
  (how much of the patient's report it accounts for; a denied symptom of d counts against d) and
  ``cover = Σ_{P∩d} w² / Σ_d w²`` (how much of d's own profile was reported).

``naive_rank`` computes the same scores by scanning every disease's edges in the graph (the benchmark's
baseline and the index's correctness oracle; it shares the precomputed IDF table, so the benchmark
measures the index alone).
"""

from __future__ import annotations

import heapq
import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from knowledge.graph import KnowledgeGraph
from knowledge.linking import Linker, Mention
from knowledge.schema import Kind, Rel, Source

#: incoming relations that answer "which diseases involve this entity?", by entity kind
HAS_SYMPTOM = Rel.HAS_SYMPTOM.value
REVERSE: dict[Kind, tuple[Rel, ...]] = {
    Kind.SYMPTOM: (Rel.HAS_SYMPTOM,),
    Kind.DRUG: (Rel.COMMON_DRUG, Rel.RECOMMENDED_DRUG),
    Kind.CHECK: (Rel.NEEDS_CHECK,),
    Kind.FOOD: (Rel.DO_EAT, Rel.RECOMMENDED_EAT, Rel.NOT_EAT),
    Kind.DEPARTMENT: (Rel.BELONGS_TO_DEPARTMENT,),
    Kind.BODY_PART: (Rel.LOCATED_IN,),
    Kind.DISEASE: (Rel.ACOMPANY_WITH,),
}


@dataclass(frozen=True)
class FactRef:
    """One cited fact: ``subject —rel→ object`` (node keys), or a text attribute when ``text`` is set."""

    subject: str
    rel: str
    object: str
    sources: tuple[Source, ...]
    text: str | None = None  # attribute value for attribute facts (rel = attribute name)

    def cites(self) -> list[str]:
        return [s.cite() for s in self.sources]


def _sources(items: Iterable[Source]) -> tuple[Source, ...]:
    return tuple(sorted(items, key=lambda s: (s.name, s.record_id or "")))


def display_name(kg: KnowledgeGraph, key: str, lang: str = "zh") -> str:
    """The entity's name in ``lang`` when the graph has one, else its canonical name."""
    if key not in kg:
        return key.split(":", 1)[-1]
    ent = kg.entity(key)
    return ent.names.get(lang) or ent.name


def attribute(kg: KnowledgeGraph, key: str, name: str, lang: str = "zh") -> FactRef | None:
    """A text attribute (``description``, ``red_flags``...) in ``lang`` (falls back to the other language)."""
    ent = kg.entity(key)
    order = (f"{name}_en", name) if lang == "en" else (name, f"{name}_en")
    for attr in order:
        if ent.attrs.get(attr):
            return FactRef(key, name, key, _sources(ent.sources), ent.attrs[attr])
    return None


def facts(kg: KnowledgeGraph, key: str, rels: Sequence[Rel] | None = None) -> dict[Rel, list[FactRef]]:
    """Outgoing facts of an entity by relation; within a relation, better-supported facts first."""
    out: dict[Rel, list[FactRef]] = {}
    for f in kg.facts(key):
        if rels is None or f.rel in rels:
            out.setdefault(f.rel, []).append(FactRef(f.subject, f.rel.value, f.object, _sources(f.sources)))
    for items in out.values():
        items.sort(key=lambda r: -len(r.sources))  # stable: source order (most typical first) otherwise
    return out


def related_diseases(kg: KnowledgeGraph, key: str, rels: Sequence[Rel] | None = None) -> list[FactRef]:
    """Diseases pointing at ``key`` (drug/check/food/symptom/department → diseases), best-supported first."""
    kind = kg.entity(key).kind
    want = tuple(rels) if rels is not None else REVERSE.get(kind, ())
    refs = [
        FactRef(f.subject, f.rel.value, f.object, _sources(f.sources))
        for f in kg.facts(key, incoming=True)
        if f.rel in want and f.subject.startswith("disease:")
    ]
    refs.sort(key=lambda r: (-len(r.sources), want.index(Rel(r.rel)), r.subject))
    return refs


def departments(kg: KnowledgeGraph, key: str) -> list[FactRef]:
    """Departments that treat a disease."""
    return facts(kg, key, [Rel.BELONGS_TO_DEPARTMENT]).get(Rel.BELONGS_TO_DEPARTMENT, [])


@dataclass
class Candidate:
    """A ranked disease with the evidence for its score."""

    key: str
    score: float
    matched: list[tuple[str, float]]  # (symptom key, weight) reported and listed for this disease
    denied: list[tuple[str, float]] = field(default_factory=list)  # negated symptoms the disease lists
    missing: list[tuple[str, float]] = field(default_factory=list)  # heaviest listed symptoms not reported
    evidence: list[FactRef] = field(default_factory=list)  # the has_symptom facts behind ``matched``


class SymptomIndex:
    """Inverted index symptom → [(disease, weight)] over one graph; see the module docstring."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg
        profiles: dict[str, dict[str, float | None]] = {}
        for d in _disease_keys(kg):
            prof = {}
            for o, sources in _symptom_edges(kg, d):
                weights = [s.weight for s in sources if s.weight is not None]
                prof[o] = max(weights) if weights else None
            if prof:
                profiles[d] = prof
        self.diseases = list(profiles)
        n = max(len(self.diseases), 1)
        counts: dict[str, int] = {}
        for prof in profiles.values():
            for s in prof:
                counts[s] = counts.get(s, 0) + 1
        self.idf = {s: math.log(1 + n / c) for s, c in counts.items()}
        self.weights: dict[str, dict[str, float]] = {d: self._weigh(prof) for d, prof in profiles.items()}
        self.norm2 = {d: sum(w * w for w in ws.values()) for d, ws in self.weights.items()}
        self.postings: dict[str, list[tuple[str, float]]] = {}
        for d, ws in self.weights.items():
            for s, w in ws.items():
                self.postings.setdefault(s, []).append((d, w))

    def _weigh(self, prof: dict[str, float | None]) -> dict[str, float]:
        top = max((w for w in prof.values() if w is not None), default=None)
        return {
            s: self.idf[s] * (0.5 + 0.5 * (hw or 0.0) / top) if top else self.idf[s] for s, hw in prof.items()
        }

    def rank(self, present: Iterable[str], denied: Iterable[str] = (), k: int = 10) -> list[Candidate]:
        """Top-``k`` diseases for reported symptom keys ``present`` and negated ones ``denied``."""
        present = [s for s in dict.fromkeys(present) if s in self.idf]
        denied = [s for s in dict.fromkeys(denied) if s in self.idf and s not in present]
        if not present:
            return []
        total = sum(self.idf[s] ** 2 for s in (*present, *denied))
        explain: dict[str, float] = {}
        cover: dict[str, float] = {}
        for s in present:
            q = self.idf[s] ** 2
            for d, w in self.postings[s]:
                explain[d] = explain.get(d, 0.0) + q
                cover[d] = cover.get(d, 0.0) + w * w
        for s in denied:
            q = self.idf[s] ** 2
            for d, _ in self.postings[s]:
                if d in explain:
                    explain[d] -= q
        scored = ((_score(e / total, cover[d] / self.norm2[d]), d) for d, e in explain.items())
        top = heapq.nlargest(k, ((sc, d) for sc, d in scored if sc > 0), key=lambda x: (x[0], x[1]))
        return [self._explain(d, sc, present, denied) for sc, d in top]

    def _explain(self, d: str, score: float, present: list[str], denied: list[str]) -> Candidate:
        ws = self.weights[d]
        said = set(present) | set(denied)
        missing = sorted(((s, w) for s, w in ws.items() if s not in said), key=lambda x: -x[1])[:3]
        evidence = [
            FactRef(f.subject, f.rel.value, f.object, _sources(f.sources))
            for f in self.kg.facts(d, Rel.HAS_SYMPTOM)
            if f.object in present
        ]
        return Candidate(
            key=d,
            score=round(score, 4),
            matched=[(s, round(ws[s], 3)) for s in present if s in ws],
            denied=[(s, round(ws[s], 3)) for s in denied if s in ws],
            missing=[(s, round(w, 3)) for s, w in missing],
            evidence=evidence,
        )

    def similar(self, key: str, k: int = 5) -> list[Candidate]:
        """Diseases sharing the most (weighted) symptoms with ``key``."""
        return [c for c in self.rank(self.weights.get(key, {}), k=k + 1) if c.key != key][:k]


def _disease_keys(kg: KnowledgeGraph) -> list[str]:
    return [k for k, data in kg.g.nodes(data=True) if data["entity"].kind == Kind.DISEASE]


def _symptom_edges(kg: KnowledgeGraph, disease: str) -> Iterable[tuple[str, set[Source]]]:
    """(symptom key, sources) of a disease, read straight from the networkx adjacency (no Fact objects)."""
    for _, o, rel, data in kg.g.out_edges(disease, keys=True, data=True):
        if rel == HAS_SYMPTOM:
            yield o, data["sources"]


def _score(explain: float, cover: float) -> float:
    return explain ** (2 / 3) * cover ** (1 / 3) if explain > 0 else 0.0


def naive_rank(index: SymptomIndex, present: Iterable[str], denied: Iterable[str] = (), k: int = 10) -> list:
    """The same scores as ``SymptomIndex.rank`` by scanning every disease's facts (benchmark baseline)."""
    kg, idf = index.kg, index.idf
    present = [s for s in dict.fromkeys(present) if s in idf]
    denied = [s for s in dict.fromkeys(denied) if s in idf and s not in present]
    if not present:
        return []
    total = sum(idf[s] ** 2 for s in (*present, *denied))
    scored = []
    for d in _disease_keys(kg):
        listed = {o for o, _ in _symptom_edges(kg, d)}
        hit = [s for s in present if s in listed]
        if not hit:
            continue
        ws = index.weights[d]
        explain = sum(idf[s] ** 2 for s in hit) - sum(idf[s] ** 2 for s in denied if s in listed)
        sc = _score(explain / total, sum(ws[s] ** 2 for s in hit) / index.norm2[d])
        if sc > 0:
            scored.append((sc, d))
    return heapq.nlargest(k, scored, key=lambda x: (x[0], x[1]))


class KnowledgeBase:
    """A graph with its linker and symptom index, built once and shared (see ``KnowledgeBase.load``)."""

    _cache: ClassVar[dict[tuple[str, float], KnowledgeBase]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg
        self.linker = Linker(kg)
        self.index = SymptomIndex(kg)

    @classmethod
    def load(cls, path: str | Path | None = None) -> KnowledgeBase:
        """The starter graph (``path`` None) or a saved graph file, cached per path and modification time."""
        if path is None:
            ck = ("<starter>", 0.0)
        else:
            path = Path(path)
            ck = (str(path.resolve()), os.stat(path).st_mtime if path.exists() else 0.0)
        with cls._lock:  # web workers may ask at once: build once
            if ck not in cls._cache:
                if path is None:
                    from knowledge.starter import load_starter

                    kg = load_starter()
                else:
                    from knowledge.store import load

                    kg = load(path)
                cls._cache[ck] = cls(kg)
            return cls._cache[ck]

    def symptoms_in(self, text: str) -> tuple[list[Mention], list[Mention]]:
        """Symptom mentions in ``text``: (reported, denied)."""
        ms = self.linker.link(text, kinds=[Kind.SYMPTOM])
        return [m for m in ms if not m.negated], [m for m in ms if m.negated]

    def rank_text(self, text: str, k: int = 5) -> list[Candidate]:
        """Link the symptoms in a patient's words and rank candidate diseases."""
        present, denied = self.symptoms_in(text)
        return self.index.rank([m.key for m in present], [m.key for m in denied], k=k)
