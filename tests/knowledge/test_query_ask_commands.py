"""``chatdoctor kg query`` and ``chatdoctor kg ask``: the starter graph by default, a saved graph with --kg."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from knowledge import store
from knowledge.commands import app
from knowledge.graph import KnowledgeGraph
from knowledge.schema import Kind, Rel, Source

runner = CliRunner()


def test_ask_answers_the_issue_examples_with_ranked_cited_answers() -> None:
    zh = runner.invoke(app, ["ask", "最近老流鼻涕怎么办？"])
    assert zh.exit_code == 0, zh.output
    assert (
        zh.output.startswith("与流鼻涕相关、可能的病因（按匹配程度排序）：")
        and "[1] symptom_disease: starter#" in zh.output
    )
    en = runner.invoke(app, ["ask", "I have a fever, cough and headache", "--json"])
    data = json.loads(en.output)
    assert [c["disease"] for c in data["candidates"][:3]] == [
        "disease:流行性感冒",
        "disease:感冒",
        "disease:新型冠状病毒感染",
    ]
    assert data["lines"][0]["facts"][0]["sources"][0].startswith("starter#")


def test_query_symptoms_prints_scores_and_explanations() -> None:
    result = runner.invoke(app, ["query", "--symptoms", "尿频，尿急，尿痛", "-k", "2"])
    assert result.exit_code == 0, result.output
    first, why = result.output.splitlines()[:2]
    assert first.startswith("  1. 尿路感染  score") and first.endswith("[starter#尿路感染]")
    assert why.strip().startswith("matched: 尿频") and "missing:" in why


def test_query_disease_drug_and_similar_as_json() -> None:
    disease = json.loads(runner.invoke(app, ["query", "--disease", "gout", "--lang", "en", "--json"]).output)
    assert (
        disease["disease"] == "Gout"
        and {"object": "beer", "sources": ["starter#痛风"]} in disease["facts"]["not_eat"]
    )
    drug = json.loads(runner.invoke(app, ["query", "--drug", "oseltamivir", "--json"]).output)
    assert drug[0]["disease"] == "流行性感冒"
    similar = json.loads(runner.invoke(app, ["query", "--similar", "感冒", "--json"]).output)
    assert "流行性感冒" in [s["disease"] for s in similar]


def test_query_unknown_name_is_a_one_line_error_with_suggestions() -> None:
    result = runner.invoke(app, ["query", "--disease", "痛疯"])
    assert result.exit_code != 0 and "痛风" in str(result.exception)


def test_ask_uses_a_saved_graph_given_with_kg(tmp_path) -> None:
    kg = KnowledgeGraph(name="mini")
    src = Source("mini", "1")
    kg.add_fact(Kind.DISEASE, "甲病", Rel.HAS_SYMPTOM, Kind.SYMPTOM, "怪咳", source=src)
    kg.add_fact(Kind.DISEASE, "甲病", Rel.BELONGS_TO_DEPARTMENT, Kind.DEPARTMENT, "怪病科", source=src)
    path = tmp_path / "mini.cdkg"
    store.save(kg, path)
    result = runner.invoke(app, ["ask", "甲病挂什么科", "--kg", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("甲病通常到以下科室就诊：怪病科。 [1]") and "mini#1" in result.output
