"""The .cdkg store: lossless round trip, version refusal, atomic writes, exports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from chatdoctor.errors import DataError
from knowledge import store
from knowledge.graph import KnowledgeGraph
from knowledge.importers import import_file
from knowledge.schema import Kind, Rel, Source
from tests.knowledge.kg_data import imported


def _snapshot(kg: KnowledgeGraph) -> tuple[dict, set]:
    """Every entity (by key) and every edge with its sources: equal snapshots mean equal graphs."""
    nodes = {k: d["entity"] for k, d in kg.g.nodes(data=True)}
    edges = {(s, o, k, frozenset(d["sources"])) for s, o, k, d in kg.g.edges(keys=True, data=True)}
    return nodes, edges


@pytest.fixture
def small_kg() -> KnowledgeGraph:
    kg = KnowledgeGraph(name="small")
    src = Source("hsdn", "12", 1967.1)
    kg.add_entity(
        Kind.DISEASE,
        "哮喘",
        source=Source("kg39", "5"),
        aliases=["支气管哮喘"],
        names={"en": "Asthma"},
        attrs={"cure_probability": "80%"},
    )
    kg.add_fact(Kind.DISEASE, "哮喘", Rel.HAS_SYMPTOM, Kind.SYMPTOM, "喘息", source=src)
    kg.add_fact(Kind.DISEASE, "哮喘", Rel.HAS_SYMPTOM, Kind.SYMPTOM, "喘息", source=Source("kg39", "5"))
    return kg


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_keeps_every_entity_fact_and_source(small_kg, tmp_path, compress: bool) -> None:
    path = tmp_path / "g.cdkg"
    store.save(small_kg, path, compress=compress)
    back = store.load(path)
    assert _snapshot(back) == _snapshot(small_kg)
    assert back.name == "small"
    (fact,) = back.facts("disease:哮喘", Rel.HAS_SYMPTOM)
    assert {s.weight for s in fact.sources} == {1967.1, None}


def test_loaded_graph_keeps_merging_and_gaining_sources(small_kg, tmp_path) -> None:
    path = tmp_path / "g.cdkg"
    store.save(small_kg, path)
    back = store.load(path)
    back.add_fact(Kind.DISEASE, "支气管哮喘", Rel.HAS_SYMPTOM, Kind.SYMPTOM, "喘息", source=Source("x", "1"))
    (fact,) = back.facts("disease:哮喘", Rel.HAS_SYMPTOM)  # alias of a node from another source: same node
    assert {s.name for s in fact.sources} == {"hsdn", "kg39", "x"}


def test_round_trip_of_the_real_39net_graph(shared_data, tmp_path) -> None:
    kg, _ = imported(shared_data / "kg39_medicalgraph" / "disease.csv", "kg39")
    path = tmp_path / "kg39.cdkg"
    store.save(kg, path)
    back = store.load(path)
    assert back.stats() == kg.stats()
    assert _snapshot(back) == _snapshot(kg)
    header = store.read_header(path)
    assert (header["format"], header["version"], header["entities"]) == ("chatdoctor-kg", 1, len(kg))
    assert header["sources"] == ["kg39"]


def test_newer_version_is_refused_naming_file_and_version(small_kg, tmp_path) -> None:
    path = tmp_path / "g.cdkg"
    store.save(small_kg, path)
    first, rest = path.read_bytes().split(b"\n", 1)
    header = json.loads(first)
    header["version"] = 99
    path.write_bytes(json.dumps(header).encode() + b"\n" + rest)
    with pytest.raises(DataError, match="version 99") as info:
        store.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"not a graph\n", b'{"format": "other", "version": 1}\n', b""])
def test_other_files_are_refused(tmp_path, content: bytes) -> None:
    path = tmp_path / "x.cdkg"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not a chatdoctor-kg file"):
        store.load(path)


def test_corrupt_payload_is_a_data_error(small_kg, tmp_path) -> None:
    path = tmp_path / "g.cdkg"
    store.save(small_kg, path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match="corrupt"):
        store.load(path)


def test_payload_that_would_run_code_is_refused(tmp_path) -> None:
    import pickle

    path = tmp_path / "evil.cdkg"
    header = {"format": "chatdoctor-kg", "version": 1}
    path.write_bytes(json.dumps(header).encode() + b"\n" + pickle.dumps(print))
    with pytest.raises(DataError, match="forbidden"):
        store.load(path)


def test_failed_save_leaves_the_old_file_untouched(small_kg, tmp_path, monkeypatch) -> None:
    path = tmp_path / "g.cdkg"
    store.save(small_kg, path)
    before = path.read_bytes()

    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.pickle, "dumps", boom)
    with pytest.raises(RuntimeError):
        store.save(small_kg, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.cdkg"]


def test_jsonl_export_reimports_to_the_same_graph(shared_data, tmp_path) -> None:
    kg, _ = imported(shared_data / "qasystem_medical_sample" / "medical2.json.bak.utf8.jsonl")
    out = tmp_path / "kg.jsonl"
    n = store.export_jsonl(kg, out)
    assert n == len(kg) + kg.g.number_of_edges()
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["type"] for r in rows} == {"entity", "fact"}
    back = KnowledgeGraph()
    import_file(back, out, progress=False)
    assert _snapshot(back) == _snapshot(kg)


def test_graphml_export_is_readable_by_networkx(small_kg, tmp_path) -> None:
    out = tmp_path / "kg.graphml"
    store.export_graphml(small_kg, out)
    g = nx.read_graphml(out, force_multigraph=True)
    assert g.nodes["disease:哮喘"]["kind"] == "disease"
    assert json.loads(g.nodes["disease:哮喘"]["aliases"]) == ["支气管哮喘"]
    (edge,) = g.get_edge_data("disease:哮喘", "symptom:喘息").values()
    assert edge["rel"] == "has_symptom" and edge["weight"] == pytest.approx(1967.1)
    assert ET.parse(out).getroot().tag.endswith("graphml")


def test_default_graph_path_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("CHATDOCTOR_KG_PATH", raising=False)
    monkeypatch.setenv("CHATDOCTOR_DATA_DIR", str(tmp_path))
    assert store.default_graph_path() == tmp_path / "kg" / "graph.cdkg"
    monkeypatch.setenv("CHATDOCTOR_KG_PATH", str(tmp_path / "x.cdkg"))
    assert store.default_graph_path() == tmp_path / "x.cdkg"
