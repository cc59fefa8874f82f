"""Knowledge-graph question answering: the 18 QASystemOnMedicalKG question types plus department routing.

``QA(kb).answer("感冒要多久才能好？")`` links the entities in the question, classifies intents (a
question word of the intent AND an entity of its kind must appear; several intents may fire; deny
words flip eat ↔ avoid), answers each intent from the graph and renders one sentence per intent in the
question's language, each followed by its citation marker ``[n]``. Nothing matched gives an honest
"not in the knowledge graph" answer; greetings get a short introduction. Words, intents and sentence
templates are data: ``knowledge/intents.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from knowledge.linking import Mention, normalize
from knowledge.lookup import (
    Candidate,
    FactRef,
    KnowledgeBase,
    attribute,
    display_name,
    facts,
    related_diseases,
)
from knowledge.schema import Kind, Rel

INTENTS = Path(__file__).with_name("intents.yaml")
MAX_ITEMS = 10
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]+")

#: list intents: (direction, relations); "out" = the entity's own facts, "in" = diseases pointing at it
LIST_INTENTS: dict[str, tuple[str, tuple[Rel, ...]]] = {
    "disease_department": ("out", (Rel.BELONGS_TO_DEPARTMENT,)),
    "disease_symptom": ("out", (Rel.HAS_SYMPTOM,)),
    "disease_acompany": ("out", (Rel.ACOMPANY_WITH,)),
    "disease_drug": ("out", (Rel.COMMON_DRUG, Rel.RECOMMENDED_DRUG)),
    "disease_check": ("out", (Rel.NEEDS_CHECK,)),
    "disease_not_food": ("out", (Rel.NOT_EAT,)),
    "disease_do_food": ("out", (Rel.DO_EAT, Rel.RECOMMENDED_EAT)),
    "drug_disease": ("in", (Rel.COMMON_DRUG, Rel.RECOMMENDED_DRUG)),
    "check_disease": ("in", (Rel.NEEDS_CHECK,)),
    "food_not_disease": ("in", (Rel.NOT_EAT,)),
    "food_do_disease": ("in", (Rel.DO_EAT, Rel.RECOMMENDED_EAT)),
}
#: intent to use when an entity of this kind is named without any question word
ALIASES = {"food_benefit": "food_do_disease"}
FALLBACK = {
    Kind.DISEASE: ["disease_desc"],
    Kind.SYMPTOM: ["symptom_disease"],
    Kind.DRUG: ["drug_disease"],
    Kind.CHECK: ["check_disease"],
    Kind.FOOD: ["food_do_disease", "food_not_disease"],
}


def detect_language(text: str) -> str:
    """``zh`` when the text has at least as many CJK characters as Latin words, else ``en``."""
    cjk = len(_CJK.findall(text))
    return "zh" if cjk and cjk >= len(_LATIN.findall(text)) else "en"


@lru_cache(maxsize=4)
def load_spec(path: Path = INTENTS) -> dict[str, Any]:
    """The parsed intents file with its word lists normalised for matching."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["_words"] = {g: [normalize(w) for w in ws] for g, ws in spec["words"].items()}
    spec["_deny"] = [normalize(w) for w in spec["deny"]]
    spec["_greeting"] = [normalize(w) for w in spec["greeting"]]
    return spec


@dataclass
class Line:
    """One answered intent: a rendered sentence and the facts behind it."""

    intent: str
    subject: str  # node key of the entity asked about ("" for a set of symptoms)
    text: str
    facts: list[FactRef] = field(default_factory=list)
    found: bool = True


@dataclass
class Answer:
    question: str
    lang: str
    kind: str  # answer | greeting | not_found
    intents: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return any(line.found for line in self.lines)

    def references(self) -> list[tuple[int, Line]]:
        """Citation numbers: one per line that rests on facts, in answer order."""
        cited = [line for line in self.lines if line.facts]
        return list(enumerate(cited, start=1))

    def render(self, refs: bool = True) -> str:
        numbers = {id(line): n for n, line in self.references()}
        out = []
        for line in self.lines:
            mark = f" [{numbers[id(line)]}]" if refs and id(line) in numbers else ""
            text = line.text[:1].upper() + line.text[1:] if self.lang == "en" else line.text
            out.append(text + mark)
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "lang": self.lang,
            "kind": self.kind,
            "intents": self.intents,
            "entities": [{"text": m.text, "key": m.key, "negated": m.negated} for m in self.mentions],
            "answer": self.render(),
            "lines": [
                {
                    "intent": ln.intent,
                    "subject": ln.subject,
                    "text": ln.text,
                    "found": ln.found,
                    "facts": [
                        {
                            "subject": f.subject,
                            "rel": f.rel,
                            "object": f.object,
                            "text": f.text,
                            "sources": f.cites(),
                        }
                        for f in ln.facts
                    ],
                }
                for ln in self.lines
            ],
            "candidates": [
                {
                    "disease": c.key,
                    "score": c.score,
                    "matched": c.matched,
                    "denied": c.denied,
                    "missing": c.missing,
                }
                for c in self.candidates
            ],
        }


