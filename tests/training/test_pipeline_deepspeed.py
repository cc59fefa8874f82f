"""Two-stage pipelines through the real ``deepspeed`` launcher on CPU: ZeRO-2 LoRA with a kill and resume,
export and chat through the hf backend; ZeRO-3 full fine-tuning on two ranks, resumed on one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from training.resume import last_checkpoint

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _config(tmp_path: Path, **data) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _train_cmd(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "chatdoctor.cli", "train", str(config), *extra]


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _kill_when(cmd: list[str], cwd: Path, stage_dir: Path, timeout: float = 600) -> None:
    """Start ``cmd`` in its own process group; SIGKILL the whole group once ``stage_dir`` has a checkpoint."""
    log = cwd / "killed-run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not list(stage_dir.glob("checkpoint-*/trainer_state.json")):
            ended = proc.poll() is not None
            assert not ended, f"the run ended (code {proc.returncode}) first:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no checkpoint in {stage_dir} after {timeout} s"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def _manifest(stage_dir: Path) -> dict:
    return json.loads((stage_dir / "manifest.json").read_text(encoding="utf-8"))


def _tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_zero2_lora_chain_resumes_after_kill_exports_and_chats(
    tmp_path, tiny_llama_dir, genmed_jsonl, genmed_small_jsonl
):
    out = tmp_path / "run"
    config = _config(
        tmp_path,
        model=str(tiny_llama_dir),
        template="chatdoctor",
        method="lora",
        output_dir=str(out),
        deepspeed="zero2",
        master_port=29527,
        report_to=["tensorboard"],
        stage_defaults={
            "per_device_batch_size": 4,
            "gradient_accumulation_steps": 1,
            "max_length": 64,
            "learning_rate": 1e-3,
            "logging_steps": 1,
        },
        stages=[
            {"name": "general", "dataset": str(genmed_jsonl), "max_steps": 6, "save_steps": 3},
            {
                "name": "medical",
                "dataset": str(genmed_small_jsonl),
                "chain": "merge",
                "max_steps": 60,
                "save_steps": 2,
            },
        ],
    )
    _kill_when(_train_cmd(config), tmp_path, out / "medical")
    general = _manifest(out / "general")
    assert general["status"] == "finished"
    assert _manifest(out / "medical")["status"] == "running"

    _run(
        _train_cmd(config, "stages.medical.max_steps=8"), tmp_path
    )  # rerun: general skipped, medical resumed
    assert _manifest(out / "general") == general
    medical = _manifest(out / "medical")
    assert medical["status"] == "finished" and medical["attempts"] == 2
    assert Path(medical["resumed_from"]).name.startswith("checkpoint-")
    assert medical["resumed_step"] >= 2, "the resumed run continues from the checkpoint's step"
    steps = [h["step"] for h in medical["log_history"] if "loss" in h]
    assert steps == list(range(1, 9)), "no step trained twice or skipped"
    assert medical["template"] == "chatdoctor" and medical["data"][str(genmed_small_jsonl)]
    for stage in ("general", "medical"):
        d = out / stage
        assert (d / "loss.png").stat().st_size > 1000 and list((d / "logs").glob("events.out.tfevents*"))
        lora = _tensors(d / "model" / "adapter_model.safetensors")
        assert lora and all(t.abs().sum() > 0 for k, t in lora.items() if "lora_B" in k), "adapter trained"
    base, merged = (
        _tensors(tiny_llama_dir / "model.safetensors"),
        _tensors(out / "medical" / "base" / "model.safetensors"),
    )
    changed = [k for k in base if "q_proj" in k and not base[k].equal(merged[k])]
    assert changed, "stage 2 starts from the base with stage 1's LoRA merged in"

    _run(
        [sys.executable, "-m", "chatdoctor.cli", "export", str(out), "--out", str(tmp_path / "export")],
        tmp_path,
    )
    export = tmp_path / "export"
    assert yaml.safe_load((export / "chatdoctor.yaml").read_text())["template"] == "chatdoctor"
    assert (export / "model.safetensors").is_file() and not (export / "adapter_config.json").exists()
    from transformers import AutoTokenizer

    from chatdoctor.backends.hf import create_hf_backend
    from chatdoctor.config import ChatConfig
    from chatdoctor.templates import get_template, render
    from chatdoctor.types import GenParams, Message

    msgs = [Message("user", "I have a fever.")]
    tok = AutoTokenizer.from_pretrained(export)
    assert tok.apply_chat_template(
        [m.to_dict() for m in msgs], tokenize=False, add_generation_prompt=True
    ) == render(get_template("chatdoctor"), msgs)
    backend = create_hf_backend(ChatConfig(backend="hf", model=str(export)))
    try:
        assert backend.describe()["template"] == "chatdoctor"
        reply = backend.chat(msgs, GenParams(max_new_tokens=5, temperature=0))
        assert reply.finish_reason in ("stop", "length") and reply.usage.completion_tokens > 0
    finally:
        backend.close()


def test_zero3_full_two_ranks_consolidates_then_resumes_on_one_rank(tmp_path, tiny_llama_dir, genmed_jsonl):
    out = tmp_path / "run"
    config = _config(
        tmp_path,
        model=str(tiny_llama_dir),
        template="llama2",
        method="full",
        output_dir=str(out),
        deepspeed="zero3",
        num_gpus=2,
        master_port=29531,
        report_to=[],
        stage_defaults={
            "per_device_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "max_length": 64,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "save_steps": 2,
        },
        stages=[
            {"name": "a", "dataset": str(genmed_jsonl), "max_steps": 60},
            {"name": "b", "dataset": str(genmed_jsonl), "max_steps": 2},
        ],
    )
    _kill_when(_train_cmd(config), tmp_path, out / "a")
    checkpoint = Path(last_checkpoint(out / "a"))
    step = int(checkpoint.name.split("-")[1])
    shards = list(checkpoint.glob(f"global_step{step}/*optim_states.pt"))
    assert len(shards) == 2, "two ranks each wrote their optimizer partition"
    consolidated = _tensors(checkpoint / "model.safetensors")
    base = _tensors(tiny_llama_dir / "model.safetensors")
    assert {k: v.shape for k, v in consolidated.items()} == {k: v.shape for k, v in base.items()}

    _run(_train_cmd(config, "num_gpus=1", f"stages.a.max_steps={step + 2}"), tmp_path)
    a, b = _manifest(out / "a"), _manifest(out / "b")
    assert a["world_size"] == 1 and a["resumed_from"] == str(checkpoint) and a["resumed_step"] == step
    assert (checkpoint / "latest_universal").is_file(), "the 2-rank checkpoint was converted for 1 rank"
    assert [h["step"] for h in a["log_history"] if "loss" in h] == list(range(1, step + 3))
    trained = _tensors(out / "a" / "model" / "model.safetensors")
    assert all(not trained[k].equal(base[k]) for k in base), "every trainable parameter changed"
    assert b["status"] == "finished" and b["base"] == str(out / "a" / "model")
    final = _tensors(out / "b" / "model" / "model.safetensors")
    assert {k: v.shape for k, v in final.items()} == {k: v.shape for k, v in base.items()}
