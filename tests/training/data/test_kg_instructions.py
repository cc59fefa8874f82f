"""KG → instruction pairs: bilingual templates, citations, symptom-set questions, determinism."""

from __future__ import annotations

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
    zh = next(
        r
        for r in recs
        if r.lang == "zh"
        and r.meta.get("relation") == "has_symptom"
        and "感冒" in r.prompt
        and "流行性" not in r.prompt
    )
    assert all(s in zh.response for s in ("流鼻涕", "咳嗽", "发热", "咽痛"))
    en = next(
        r
        for r in recs
        if r.lang == "en" and r.meta.get("relation") == "common_drug" and "Common cold" in r.prompt
    )
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
    assert all(
        {f["subject"] for f in r.meta["facts"]} == {"disease:感冒", "disease:流行性感冒"} for r in flu_cold
    )


def test_kg_qa_loader_reads_a_real_kg_file_through_the_importers(shared_data):
    from training.data.loaders import load

    path = shared_data / "qasystem_medical_sample/medical2.json.bak.utf8.jsonl"
    recs = list(load("kg_qa", path, format="qasystem", langs=["zh"]))
    assert len({r.meta.get("target") or r.meta["facts"][0]["subject"] for r in recs}) >= 90
    (cough,) = [
        r
        for r in recs
        if r.meta.get("relation") == "has_symptom"
        and r.prompt.count("百日咳") == 1
        and r.meta["facts"][0]["subject"] == "disease:百日咳"
    ]
    assert "痉挛性咳嗽" in cough.response and "吸气时有蝉鸣音" in cough.response
    assert all(f["sources"][0].startswith("qasystem_medical#") for f in cough.meta["facts"])


def test_english_items_are_lower_cased_inside_sentences_but_acronyms_kept():
    from training.data.kg_instructions import _lower_first

    assert [_lower_first(x) for x in ("Sharp chest pain", "HbA1c", "CT scan", "ibuprofen")] == [
        "sharp chest pain",
        "HbA1c",
        "CT scan",
        "ibuprofen",
    ]