class QA:
    """Question answering over one ``KnowledgeBase``."""

    def __init__(self, kb: KnowledgeBase, spec_path: Path = INTENTS) -> None:
        self.kb = kb
        self.spec = load_spec(spec_path)

    def classify(self, question: str) -> tuple[list[str], list[Mention]]:
        """Intents (answer order) and the linked entities of a question."""
        mentions = self.kb.linker.link(question)
        kinds = {m.kind for m in mentions}
        words = _masked(question, mentions)
        groups = {g for g, ws in self.spec["_words"].items() if any(f" {w} " in words for w in ws)}
        deny = any(f" {w} " in words for w in self.spec["_deny"])
        fired = []
        for intent, (group, kind) in self.spec["intents"].items():
            if group in groups and Kind(kind) in kinds:
                fired.append(ALIASES.get(intent, intent))
        fired = list(dict.fromkeys(fired))
        if Kind.DISEASE in kinds:  # a named disease outranks symptom → disease guessing
            fired = [i for i in fired if not i.startswith("symptom_")]
        if "disease_department" in fired or "symptom_department" in fired:
            fired = [i for i in fired if i not in ("disease_cureway", "drug_disease")]
        if len(fired) > 1 and "disease_desc" in fired:  # "what is" is a fallback, not a question of its own
            fired.remove("disease_desc")
        if not fired:
            fired = _fallback(mentions)
        drop = "_do_" if deny else "_not_"  # a deny word (不, avoid...) flips eat ↔ avoid
        fired = [i for i in fired if not (i.endswith("_food") or i.startswith("food_")) or drop not in i]
        return fired, mentions

    def answer(self, question: str, k: int = 5) -> Answer:
        """Answer a question; never raises for odd input (empty text gives ``not_found``)."""
        lang = detect_language(question)
        intents, mentions = self.classify(question)
        ans = Answer(question, lang, "answer", intents, mentions)
        if not intents:
            words = _masked(question, [])
            greet = any(f" {w} " in words for w in self.spec["_greeting"])
            ans.kind = "greeting" if greet else "not_found"
            ans.lines = [Line(ans.kind, "", self._t(ans.kind, lang), found=False)]
            return ans
        for intent in intents:
            ans.lines += self._answer_intent(intent, mentions, lang, k, ans)
        if ans.found:  # "高血压要吃啥药" also asks about food: say nothing when only that part is missing
            ans.lines = [line for line in ans.lines if line.found]
        return ans

    def _t(self, name: str, lang: str, **kw: str) -> str:
        return self.spec["templates"][name][lang].format(**kw)

    def _answer_intent(
        self, intent: str, mentions: list[Mention], lang: str, k: int, ans: Answer
    ) -> list[Line]:
        if intent in ("symptom_disease", "symptom_department"):
            return [self._symptoms(intent, mentions, lang, k, ans)]
        kind = Kind(self.spec["intents"][intent][1])
        # "不要吃蜂蜜": a negated food is still the food asked about; a denied symptom is not a symptom
        keys = list(
            dict.fromkeys(
                m.key for m in mentions if m.kind == kind and (kind != Kind.SYMPTOM or not m.negated)
            )
        )[:3]
        if intent in LIST_INTENTS:
            return [self._list(intent, key, lang) for key in keys]
        return [self._text(intent, key, lang) for key in keys]

    def _list(self, intent: str, key: str, lang: str) -> Line:
        direction, rels = LIST_INTENTS[intent]
        kg = self.kb.kg
        if direction == "out":
            by_rel = facts(kg, key, rels)
            refs = [r for rel in rels for r in by_rel.get(rel, [])]
            names = [display_name(kg, r.object, lang) for r in refs]
        else:
            refs = related_diseases(kg, key, rels)
            names = [display_name(kg, r.subject, lang) for r in refs]
        name = display_name(kg, key, lang)
        if not refs:
            return Line(intent, key, self._t("missing", lang, d=name), found=False)
        text = self._t(intent, lang, d=name, x=name, items=_join(list(dict.fromkeys(names)), lang))
        return Line(intent, key, text, refs[: MAX_ITEMS * 2])

    def _text(self, intent: str, key: str, lang: str) -> Line:
        kg = self.kb.kg
        name = display_name(kg, key, lang)
        ref = attribute(kg, key, self.spec["attributes"][intent], lang)
        if ref is None and intent == "disease_cureway":  # our starter graph says what helps at home
            ref = attribute(kg, key, "self_care", lang)
        if ref is None and intent == "disease_desc":  # no description: its symptoms describe it best
            return self._list("disease_symptom", key, lang)
        if ref is None:
            return Line(intent, key, self._t("missing", lang, d=name), found=False)
        return Line(intent, key, self._t(intent, lang, d=name, text=ref.text or ""), [ref])

    def _symptoms(self, intent: str, mentions: list[Mention], lang: str, k: int, ans: Answer) -> Line:
        kg = self.kb.kg
        present = list(dict.fromkeys(m.key for m in mentions if m.kind == Kind.SYMPTOM and not m.negated))
        denied = [m.key for m in mentions if m.kind == Kind.SYMPTOM and m.negated]
        if not ans.candidates:
            ans.candidates = self.kb.index.rank(present, denied, k=k)
        sym = _join([display_name(kg, s, lang) for s in present], lang)
        if not ans.candidates:
            return Line(intent, "", self._t("missing", lang, d=sym), found=False)
        if intent == "symptom_department":
            refs = [
                r
                for c in ans.candidates[:3]
                for r in facts(kg, c.key, [Rel.BELONGS_TO_DEPARTMENT]).get(Rel.BELONGS_TO_DEPARTMENT, [])
            ]
            depts = list(dict.fromkeys(display_name(kg, r.object, lang) for r in refs))
            return Line(intent, "", self._t(intent, lang, s=sym, items=_join(depts, lang)), refs)
        items = [_candidate_text(kg, c, lang) for c in ans.candidates]
        refs = [r for c in ans.candidates for r in c.evidence]
        return Line(intent, "", self._t(intent, lang, s=sym, items=_join(items, lang)), refs)


