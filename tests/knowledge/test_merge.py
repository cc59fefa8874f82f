"""Merging sources: one node per disease across datasets, every fact keeps each source that states it."""

from __future__ import annotations

from knowledge.graph import KnowledgeGraph
from knowledge.importers import import_file
from knowledge.schema import Kind, Rel, Source


def test_xywy_and_39net_records_of_one_disease_become_one_node_with_both_sources(
    shared_data, tmp_path
) -> None:
    rows = (shared_data / "kg39_medicalgraph" / "disease.csv").read_bytes().splitlines(True)
    cold = [r for r in rows if r.decode("gb18030").lstrip().startswith("感冒,")]
    assert len(cold) == 2  # '感冒' and ' 感冒': a duplicated crawl row
    part = tmp_path / "disease.csv"
    part.write_bytes(rows[0] + b"".join(cold))
    kg = KnowledgeGraph()
    import_file(kg, part, "kg39", progress=False)
    import_file(kg, shared_data / "qasystem_medical_sample" / "medical2.json.bak.utf8.jsonl", progress=False)
    assert kg.find("感冒", Kind.DISEASE) == ["disease:感冒"]
    cold = kg.entity("disease:感冒")
    assert {s.name for s in cold.sources} == {"kg39", "qasystem_medical"}
    (fever,) = [f for f in kg.facts("disease:感冒", Rel.HAS_SYMPTOM) if f.object_name == "发烧"]
    assert {s.name for s in fever.sources} == {"kg39", "qasystem_medical"}  # both datasets state it
    drugs = {f.object_name: {s.name for s in f.sources} for f in kg.facts("disease:感冒", Rel.COMMON_DRUG)}
    assert drugs["利巴韦林颗粒"] == {"qasystem_medical"} and drugs["感冒清热颗粒"] == {"kg39"}
    # first source wins for text attributes; the other dataset's value is not lost from its own record
    assert cold.attrs["cure_probability"] == "97%"


def test_an_alias_from_one_source_merges_a_name_from_another() -> None:
    kg = KnowledgeGraph()
    kg.add_entity(Kind.DISEASE, "感冒", source=Source("kg39", "122"), aliases=["上感", "普通感冒"])
    key = kg.add_entity(Kind.DISEASE, "普通感冒", source=Source("qasystem_medical", "7"))
    assert key == "disease:感冒"
    assert len(kg) == 1


def test_inside_one_source_an_alias_does_not_swallow_another_row() -> None:
    kg = KnowledgeGraph()
    kg.add_entity(Kind.DISEASE, "感冒", source=Source("kg39", "1"), aliases=["上呼吸道感染"])
    key = kg.add_entity(Kind.DISEASE, "上呼吸道感染", source=Source("kg39", "2"))
    assert key == "disease:上呼吸道感染"  # the dataset gave it its own row: a separate entity


def test_an_ambiguous_alias_merges_nothing() -> None:
    kg = KnowledgeGraph()
    kg.add_entity(Kind.DISEASE, "甲", source=Source("a", "1"), aliases=["X病"])
    kg.add_entity(Kind.DISEASE, "乙", source=Source("a", "2"), aliases=["X病"])
    assert kg.add_entity(Kind.DISEASE, "X病", source=Source("b", "1")) == "disease:X病"


def test_width_case_and_variant_spellings_merge_and_become_aliases() -> None:
    kg = KnowledgeGraph()
    kg.add_entity(Kind.DISEASE, "肺大疱", source=Source("a", "1"))
    assert kg.add_entity(Kind.DISEASE, "肺大泡", source=Source("b", "1")) == "disease:肺大疱"
    kg.add_entity(Kind.DISEASE, "Common Cold", source=Source("kaggle", "1"), lang="en")
    assert kg.add_entity(Kind.DISEASE, "common cold", source=Source("x", "1")) == "disease:Common Cold"
    assert kg.entity("disease:肺大疱").aliases == {"肺大泡"}
    assert kg.find("肺大泡") == ["disease:肺大疱"]


def test_kinds_never_merge() -> None:
    kg = KnowledgeGraph()
    d = kg.add_entity(Kind.DISEASE, "糖尿病", source=Source("a"))
    s = kg.add_entity(Kind.SYMPTOM, "糖尿病", source=Source("a"))
    assert d != s


def test_merge_of_two_graphs_keeps_sources_and_applies_the_same_rules() -> None:
    a, b = KnowledgeGraph(), KnowledgeGraph()
    a.add_fact(Kind.DISEASE, "肺大疱", Rel.HAS_SYMPTOM, Kind.SYMPTOM, "胸痛", source=Source("a", "1"))
    b.add_fact(Kind.DISEASE, "肺大泡", Rel.HAS_SYMPTOM, Kind.SYMPTOM, "胸痛", source=Source("b", "9"))
    a.merge(b)
    (fact,) = a.facts("disease:肺大疱", Rel.HAS_SYMPTOM)
    assert {s.cite() for s in fact.sources} == {"a#1", "b#9"}
    assert len(list(a.entities(Kind.DISEASE))) == 1
