"""Entity linking: longest match over names and aliases, English normalisation, typos, negation."""

from __future__ import annotations

import pytest

from knowledge.graph import KnowledgeGraph
from knowledge.linking import Linker, normalize
from knowledge.lookup import KnowledgeBase
from knowledge.schema import Kind, Source


@pytest.fixture(scope="module")
def linker() -> Linker:
    return KnowledgeBase.load().linker


def keys(linker: Linker, text: str, negated: bool | None = None) -> list[str]:
    return [m.key for m in linker.link(text, kinds=[Kind.SYMPTOM]) if negated is None or m.negated == negated]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("最近老流鼻涕怎么办？", ["symptom:流鼻涕"]),
        ("老是头疼", ["symptom:头痛"]),
        ("I have a fever, cough and headache", ["symptom:发热", "symptom:咳嗽", "symptom:头痛"]),
        ("Headaches and COUGHING all week", ["symptom:头痛", "symptom:咳嗽"]),
        ("my nose is running, a runny nose", ["symptom:流鼻涕", "symptom:流鼻涕"]),
    ],
)
def test_links_names_aliases_and_colloquial_phrasings(linker, text, expected):
    assert keys(linker, text) == expected


def test_longest_match_wins_over_a_contained_name(linker):
    ms = linker.link("胸痛不缓解，还有胸痛")
    assert ms[0].key == "symptom:持续胸痛" and ms[0].text == "胸痛不缓解"
    assert ms[1].key == "symptom:胸痛"


def test_spans_point_into_the_original_text(linker):
    text = "Since Monday: HEADACHES, then a high fever."
    for m in linker.link(text):
        assert text[m.start : m.end] == m.text
    assert [m.text for m in linker.link(text, kinds=[Kind.SYMPTOM])] == ["HEADACHES", "high fever"]


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("I have a feaver", "symptom:发热"),
        ("bad diarhea since yesterday", "symptom:腹泻"),
        ("since monday a headahce", "symptom:头痛"),
        ("terrible headahce", "symptom:剧烈头痛"),
    ],
)
def test_typos_link_by_fuzzy_match_with_a_lower_score(linker, typo, expected):
    (m,) = linker.link(typo, kinds=[Kind.SYMPTOM])
    assert m.key == expected and m.method == "fuzzy" and m.score < 0.95


def test_common_words_are_not_fuzzy_matched(linker):
    assert linker.link("I could not sleep, it would be there", kinds=[Kind.DISEASE]) == []


@pytest.mark.parametrize(
    ("text", "negated", "affirmed"),
    [
        ("no fever, but a bad cough", ["symptom:发热"], ["symptom:咳嗽"]),
        ("without cough or fever, just a sore throat", ["symptom:咳嗽", "symptom:发热"], ["symptom:咽痛"]),
        ("Patient denies chest pain; has shortness of breath", ["symptom:胸痛"], ["symptom:呼吸困难"]),
        ("I don't have a fever but my head hurts", ["symptom:发热"], ["symptom:头痛"]),
        ("没有发烧，但是咳嗽", ["symptom:发热"], ["symptom:咳嗽"]),
        ("不咳嗽，有点头疼", ["symptom:咳嗽"], ["symptom:头痛"]),
        ("没有发烧和咳嗽", ["symptom:发热", "symptom:咳嗽"], []),
        ("无明显胸痛", ["symptom:胸痛"], []),
    ],
)
def test_negation_marks_mentions_in_its_scope_only(linker, text, negated, affirmed):
    assert keys(linker, text, negated=True) == negated
    assert keys(linker, text, negated=False) == affirmed


def test_a_negation_word_inside_a_name_is_not_a_cue(linker):
    ms = linker.link("睡不着，头痛", kinds=[Kind.SYMPTOM])
    assert [(m.key, m.negated) for m in ms] == [("symptom:失眠", False), ("symptom:头痛", False)]


def test_deny_word_marks_a_food_as_negated(linker):
    (m,) = linker.link("哪些人最好不要吃蜂蜜？", kinds=[Kind.FOOD])
    assert m.key == "food:蜂蜜" and m.negated


def test_english_normalisation_stems_plurals_and_ing_forms():
    assert normalize("Headaches") == normalize("headache")
    assert normalize("coughing") == normalize("cough")
    assert normalize("头疼") == normalize("头痛")


def test_an_ambiguous_surface_returns_every_entity_it_names():
    kg = KnowledgeGraph()
    src = Source("test")
    kg.add_entity(Kind.SYMPTOM, "失眠", source=src)
    kg.add_entity(Kind.DISEASE, "失眠症", source=src, aliases=["失眠"])
    ms = Linker(kg).link("老失眠")
    assert {m.key for m in ms} == {"symptom:失眠", "disease:失眠症"}
    assert {m.score for m in ms} == {1.0, 0.95}


def test_aliases_that_are_ordinary_words_never_link():
    kg = KnowledgeGraph()
    kg.add_entity(
        Kind.DISEASE, "巴雷特食管", source=Source("test"), aliases=["BE", "Barrett esophagus", "肿"]
    )
    linker = Linker(kg)
    assert linker.link("it may be nothing, a bit 肿") == []
    assert [m.key for m in linker.link("told I have Barrett esophagus")] == ["disease:巴雷特食管"]
