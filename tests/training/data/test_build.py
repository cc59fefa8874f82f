"""`chatdoctor data build`: the tiny config end to end, its dataset card, and failures that write nothing."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from chatdoctor.config import load_config
from chatdoctor.errors import ConfigError, DataError
from training.data.build import build
from training.data.commands import app
from training.data.config import BuildConfig, project_root
from training.data.dedup import normalise
from training.data.formats import read_records

ROOT = project_root()
CONFIGS = sorted(p for p in (ROOT / "configs/data").glob("*.yaml") if p.stem != "generate")


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("build") / "tiny"
    result = CliRunner().invoke(
        app, ["build", str(ROOT / "configs/data/tiny.yaml"), "--set", f"output_dir={out}"]
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    return out


def test_tiny_build_writes_splits_manifest_card_and_config(tiny_build):
    names = {p.name for p in tiny_build.iterdir()}
    assert names == {
        "train.jsonl",
        "validation.jsonl",
        "test.jsonl",
        "manifest.json",
        "README.md",
        "config.yaml",
    }
    manifest = json.loads((tiny_build / "manifest.json").read_text())
    total = sum(s["records"] for s in manifest["splits"].values())
    assert 300 <= total <= 370
    assert all(len(f["sha256"]) == 64 for i in manifest["inputs"] for f in i["files"])
    assert sum(i.get("records_loaded", 0) for i in manifest["inputs"]) == 370  # the `sample:` sizes
    steps = manifest["steps"]
    assert [s["step"] for s in steps] == [
        "strip_artefacts",
        "scrub_pii",
        "language",
        "length",
        "exact_dedup",
        "decontaminate",
        "mix",
        "near_dedup",
    ]
    for before, after in itertools.pairwise(steps):  # each whole-set step starts where the last ended
        assert after["input"] == before["output"]
    assert steps[-1]["output"] == total
    assert sum(manifest["splits"]["train"]["prompt_chars"].values()) == manifest["splits"]["train"]["records"]
    card = (tiny_build / "README.md").read_text()
    assert "## Steps" in card and "genmedgpt_5k" in card and "does not replace a clinician" in card
    assert yaml.safe_load((tiny_build / "config.yaml").read_text())["name"] == "tiny"


def test_tiny_build_records_follow_the_training_schema(tiny_build):
    recs = {s: list(read_records(tiny_build / f"{s}.jsonl")) for s in ("train", "validation", "test")}
    assert recs["validation"] and recs["test"]
    ids = [r.id for rs in recs.values() for r in rs]
    assert len(ids) == len(set(ids))
    multi = [r for r in recs["train"] if len(r.messages) > 2]
    assert multi  # Huatuo liver-cancer dialogues stay multi-turn
    prompts = {s: {normalise(r.prompt) for r in rs} for s, rs in recs.items()}
    assert not prompts["train"] & prompts["test"] and not prompts["train"] & prompts["validation"]
    line = json.loads((tiny_build / "train.jsonl").read_text().splitlines()[0])
    assert set(line) == {"id", "source", "messages", "lang", "license", "meta"}
    assert line["messages"][-1]["role"] == "assistant"


def test_stats_command_summarises_a_build(tiny_build):
    result = CliRunner().invoke(app, ["stats", str(tiny_build / "train.jsonl")])
    assert result.exit_code == 0
    summary = json.loads(result.output)
    assert summary["records"] == sum(summary["by_source"].values()) and summary["prompt_chars"]["p50"] > 0


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_stage_configs_load_and_point_at_real_files(path, shared_data):
    cfg = load_config(BuildConfig, path)
    for src in cfg.sources:
        if src.required and not src.path.startswith("builtin:"):
            assert (ROOT / src.path).exists(), f"{path.name}: {src.path}"


def test_shipped_generation_config_loads(shared_data):
    from training.data.generate import GenerateConfig

    cfg = load_config(GenerateConfig, ROOT / "configs/data/generate.yaml")
    assert (ROOT / cfg.kg).exists() and cfg.mode == "dialogue"


def test_unknown_config_key_names_the_file_and_closest_key(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: x\nsplitt: {test: 0.1}\n")
    with pytest.raises(ConfigError, match=r"x.yaml.*splitt.*did you mean 'split'"):
        load_config(BuildConfig, path)


def test_a_failing_build_leaves_the_previous_output_untouched(tmp_path):
    good = tmp_path / "in.jsonl"
    good.write_text(
        json.dumps({"instruction": "What is flu?", "input": "", "output": "A viral illness."}) + "\n"
    )
    out = tmp_path / "out"
    cfg = load_config(
        BuildConfig,
        overrides={
            "name": "t",
            "output_dir": str(out),
            "sources": [{"name": "a", "loader": "alpaca", "path": str(good)}],
        },
    )
    build(cfg, tmp_path)
    before = (out / "manifest.json").read_text()
    good.write_text(good.read_text() + '{"instruction": "broken"\n')
    with pytest.raises(DataError, match=r"in.jsonl:2"):
        build(cfg, tmp_path)
    assert (out / "manifest.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_missing_required_source_is_an_error_and_an_optional_one_is_reported(tmp_path):
    good = tmp_path / "in.jsonl"
    good.write_text(
        json.dumps({"instruction": "What is flu?", "input": "", "output": "A viral illness."}) + "\n"
    )
    sources = [
        {"name": "a", "loader": "alpaca", "path": str(good)},
        {"name": "b", "loader": "alpaca", "path": str(tmp_path / "absent.json"), "required": False},
    ]
    cfg = load_config(BuildConfig, overrides={"output_dir": str(tmp_path / "o"), "sources": sources})
    out = build(cfg, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped_sources"][0]["name"] == "b"
    sources[1]["required"] = True
    with pytest.raises(DataError, match=r"absent\.json: input of source 'b' not found"):
        build(
            load_config(BuildConfig, overrides={"output_dir": str(tmp_path / "o2"), "sources": sources}),
            tmp_path,
        )


def test_mixture_fractions_and_caps_are_seeded_and_extra_formats_written(tmp_path, shared_data):
    general = str(shared_data / "general/alpaca_en_demo.json")
    med = str(shared_data / "huatuo/llama_data.json")
    sources = [
        {"name": "general", "loader": "alpaca", "path": general, "fraction": 0.1, "scrub_pii": False},
        {"name": "med", "loader": "huatuo_llama_data", "path": med, "sample": 400, "max_records": 150},
    ]
    over = {
        "output_dir": str(tmp_path / "o"),
        "sources": sources,
        "formats": ["jsonl", "parquet", "alpaca", "sharegpt", "hf"],
    }
    out = build(load_config(BuildConfig, overrides=over), tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    mix = next(s for s in manifest["steps"] if s["step"] == "mix")
    exact = next(s for s in manifest["steps"] if s["step"] == "exact_dedup")
    unique_general = 999 - exact["removed_by_source"].get("general", 0)
    assert mix["output"] == round(unique_general * 0.1) + 150 and mix["input"] > 1300
    first = sorted(p.name for p in out.iterdir())
    assert "train.parquet" in first and "test.alpaca.json" in first and "validation.sharegpt.json" in first
    parquet = [r.to_dict() for r in read_records(out / "train.parquet")]
    assert parquet == [r.to_dict() for r in read_records(out / "train.jsonl")]
    from datasets import load_from_disk

    from training.data.formats import from_hf_dataset

    assert [r.to_dict() for r in from_hf_dataset(load_from_disk(str(out / "train.hf")))] == parquet
    again = build(load_config(BuildConfig, overrides={**over, "output_dir": str(tmp_path / "p")}), tmp_path)
    assert (again / "train.jsonl").read_text() == (out / "train.jsonl").read_text()
