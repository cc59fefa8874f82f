"""Knowledge grounding: link a conversation to the knowledge graph, rank, and cite.

``consult(kb, messages)`` is the one place that decides what the graph says about a conversation. It
returns a ``Consultation``: numbered findings (each one ``Citation``) grouped into sections — possible
causes with why, suggested checks, department, when to seek care, self-care — or, for a direct
question about a named disease/drug/check/food, the KGQA answer lines. Two users:

* ``KGGrounder`` (model backends): puts the findings, numbered ``[n]``, into the system prompt and
  returns the same citations, so a model's ``[n]`` and the UI's source list agree.
* the knowledge-only backend (``chatdoctor.backends.knowledge``) renders the same consultation as the
  answer itself; its ``[n]`` markers index the grounder's citations for the same conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from chatdoctor.config import ChatConfig
from chatdoctor.engine import Grounding
from chatdoctor.types import Citation, Message
from knowledge.kgqa import QA, Answer, detect_language
from knowledge.lookup import Candidate, FactRef, KnowledgeBase, attribute, display_name, facts
from knowledge.schema import Rel

USER_TURNS = 3  # symptoms are gathered from this many latest user turns
TOP = 3  # candidate conditions shown
#: KGQA intents that answer a direct question (others fall through to the symptom consultation)
DIRECT = {"symptom_disease", "symptom_department"}

PHRASES = {
    "zh": {
        "causes": "根据您描述的{s}，可能的原因包括（按匹配程度排序，并非诊断）：",
        "why": "与您的{m}相符",
        "also": "常见表现还有{x}",
        "checks": "可以考虑的检查：",
        "dept": "建议就诊科室：",
        "red": "何时需要尽快就医：",
        "care": "自我护理：",
        "qa": "知识图谱中的相关信息：",
        "sep": "、",
        "end": "。",
        "disclaimer": "以上内容来自医学知识图谱，仅供参考，不能代替医生的诊断和治疗。如症状加重或出现危险信号，请及时就医。",
        "context": "以下是知识图谱中与本次对话相关的事实（编号可在回答中以 [n] 引用）。这些只是参考，不是诊断：",
    },
    "en": {
        "causes": "Based on the {s} you describe, possible causes include (best match first; this is not a diagnosis):",
        "why": "fits your {m}",
        "also": "it often also causes {x}",
        "checks": "Tests a doctor may consider: ",
        "dept": "Where to seek care: ",
        "red": "When to seek care promptly: ",
        "care": "Self-care: ",
        "qa": "From the knowledge graph:",
        "sep": ", ",
        "end": ".",
        "disclaimer": "This information comes from a medical knowledge graph. It is not a diagnosis and does not "
        "replace a clinician; if symptoms get worse or any warning sign appears, please see a doctor.",
        "context": "Facts from the medical knowledge graph relevant to this conversation (cite them as [n]). "
        "They are background, not a diagnosis:",
    },
}


@dataclass
class Finding:
    """One cited statement; ``number`` is its 1-based index into ``Consultation.citations``."""

    text: str
    number: int


@dataclass
class Consultation:
    lang: str
    kind: str  # symptoms | qa | greeting | not_found
    intro: str = ""
    sections: list[tuple[str, list[Finding]]] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def cite(self, text: str, citation: Citation) -> Finding:
        self.citations.append(citation)
        return Finding(text, len(self.citations))


def citation(kb: KnowledgeBase, refs: list[FactRef], lang: str, score: float | None = None) -> Citation:
    """One citation for a group of facts about one subject (objects joined, first source cited)."""
    kg = kb.kg
    first = refs[0]
    subject = display_name(kg, first.subject, lang)
    objects = [r.text if r.text is not None else display_name(kg, r.object, lang) for r in refs]
    obj = "、".join(dict.fromkeys(objects)) if lang == "zh" else ", ".join(dict.fromkeys(objects))
    src = first.sources[0] if first.sources else None
    return Citation(
        subject=subject,
        relation=first.rel,
        object=obj,
        source=src.name if src else kg.name,
        record_id=src.record_id if src else None,
        label=f"{subject} —{first.rel}→ {obj[:160]}",
        score=score,
    )


def consult(kb: KnowledgeBase, messages: list[Message]) -> Consultation:
    """What the knowledge graph says about this conversation (deterministic; cached per conversation)."""
    users = tuple(m.content for m in messages if m.role == "user")[-USER_TURNS:]
    return _consult(kb, users)


@lru_cache(maxsize=256)
def _consult(kb: KnowledgeBase, users: tuple[str, ...]) -> Consultation:
    last = users[-1] if users else ""
    lang = detect_language(last)
    answer = QA(kb).answer(last)
    # symptoms win when the graph found no direct question: nothing matched, symptom intents, or only a
    # disease named in passing ("肚子疼，拉肚子，发烧" names 急性胃肠炎 by an alias but asks about symptoms)
    if answer.kind == "not_found" or answer.intents == ["disease_desc"] or DIRECT & set(answer.intents):
        present, denied = _symptoms(kb, users)
        if present:
            return _symptom_consultation(kb, present, denied, lang)
    if answer.kind == "answer" and answer.found:
        return _qa_consultation(kb, answer, lang)
    con = Consultation(lang, answer.kind if answer.kind != "answer" else "not_found")
    con.intro = answer.render(refs=False)
    return con


def _symptoms(kb: KnowledgeBase, users: tuple[str, ...]) -> tuple[list[str], list[str]]:
    present: dict[str, None] = {}
    denied: dict[str, None] = {}
    for text in users:  # later turns override earlier ones ("no fever now")
        yes, no = kb.symptoms_in(text)
        for m in yes:
            denied.pop(m.key, None)
            present[m.key] = None
        for m in no:
            present.pop(m.key, None)
            denied[m.key] = None
    return list(present), list(denied)


def _symptom_consultation(
    kb: KnowledgeBase, present: list[str], denied: list[str], lang: str
) -> Consultation:
    p = PHRASES[lang]
    kg = kb.kg
    cands = kb.index.rank(present, denied, k=TOP)
    con = Consultation(lang, "symptoms", candidates=cands)
    said = p["sep"].join(display_name(kg, s, lang) for s in present)
    if not cands:
        con.kind = "not_found"
        con.intro = QA(kb)._t("missing", lang, d=said)
        return con
    con.intro = p["causes"].format(s=said)
    causes = []
    for i, c in enumerate(cands, start=1):
        matched = p["sep"].join(display_name(kg, s, lang) for s, _ in c.matched)
        why = p["why"].format(m=matched)
        if c.missing:
            why += ("；" if lang == "zh" else "; ") + p["also"].format(
                x=p["sep"].join(display_name(kg, s, lang) for s, _ in c.missing)
            )
        text = f"{i}. {display_name(kg, c.key, lang)}{'：' if lang == 'zh' else ': '}{why}{p['end']}"
        causes.append(con.cite(text, citation(kb, c.evidence, lang, c.score)))
    con.sections.append(("", causes))
    top = [c.key for c in cands[:2]]
    for title, rel in (("checks", Rel.NEEDS_CHECK), ("dept", Rel.BELONGS_TO_DEPARTMENT)):
        con.sections.append((p[title], _grouped(kb, con, top, rel, lang)))
    for title, attr, keys in (("red", "red_flags", top), ("care", "self_care", top[:1])):
        found = [ref for k in keys if (ref := attribute(kg, k, attr, lang))]
        con.sections.append(
            (
                p[title],
                [
                    con.cite(
                        f"{display_name(kg, r.subject, lang)}：{r.text}"
                        if lang == "zh"
                        else f"{display_name(kg, r.subject, lang)}: {r.text}",
                        citation(kb, [r], lang),
                    )
                    for r in found
                ],
            )
        )
    con.sections = [(t, items) for t, items in con.sections if items]
    return con


def _grouped(kb: KnowledgeBase, con: Consultation, keys: list[str], rel: Rel, lang: str) -> list[Finding]:
    """Objects of ``rel`` for each disease, without repeats, one cited finding per disease."""
    seen: set[str] = set()
    out = []
    for key in keys:
        refs = [r for r in facts(kb.kg, key, [rel]).get(rel, []) if r.object not in seen][:4]
        if refs:
            seen.update(r.object for r in refs)
            text = PHRASES[lang]["sep"].join(display_name(kb.kg, r.object, lang) for r in refs)
            out.append(con.cite(text, citation(kb, refs, lang)))
    return out


def _qa_consultation(kb: KnowledgeBase, answer: Answer, lang: str) -> Consultation:
    con = Consultation(lang, "qa", intro=PHRASES[lang]["qa"], candidates=answer.candidates)
    items = []
    for line in answer.lines:
        items.append(
            con.cite(line.text, citation(kb, line.facts, lang)) if line.facts else Finding(line.text, 0)
        )
    con.sections.append(("", items))
    return con


def render_context(con: Consultation) -> str:
    """The system-prompt block for a model backend: the numbered findings."""
    if not con.citations:
        return ""
    lines = [PHRASES[con.lang]["context"]]
    lines += [f"[{n}] {c.render()} ({_cite(c)})" for n, c in enumerate(con.citations, start=1)]
    return "\n".join(lines)


def _cite(c: Citation) -> str:
    return c.source if c.record_id is None else f"{c.source}#{c.record_id}"


class KGGrounder:
    """``Grounder`` for the chat engine: knowledge-graph findings as context plus their citations."""

    def __init__(self, kb: KnowledgeBase, *, with_context: bool = True) -> None:
        self.kb = kb
        self.with_context = with_context  # the knowledge backend answers from the findings itself

    def ground(self, messages: list[Message]) -> Grounding:
        con = consult(self.kb, messages)
        return Grounding(
            context=render_context(con) if self.with_context else "", citations=list(con.citations)
        )


def build_grounder(config: ChatConfig) -> KGGrounder:
    """The grounder for a chat config: the configured graph (or the starter graph)."""
    return KGGrounder(KnowledgeBase.load(config.kg_path), with_context=config.backend != "knowledge")
