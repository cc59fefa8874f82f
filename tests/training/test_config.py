"""Pipeline YAML: stage defaults, overrides, clear errors, and where each stage starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chatdoctor.errors import ConfigError
from training.config import DEFAULT_LR, load_pipeline
from training.pipeline import plan_stages

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


BASE = {
    "model": "m",
    "template": "chatdoctor",
    "method": "lora",
    "output_dir": "out",
    "stage_defaults": {"epochs": 1},
    "stages": [{"name": "a", "dataset": "a.jsonl"}, {"name": "b", "dataset": "b.jsonl", "chain": "merge"}],
}


def test_stage_defaults_and_overrides_apply_in_order(tmp_path):
    pipe = load_pipeline(_write(tmp_path, BASE), ["lora.r=16", "stage.max_length=256", "stages.b.epochs=2"])
    assert pipe.lora.r == 16
    assert [s.max_length for s in pipe.stages] == [256, 256]
    assert [s.epochs for s in pipe.stages] == [1.0, 2.0]
    assert pipe.learning_rate(pipe.stages[0]) == DEFAULT_LR["lora"] == 3e-4


def test_unknown_key_names_the_file_and_the_closest_key(tmp_path):
    with pytest.raises(ConfigError, match=r"p.yaml: .*learning_rat.*did you mean 'learning_rate'"):
        load_pipeline(_write(tmp_path, BASE), ["stage.learning_rat=1"])


def test_override_for_an_unknown_stage_lists_the_stages(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown stage 'c'"):
        load_pipeline(_write(tmp_path, BASE), ["stages.c.epochs=1"])


def test_prefix_tuning_cannot_be_merged_between_stages(tmp_path):
    with pytest.raises(ConfigError, match="cannot be merged"):
        load_pipeline(_write(tmp_path, {**BASE, "method": "ptuning"}))


@pytest.mark.parametrize(
    ("method", "chain", "base", "adapter", "merge"),
    [
        ("lora", "merge", "out/b/base", None, ("m", "out/a/model")),
        ("lora", "continue", "m", "out/a/model", None),
        ("lora", "new", "m", None, None),
        ("full", "merge", "out/a/model", None, None),
    ],
)
def test_plan_says_where_each_stage_starts(tmp_path, method, chain, base, adapter, merge):
    data = {**BASE, "method": method, "stages": [BASE["stages"][0], {**BASE["stages"][1], "chain": chain}]}
    first, second = plan_stages(load_pipeline(_write(tmp_path, data)))
    assert first.base == "m" and first.init_adapter is None
    assert (second.base, second.init_adapter, second.merge_from) == (base, adapter, merge)


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_shipped_configs_load(name):
    pipe = load_pipeline(CONFIGS / name)
    assert pipe.stages
    if pipe.deepspeed:
        assert Path(pipe.deepspeed_config()).is_file()


def test_chatdoctor_config_holds_the_published_hyperparameters():
    pipe = load_pipeline(CONFIGS / "chatdoctor-llama7b.yaml")
    assert [s.name for s in pipe.stages] == ["general", "genmedgpt", "healthcaremagic"]
    for s in pipe.stages:
        assert (s.max_length, s.lr_scheduler, s.warmup_ratio) == (512, "cosine", 0.03)
        assert 128 <= s.per_device_batch_size * s.gradient_accumulation_steps * pipe.num_gpus <= 256
    assert pipe.method == "full" and pipe.learning_rate(pipe.stages[0]) == 2e-5
    assert all("icliniq" not in s.dataset for s in pipe.stages), "iCliniq is the held-out test set"


def test_packing_is_refused_for_prefix_tuning(tmp_path):
    data = {**BASE, "method": "ptuning", "stages": [{**BASE["stages"][0], "packing": True}]}
    with pytest.raises(ConfigError, match="packing"):
        load_pipeline(_write(tmp_path, data))
