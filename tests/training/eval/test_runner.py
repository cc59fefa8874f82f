"""Full evaluation runs on small real sets: a tiny model and the knowledge-only backend, compared."""

import json
import shutil

import pytest

from chatdoctor.config import ChatConfig
from chatdoctor.types import GenParams
from training.eval.config import SuiteConfig, SystemConfig, TaskConfig
from training.eval.runner import run_suite


@pytest.fixture
def genmed_small(shared_data, tmp_path):
    """The first 6 GenMedGPT-5k records (a real set), as the data builder's `messages` JSONL."""
    rows = json.loads((shared_data / "chatdoctor" / "chatdoctor5k.json").read_text(encoding="utf-8"))[:6]
    path = tmp_path / "genmed.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            msgs = [
                {"role": "system", "content": r["instruction"]},
                {"role": "user", "content": r["input"]},
                {"role": "assistant", "content": r["output"]},
            ]
            f.write(json.dumps({"id": f"g{i}", "messages": msgs}) + "\n")
    return path


def _suite(tmp_path, systems, tasks) -> SuiteConfig:
    return SuiteConfig(
        name="t",
        out=str(tmp_path / "out"),
        systems=systems,
        tasks=tasks,
        params=GenParams(max_new_tokens=12),
        n_boot=200,
    )


def test_tiny_model_vs_knowledge_backend_report(tmp_path, tiny_llama_dir, genmed_small, shared_data):
    systems = [
        SystemConfig("kg", ChatConfig(backend="knowledge")),
        SystemConfig("tiny", ChatConfig(backend="hf", model=str(tiny_llama_dir), template="chatdoctor")),
    ]
    tasks = [
        TaskConfig("genmed", "generation", path=str(genmed_small)),
        TaskConfig("huatuo", "generation", path=str(shared_data / "huatuo" / "llama_data.json"), limit=4),
        TaskConfig("triage", "safety", limit=12),
        TaskConfig("kgc", "consistency", path=str(genmed_small)),
    ]
    summary = run_suite(_suite(tmp_path, systems, tasks))
    out = tmp_path / "out"
    gen = summary["tasks"]["genmed"]
    assert set(gen["systems"]) == {"kg", "tiny"}
    for r in gen["systems"].values():
        for m in ("rouge-1", "rouge-2", "rouge-l", "bleu-4"):
            est = r["summary"][m]
            assert est["n"] == 6 and est["low"] <= est["mean"] <= est["high"]
    assert "constant 'see a doctor'" in gen["systems"]["kg"]["baselines"]
    assert set(gen["comparisons"]["tiny vs kg"]) >= {"rouge-1", "bleu-4"}
    # Chinese references are scored with jieba ROUGE: the knowledge backend's Chinese answers overlap them
    assert summary["tasks"]["huatuo"]["systems"]["kg"]["summary"]["rouge-1"]["mean"] > 0
    preds = [
        json.loads(line) for line in (out / "tiny" / "genmed" / "predictions.jsonl").read_text().splitlines()
    ]
    assert len(preds) == 6 and all(p["finish_reason"] in ("stop", "length") for p in preds)
    report = (out / "report.md").read_text()
    assert "## genmed" in report and "paired bootstrap" in report and "baseline" in report
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    assert (out / "plots" / "genmed.png").stat().st_size > 1000
    assert json.loads((out / "summary.json").read_text())["suite"] == "t"


def test_interrupted_run_resumes_without_asking_again(tmp_path, genmed_small):
    systems = [SystemConfig("kg", ChatConfig(backend="knowledge"))]
    suite = _suite(tmp_path, systems, [TaskConfig("genmed", "generation", path=str(genmed_small))])
    run_suite(suite)
    log = tmp_path / "out" / "kg" / "genmed" / "predictions.jsonl"
    lines = log.read_text().splitlines()
    # simulate a crash: keep 3 answers and a torn fourth line, and mark the kept ones
    kept = [json.loads(line) | {"prediction": f"kept-{i}"} for i, line in enumerate(lines[:3])]
    log.write_text("".join(json.dumps(k) + "\n" for k in kept) + lines[3][:10])
    run_suite(suite)
    after = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(after) == 6
    assert [a["prediction"] for a in after[:3]] == ["kept-0", "kept-1", "kept-2"]  # not asked again


def test_safety_task_through_the_engine_scores_triage(tmp_path):
    systems = [SystemConfig("kg-engine", ChatConfig(backend="knowledge"), engine=True)]
    summary = run_suite(_suite(tmp_path, systems, [TaskConfig("triage", "safety")]))
    s = summary["tasks"]["triage"]["systems"]["kg-engine"]["summary"]
    assert s["recall_emergency"]["n"] > 50 and s["recall_self_harm"]["n"] > 10
    assert s["recall_emergency"]["mean"] >= 90
    assert s["false_positive_routine"]["mean"] <= 10


def test_eval_cli_adds_a_system_and_prints_scores(tmp_path, genmed_small):
    from typer.testing import CliRunner

    from chatdoctor.cli import app

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: cli\nout: {tmp_path / 'o'}\ntasks:\n  - {{name: g, type: generation, path: {genmed_small}}}\n"
    )
    res = CliRunner().invoke(
        app, ["eval", str(suite), "--backend", "knowledge", "--name", "kg", "--limit", "2"]
    )
    assert res.exit_code == 0, res.output
    assert "g " in res.output and "rouge-1" in res.output
    assert (tmp_path / "o" / "report.md").exists()
    shutil.rmtree(tmp_path / "o")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntaskz: []\n")
    res = CliRunner().invoke(app, ["eval", str(bad), "--backend", "knowledge"])
    assert res.exit_code != 0