def _fallback(mentions: list[Mention]) -> list[str]:
    """Intents for a question without question words: what its entities most likely ask about."""
    symptom_spans = {(m.start, m.end) for m in mentions if m.kind == Kind.SYMPTOM}
    disease_only = [m for m in mentions if m.kind == Kind.DISEASE and (m.start, m.end) not in symptom_spans]
    if symptom_spans and (len(symptom_spans) > 1 or not disease_only):  # "头痛，恶心，怕光" lists symptoms
        return ["symptom_disease"]
    kinds = {m.kind for m in mentions}
    for kind in (Kind.DISEASE, Kind.SYMPTOM, Kind.DRUG, Kind.CHECK, Kind.FOOD):
        if kind in kinds:
            return list(FALLBACK[kind])
    return []


def _candidate_text(kg: Any, c: Candidate, lang: str) -> str:
    matched = ("、" if lang == "zh" else ", ").join(display_name(kg, s, lang) for s, _ in c.matched)
    name = display_name(kg, c.key, lang)
    return f"{name}（匹配：{matched}）" if lang == "zh" else f"{name} (matches: {matched})"


def _join(items: list[str], lang: str) -> str:
    shown = items[:MAX_ITEMS]
    sep = "、" if lang == "zh" else ", "
    more = len(items) - len(shown)
    tail = (f"等{len(items)}项" if lang == "zh" else f" and {more} more") if more > 0 else ""
    return sep.join(shown) + tail


def _masked(question: str, mentions: list[Mention]) -> str:
    """Normalised question with linked entity names blanked out, padded for whole-token matching."""
    chars = list(question)
    for m in mentions:  # "、" is a token: words cannot form across a blanked-out name
        for i in range(m.start, m.end):
            chars[i] = "、"
    return f" {normalize(''.join(chars))} "
