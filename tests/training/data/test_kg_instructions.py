"""KG → instruction pairs: bilingual templates, citations, symptom-set questions, determinism."""

from __future__ import annotations

import importlib

import pytest

from knowledge.schema import Rel
from training.data.kg_instructions import KGQAOptions, generate_pairs


def pairs(kg, **kw):
    return list(generate_pairs(kg, KGQAOptions(**kw)))


def test_same_seed_same_pairs_and_another_seed_other_phrasings(kg_small):
    a, b, c = pairs(kg_small, seed=7), pairs(kg_small, seed=7), pairs(kg_small, seed=8)
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]
    assert [r.prompt for r in a] != [r.prompt for r in c]
    assert [r.meta["kind"] for r in a] == [r.meta["kind"] for r in c]


def test_every_pair_cites_facts_that_exist_in_the_graph(kg_small):
    for r in pairs(kg_small, seed=1):
        assert r.meta["facts"], r.prompt
        for f in r.meta["facts"]:
            if "attribute" in f:
                assert f["subject"] in kg_small
                continue
            fact = next(x for x in kg_small.facts(f["subject"], f["relation"]) if x.object == f["object"])
            assert f["sources"] == sorted(s.cite() for s in fact.sources)


def test_fact_answers_list_every_related_entity_in_both_languages(kg_small):
    recs = pairs(kg_small, seed=0)
    zh = next(r for r in recs if r.lang == "zh" and r.meta.get("relation") == "has_symptom" and "感冒" in r.prompt
              and "流行性" not in r.prompt)
    assert all(s in zh.response for s in ("流鼻涕", "咳嗽", "发热", "咽痛"))
    en = next(r for r in recs if r.lang == "en" and r.meta.get("relation") == "common_drug" and "Common cold" in r.prompt)
    assert "ibuprofen" in en.response and "paracetamol" in en.response
    assert {r.lang for r in recs} == {"zh", "en"}


def test_overview_answers_combine_several_fact_types(kg_small):
    over = [r for r in pairs(kg_small, seed=0) if r.meta["kind"] == "kg_overview"]
    assert len(over) == 6  # 3 diseases x 2 languages
    for r in over:
        assert len({f["relation"] for f in r.meta["facts"]}) >= 2


def test_which_disease_questions_name_only_diseases_having_every_symptom(kg_small):
    recs = [r for r in pairs(kg_small, seed=3, which_disease=4) if r.meta["kind"] == "kg_which_disease"]
    assert recs
    for r in recs:
        symptoms = set(r.meta["symptoms"])
        named = {f["subject"] for f in r.meta["facts"]}
        assert r.meta["target"] in named
        for disease in named:
            have = {f.object for f in kg_small.facts(disease, Rel.HAS_SYMPTOM)}
            assert symptoms <= have
        assert "仅供参考" in r.response or "clinician" in r.response


def test_shared_symptoms_bring_in_other_candidate_diseases(kg_small):
    recs = [r for r in pairs(kg_small, seed=0, which_disease=10) if r.meta["kind"] == "kg_which_disease"]
    flu_cold = [r for r in recs if set(r.meta["symptoms"]) <= {"symptom:发热", "symptom:咳嗽"}]
    assert flu_cold
    assert all({f["subject"] for f in r.meta["facts"]} == {"disease:感冒", "disease:流行性感冒"} for r in flu_cold)


def test_kg_qa_loader_reads_a_real_kg_file_through_the_importers(shared_data):
    try:
        importlib.import_module("knowledge.importers")
    except ImportError as exc:  # written by the KG helper in parallel
        pytest.skip(f"knowledge.importers not importable yet: {exc}")
    from training.data.loaders import load

    recs = list(load("kg_qa", shared_data / "qasystem_medical_sample/medical2.json.bak.utf8.jsonl",
                     format="qasystem", langs=["zh"], limit=5))
    assert recs and all(r.lang == "zh" and r.meta["facts"] for r in recs)
    assert any("百日咳" in r.prompt or "感冒" in r.prompt for r in recs) or len(recs) > 10
