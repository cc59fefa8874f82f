"""Methods trained in-process on tiny models: loss falls on real data, P-Tuning v2, a GLM, freeze, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatdoctor.errors import ChatDoctorError, ConfigError
from training.config import load_pipeline
from training.pipeline import run_pipeline

pytestmark = pytest.mark.slow


def _pipeline(tmp_path: Path, model: Path, dataset: Path, **kw):
    stage = {"name": "s", "dataset": str(dataset), "per_device_batch_size": 4, "gradient_accumulation_steps": 1,
             "max_length": 64, "logging_steps": 1, "save_steps": 1000, **kw.pop("stage", {})}  # fmt: skip
    data = {"model": str(model), "template": "chatdoctor", "output_dir": str(tmp_path / "run"), "report_to": [],
            "stages": [stage], **kw}  # fmt: skip
    return load_pipeline(None, data=data)


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def _losses(stage_dir: Path) -> list[float]:
    manifest = json.loads((stage_dir / "manifest.json").read_text())
    return [h["loss"] for h in manifest["log_history"] if "loss" in h]


def test_full_finetuning_with_packing_lowers_loss_on_genmedgpt(tmp_path, tiny_llama_dir, genmed_jsonl):
    pipe = _pipeline(tmp_path, tiny_llama_dir, genmed_jsonl, method="full",
                     stage={"max_steps": 30, "learning_rate": 3e-3, "packing": True, "warmup_ratio": 0.0})  # fmt: skip
    run_pipeline(pipe, in_process=True)
    losses = _losses(tmp_path / "run" / "s")
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5, losses
    before, after = (
        _weights(tiny_llama_dir / "model.safetensors"),
        _weights(tmp_path / "run" / "s" / "model" / "model.safetensors"),
    )
    assert all(not before[k].equal(after[k]) for k in before), "every trainable parameter changed"


def test_ptuning_v2_trains_only_the_prefix_on_llama(tmp_path, tiny_llama_dir, genmed_jsonl):
    pipe = _pipeline(tmp_path, tiny_llama_dir, genmed_jsonl, method="ptuning", prefix={"num_virtual_tokens": 8},
                     stage={"max_steps": 4})  # fmt: skip
    run_pipeline(pipe, in_process=True)
    model_dir = tmp_path / "run" / "s" / "model"
    assert json.loads((model_dir / "adapter_config.json").read_text())["peft_type"] == "PREFIX_TUNING"
    prefix = _weights(model_dir / "adapter_model.safetensors")
    (_name, table), = prefix.items()  # fmt: skip
    assert table.shape[0] == 8 and table.abs().sum() > 0
    manifest = json.loads((model_dir.parent / "manifest.json").read_text())
    assert manifest["trainable_parameters"] == table.numel() < manifest["total_parameters"] / 2
    from training.export import export

    with pytest.raises(ConfigError, match="cannot be merged"):
        export(tmp_path / "run", tmp_path / "export")
    assert not (tmp_path / "export").exists(), "a refused export leaves nothing behind"


def test_lora_on_a_tiny_glm_adapts_its_native_projections(tmp_path, tiny_glm_dir, genmed_jsonl):
    pipe = _pipeline(tmp_path, tiny_glm_dir, genmed_jsonl, method="lora", template="glm4",
                     stage={"max_steps": 4, "learning_rate": 1e-2})  # fmt: skip
    run_pipeline(pipe, in_process=True)
    model_dir = tmp_path / "run" / "s" / "model"
    config = json.loads((model_dir / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    lora = _weights(model_dir / "adapter_model.safetensors")
    assert all(t.abs().sum() > 0 for k, t in lora.items() if "lora_B" in k)


def test_freeze_trains_only_the_last_layers(tmp_path, tiny_llama_dir, genmed_jsonl):
    pipe = _pipeline(tmp_path, tiny_llama_dir, genmed_jsonl, method="freeze", freeze_trainable_layers=1,
                     stage={"max_steps": 3, "learning_rate": 1e-2})  # fmt: skip
    run_pipeline(pipe, in_process=True)
    before, after = (
        _weights(tiny_llama_dir / "model.safetensors"),
        _weights(tmp_path / "run" / "s" / "model" / "model.safetensors"),
    )
    changed = {k for k in before if not before[k].equal(after[k])}
    assert changed and all(k.startswith("model.layers.1.") for k in changed)


def test_finished_stage_is_skipped_and_force_retrains_it(tmp_path, tiny_llama_dir, genmed_jsonl):
    pipe = _pipeline(
        tmp_path, tiny_llama_dir, genmed_jsonl, method="lora", stage={"max_steps": 2, "max_samples": 16}
    )
    run_pipeline(pipe, in_process=True)
    manifest = tmp_path / "run" / "s" / "manifest.json"
    first = json.loads(manifest.read_text())
    run_pipeline(pipe, in_process=True)
    assert json.loads(manifest.read_text()) == first
    run_pipeline(pipe, in_process=True, force=True)
    assert json.loads(manifest.read_text())["started"] >= first["started"]
    assert json.loads(manifest.read_text())["attempts"] == 1


def test_qlora_on_cpu_is_a_clear_config_error(tmp_path, tiny_llama_dir, genmed_jsonl):
    pipe = _pipeline(tmp_path, tiny_llama_dir, genmed_jsonl, method="qlora", stage={"max_steps": 1})
    with pytest.raises(ConfigError, match="qlora needs a CUDA GPU"):
        run_pipeline(pipe, in_process=True)


def test_all_masked_data_aborts_on_zero_loss(tmp_path, tiny_llama_dir, genmed_jsonl):
    from training.train import ZeroLossGuard

    class Control:
        should_training_stop = False

    guard, control = ZeroLossGuard(patience=3), Control()
    for loss in (0.5, 0.0, 0.0, 0.0):
        guard.on_log(None, None, control, logs={"loss": loss})
    assert guard.tripped and control.should_training_stop
    assert issubclass(ConfigError, ChatDoctorError)
