"""Lookups: IDF/HSDN-weighted ranking with explanations, negation penalty, reverse lookups, citations."""

from __future__ import annotations

import random

import pytest

from knowledge.graph import KnowledgeGraph
from knowledge.lookup import (
    KnowledgeBase,
    SymptomIndex,
    departments,
    facts,
    naive_rank,
    related_diseases,
)
from knowledge.schema import Kind, Rel, Source


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def top(kb: KnowledgeBase, text: str, k: int = 5) -> list[str]:
    return [c.key.split(":", 1)[1] for c in kb.rank_text(text, k=k)]


def test_runny_nose_ranks_cold_flu_and_rhinitis_first(kb):
    assert set(top(kb, "最近老流鼻涕怎么办？", 3)) <= {"感冒", "流行性感冒", "过敏性鼻炎", "鼻窦炎"}
    assert "感冒" in top(kb, "最近老流鼻涕怎么办？", 3)


def test_fever_cough_headache_ranks_respiratory_infections_first(kb):
    assert set(top(kb, "I have a fever, cough and headache", 3)) == {"流行性感冒", "感冒", "新型冠状病毒感染"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("尿频尿急尿痛", "尿路感染"),
        ("胸口痛，出冷汗，喘不上气", "心肌梗死"),
        ("头疼，恶心，怕光", "偏头痛"),
        ("I have diarrhea, vomiting and stomach cramps", "急性胃肠炎"),
        ("big toe pain at night, hot swollen painful joint", "痛风"),
    ],
)
def test_typical_presentations_rank_the_expected_disease_first(kb, text, expected):
    assert top(kb, text, 1) == [expected]


def test_a_denied_symptom_counts_against_diseases_that_list_it(kb):
    plain = kb.rank_text("cough and sore throat", k=10)
    denied = kb.rank_text("cough and sore throat, no fever", k=10)
    with_fever = {c.key for c in plain if "symptom:发热" in kb.index.weights[c.key]}
    assert with_fever
    before = {c.key: c.score for c in plain}
    after = {c.key: c.score for c in denied}
    for key in with_fever:
        assert after.get(key, 0.0) < before[key]
    assert [c.key for c in plain] != [c.key for c in denied]


def test_each_candidate_explains_matched_denied_and_missing_symptoms_with_sources(kb):
    (c, *_) = kb.index.rank(["symptom:咳嗽", "symptom:发热"], ["symptom:流鼻涕"], k=3)
    assert {s for s, _ in c.matched} == {"symptom:咳嗽", "symptom:发热"}
    assert all(w > 0 for _, w in c.matched)
    assert c.missing and not {s for s, _ in c.missing} & {"symptom:咳嗽", "symptom:发热", "symptom:流鼻涕"}
    assert {f.object for f in c.evidence} == {"symptom:咳嗽", "symptom:发热"}
    assert all(f.cites() == [f"starter#{c.key.split(':')[1]}"] for f in c.evidence)


def test_rare_symptoms_weigh_more_than_common_ones(kb):
    idf = kb.index.idf
    assert idf["symptom:乏力"] < idf["symptom:鼻痒"]


def tiny_graph(hsdn: bool) -> KnowledgeGraph:
    kg = KnowledgeGraph()
    rows = [("A", "s1", 10.0), ("A", "s2", 1.0), ("B", "s1", 1.0), ("B", "s2", 10.0), ("C", "s3", 1.0)]
    for d, s, w in rows:
        kg.add_fact(
            Kind.DISEASE,
            d,
            Rel.HAS_SYMPTOM,
            Kind.SYMPTOM,
            s,
            source=Source("hsdn", None, w if hsdn else None),
        )
    return kg


def test_hsdn_weights_from_edge_sources_shift_the_ranking():
    plain = SymptomIndex(tiny_graph(hsdn=False)).rank(["symptom:s1"], k=2)
    weighted = SymptomIndex(tiny_graph(hsdn=True)).rank(["symptom:s1"], k=2)
    assert plain[0].score == plain[1].score
    assert [c.key for c in weighted] == ["disease:A", "disease:B"] and weighted[0].score > weighted[1].score


def test_index_and_naive_scan_agree_on_random_queries(kb):
    rng = random.Random(7)
    symptoms = sorted(kb.index.idf)
    for _ in range(50):
        present = rng.sample(symptoms, rng.randint(1, 4))
        denied = rng.sample(symptoms, rng.randint(0, 2))
        fast = [(round(c.score, 4), c.key) for c in kb.index.rank(present, denied, k=5)]
        slow = [(round(s, 4), d) for s, d in naive_rank(kb.index, present, denied, k=5)]
        assert fast == slow


def test_no_known_symptom_gives_no_candidates(kb):
    assert kb.rank_text("量子力学") == []
    assert kb.index.rank(["symptom:不存在"]) == []


def test_disease_facts_by_type_keep_their_sources(kb):
    by_rel = facts(kb.kg, "disease:痛风")
    assert {r.object for r in by_rel[Rel.NOT_EAT]} >= {"food:啤酒", "food:海鲜"}
    assert by_rel[Rel.HAS_SYMPTOM][0].cites() == ["starter#痛风"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("drug:奥司他韦", "disease:流行性感冒"),
        ("check:胃镜检查", "disease:消化性溃疡"),
        ("food:啤酒", "disease:痛风"),
    ],
)
def test_reverse_lookups_find_diseases_for_drugs_checks_and_foods(kb, key, expected):
    assert expected in {r.subject for r in related_diseases(kb.kg, key)}


def test_department_lookup_and_similar_diseases(kb):
    assert [r.object for r in departments(kb.kg, "disease:痔疮")] == [
        "department:肛肠科",
        "department:普通外科",
    ]
    similar = [c.key for c in kb.index.similar("disease:感冒", k=3)]
    assert "disease:感冒" not in similar and "disease:流行性感冒" in similar
