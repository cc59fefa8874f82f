"""``chatdoctor kg import|stats|export|fetch`` through Typer's CliRunner, and the real CLI's exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from chatdoctor.errors import DataError
from knowledge import store
from knowledge.commands import app

runner = CliRunner()


def test_import_writes_a_graph_and_prints_the_report(shared_data, tmp_path) -> None:
    out = tmp_path / "g.cdkg"
    src = shared_data / "qasystem_medical_sample" / "medical2.json.bak"
    reports = tmp_path / "reports.json"
    result = runner.invoke(
        app, ["import", str(src), "--out", str(out), "--report-json", str(reports), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "gb18030" in result.output and "dropped person name in symptom list" in result.output
    kg = store.load(out)
    assert "disease:百日咳" in kg
    (report,) = json.loads(reports.read_text(encoding="utf-8"))
    assert (report["format"], report["read"], report["encoding"]) == ("qasystem", 100, "gb18030")
    assert report["cleaned"]["dropped person name in symptom list"] == 5


def test_import_merge_into_adds_a_second_source_to_the_same_graph(shared_data, tmp_path) -> None:
    out = tmp_path / "g.cdkg"
    runner.invoke(
        app, ["import", str(shared_data / "kaggle_disease_symptom"), "--out", str(out), "--no-progress"]
    )
    result = runner.invoke(
        app,
        ["import", str(shared_data / "medicine_recommendation"), "--merge-into", str(out), "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    kg = store.load(out)
    assert kg.stats()["entities.disease"] == 41
    assert store.read_header(out)["sources"] == ["kaggle"]
    assert {f.object_name for f in kg.facts("disease:Diabetes", "common_drug")} >= {"Metformin"}


def test_stats_and_exports(shared_data, tmp_path) -> None:
    graph = tmp_path / "g.cdkg"
    runner.invoke(
        app, ["import", str(shared_data / "hsdn" / "symptoms-DO.tsv"), "--out", str(graph), "--no-progress"]
    )
    result = runner.invoke(app, ["stats", "--graph", str(graph), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["stats"]["entities.disease"] == 117 and data["header"]["sources"] == ["hsdn"]
    for fmt in ("jsonl", "graphml"):
        out = tmp_path / f"g.{fmt}"
        result = runner.invoke(app, ["export", "--graph", str(graph), "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000


def test_bad_input_raises_and_writes_nothing(shared_data, tmp_path) -> None:
    bad = tmp_path / "medical.json"
    bad.write_text('{"name": "感冒", "symptom": "发烧"}\n', encoding="utf-8")  # symptom must be a list
    out = tmp_path / "g.cdkg"
    result = runner.invoke(
        app, ["import", str(bad), "--format", "qasystem", "--out", str(out), "--no-progress"]
    )
    assert isinstance(result.exception, DataError)
    assert result.exception.field == "symptom" and result.exception.line == 1
    assert list(tmp_path.iterdir()) == [bad]


def test_real_cli_exits_2_with_one_line_error_and_no_output(shared_data, tmp_path) -> None:
    rows = (shared_data / "kg39_medicalgraph" / "disease.csv").read_bytes().splitlines(True)[:5]
    bad = tmp_path / "disease.csv"
    bad.write_bytes(rows[0].replace(b"name,", b"title,") + b"".join(rows[1:]))
    out = tmp_path / "g.cdkg"
    proc = subprocess.run(
        [sys.executable, "-m", "chatdoctor.cli", "kg", "import", str(bad), "-f", "kg39", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "'name'" in lines[0]
    assert not out.exists()


def test_stats_of_a_missing_graph_is_a_clear_error(tmp_path) -> None:
    result = runner.invoke(app, ["stats", "--graph", str(tmp_path / "none.cdkg")])
    assert isinstance(result.exception, DataError)
    assert "kg import" in str(result.exception)


@pytest.mark.parametrize("fmt", ["csv"])
def test_export_refuses_an_unknown_format(tmp_path, fmt: str) -> None:
    result = runner.invoke(
        app, ["export", "--format", fmt, "--out", str(tmp_path / "x"), "-g", str(tmp_path / "g")]
    )
    assert "unknown export format" in str(result.exception)


def test_fetch_list_names_every_dataset_with_its_license() -> None:
    result = runner.invoke(app, ["fetch", "--list"])
    assert result.exit_code == 0
    assert "kg39" in result.output and "qasystem_medical" in result.output and "license" in result.output


def test_import_with_starter_merges_real_data_into_the_bundled_graph(shared_data, tmp_path) -> None:
    out = tmp_path / "g.cdkg"
    src = shared_data / "qasystem_medical_sample" / "medical2.json.bak.utf8.jsonl"
    result = runner.invoke(app, ["import", str(src), "--with-starter", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    kg = store.load(out)
    assert {"starter", "qasystem_medical"} <= set(store.read_header(out)["sources"])
    (cold,) = kg.find("感冒", "disease")
    assert {s.name for s in kg.entity(cold).sources} >= {"starter", "qasystem_medical"}
    assert kg.entity(cold).names.get("en")  # the starter's English name survives the merge
