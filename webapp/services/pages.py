"""Read-only view models for the HTML pages: knowledge search, review-queue rows, usage figures.

The core services own every write; this module only shapes what they (and the knowledge graph)
return into the plain dicts the templates show.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.graph import KnowledgeGraph
from knowledge.lookup import KnowledgeBase
from knowledge.schema import Kind
from webapp.models import Conversation, Message

FACTS_SHOWN = 60  # per entity; the rest is counted, not listed


def _display(kg: KnowledgeGraph, key: str) -> str:
    ent = kg.entity(key)
    en = ent.names.get("en")
    return f"{ent.name} ({en})" if en and en != ent.name else ent.name


def find_entities(kb: KnowledgeBase, q: str, kind: str | None = None, limit: int = 10) -> list[str]:
    """Node keys for ``q``: exact name/alias, then entities linked in the text, then names containing it."""
    q = q.strip()
    if not q:
        return []
    kg = kb.kg
    want = Kind(kind) if kind else None
    keys = list(kg.find(q, want))
    for mention in kb.linker.link(q, kinds=[want] if want else None):
        if mention.key not in keys:
            keys.append(mention.key)
    if len(keys) < limit:
        needle = q.casefold()
        for ent in kg.entities(want):
            names = {ent.name, *ent.aliases, *ent.names.values()}
            if ent.key not in keys and any(needle in n.casefold() for n in names):
                keys.append(ent.key)
                if len(keys) >= limit:
                    break
    return keys[:limit]


def entity_view(kg: KnowledgeGraph, key: str) -> dict[str, Any]:
    """One entity with its attributes, facts in both directions and the sources of each."""
    ent = kg.entity(key)
    facts = []
    for fact in kg.facts(key):
        facts.append(
            (
                _display(kg, fact.subject),
                fact.rel.value,
                _display(kg, fact.object),
                fact.object_name,
                fact.sources,
            )
        )
    for fact in kg.facts(key, incoming=True):
        facts.append(
            (
                _display(kg, fact.subject),
                fact.rel.value,
                _display(kg, fact.object),
                fact.subject_name,
                fact.sources,
            )
        )
    shown = [
        {
            "subject": s,
            "relation": r,
            "object": o,
            "link": link,
            "sources": sorted(src.cite() for src in sources),
        }
        for s, r, o, link, sources in facts[:FACTS_SHOWN]
    ]
    return {
        "key": key,
        "name": _display(kg, key),
        "kind": ent.kind.value,
        "aliases": sorted(ent.aliases),
        "attrs": dict(ent.attrs),
        "facts": shown,
        "more": max(len(facts) - FACTS_SHOWN, 0),
        "sources": sorted(src.cite() for src in ent.sources),
    }


def search_knowledge(
    kb: KnowledgeBase, q: str, kind: str | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """Entities matching ``q`` with their facts, for the knowledge browser."""
    return [entity_view(kb.kg, key) for key in find_entities(kb, q, kind, limit)]


def _excerpt(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def queue_rows(*, session: Session, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Review-queue items (``feedback.review_queue``) as table rows with the conversation title."""
    ids = {i["message"].conversation_id for i in items}
    titles = dict(
        session.execute(select(Conversation.id, Conversation.title).where(Conversation.id.in_(ids))).all()
    )
    rows = []
    for item in items:
        m: Message = item["message"]
        why = "flagged by patient" if item["why"] == "patient_flag" else f"safety: {item['detail'] or 'rule'}"
        rows.append(
            {
                "kind": "safety" if item["why"] == "safety" else "patient",
                "reason": why
                if item["why"] == "safety" or not item["detail"]
                else f"{why}: {item['detail']}",
                "when": m.created_at,
                "conversation_id": m.conversation_id,
                "message_id": m.id,
                "title": titles.get(m.conversation_id, ""),
                "excerpt": _excerpt(m.content),
            }
        )
    return rows


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def usage_figures(usage: dict[str, Any]) -> list[tuple[str, str]]:
    """``stats.usage`` as labelled, formatted rows."""
    answers = usage.get("answers", {})
    return [
        ("Period", f"last {usage.get('days', 7)} days"),
        ("Users", ", ".join(f"{r}: {n}" for r, n in sorted(usage.get("users", {}).items())) or "0"),
        ("Pending approval", str(usage.get("pending_users", 0))),
        ("Conversations", str(usage.get("conversations", 0))),
        (
            "Answers",
            f"{sum(answers.values())} (" + ", ".join(f"{s}: {n}" for s, n in sorted(answers.items())) + ")",
        ),
        ("Completion tokens", str(usage.get("completion_tokens", 0))),
        ("Mean time to first token", _ms(usage.get("mean_ttft_ms"))),
        ("Mean answer latency", _ms(usage.get("mean_latency_ms"))),
        ("Safety events", str(usage.get("safety_events", 0))),
        ("Negative feedback", str(usage.get("negative_feedback", 0))),
    ]


def recent_conversations(*, session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """Newest conversations (id, message count; no title: titles quote patients) for assigning them."""
    counts = (
        select(Message.conversation_id, func.count().label("n")).group_by(Message.conversation_id).subquery()
    )
    rows = session.execute(
        select(Conversation.id, Conversation.updated_at, counts.c.n)
        .outerjoin(counts, counts.c.conversation_id == Conversation.id)
        .where(Conversation.deleted_at.is_(None))
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    ).all()
    return [{"id": i, "updated_at": u, "messages": n or 0} for i, u, n in rows]


def knowledge_base(kg_path: str | None = None) -> KnowledgeBase:
    """The graph with its linker and symptom index (``kg_path``, else the starter graph), built once."""
    return KnowledgeBase.load(kg_path)


def ranked_diseases(kb: KnowledgeBase, q: str, k: int = 5) -> list[dict[str, Any]]:
    """When ``q`` names symptoms: the diseases that fit them best, with the symptoms each one explains."""
    return [
        {
            "key": c.key,
            "name": _display(kb.kg, c.key),
            "score": round(c.score, 2),
            "matched": [_display(kb.kg, s) for s, _ in c.matched],
            "sources": sorted({src for ref in c.evidence for src in ref.cites()}),
        }
        for c in kb.rank_text(q, k=k)
    ]
