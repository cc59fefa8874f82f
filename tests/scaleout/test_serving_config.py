"""The vLLM command line and server lifecycle, without vLLM: flags, refusals, an early death explained."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from chatdoctor.errors import BackendUnavailable, ConfigError
from chatdoctor.serving import VLLMConfig, VLLMServer, free_port, vllm_command
from chatdoctor.templates import get_template, to_jinja


@pytest.fixture
def export_dir(tmp_path) -> Path:
    """The files of an export ``vllm_command`` reads: config.json and chatdoctor.yaml naming the template."""
    out = tmp_path / "export"
    out.mkdir()
    (out / "config.json").write_text("{}")
    (out / "chatdoctor.yaml").write_text(yaml.safe_dump({"template": "llama3"}))
    return out


def _adapter(path: Path, r: int, peft_type: str = "LORA") -> Path:
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": peft_type, "r": r}))
    return path


def test_command_passes_the_recorded_template_as_jinja_and_scales_out(export_dir, tmp_path):
    cfg = VLLMConfig(model_dir=str(export_dir), tensor_parallel=8, pipeline_parallel=2, dtype="bfloat16",
                     loras={"a": str(_adapter(tmp_path / "a", 8)), "b": str(_adapter(tmp_path / "b", 16))})  # fmt: skip
    cmd = vllm_command(cfg)
    template = Path(cmd[cmd.index("--chat-template") + 1])
    assert template.read_text(encoding="utf-8") == to_jinja(get_template("llama3"))
    assert cmd[cmd.index("--served-model-name") + 1] == "export"
    assert cmd[cmd.index("--tensor-parallel-size") + 1] == "8"
    assert cmd[cmd.index("--pipeline-parallel-size") + 1] == "2"
    assert cmd[cmd.index("--distributed-executor-backend") + 1] == "ray"
    assert cmd[cmd.index("--max-loras") + 1] == "2"
    i = cmd.index("--lora-modules")
    assert cmd[i + 1 : i + 3] == [f"a={tmp_path / 'a'}", f"b={tmp_path / 'b'}"]
    assert "--enforce-eager" not in cmd


def test_template_option_overrides_the_recorded_one(export_dir):
    cmd = vllm_command(VLLMConfig(model_dir=str(export_dir), template="chatdoctor"))
    assert Path(cmd[cmd.index("--chat-template") + 1]).read_text() == to_jinja(get_template("chatdoctor"))


@pytest.mark.parametrize(
    ("rank", "peft_type", "message"),
    [(32, "LORA", "rank 32 > --max-lora-rank 16"), (8, "PREFIX_TUNING", "vLLM serves LoRA only")],
)
def test_command_refuses_an_adapter_vllm_would_reject(export_dir, tmp_path, rank, peft_type, message):
    adapter = _adapter(tmp_path / "ad", rank, peft_type)
    with pytest.raises(ConfigError, match=message):
        vllm_command(VLLMConfig(model_dir=str(export_dir), loras={"x": str(adapter)}))


def test_command_refuses_a_lora_path_without_an_adapter(export_dir, tmp_path):
    with pytest.raises(ConfigError, match="expected NAME=PATH of a peft adapter"):
        vllm_command(VLLMConfig(model_dir=str(export_dir), loras={"x": str(tmp_path / "missing")}))


def test_command_refuses_a_directory_that_is_not_a_model(tmp_path):
    with pytest.raises(BackendUnavailable, match="not a model directory"):
        vllm_command(VLLMConfig(model_dir=str(tmp_path)))


def test_command_without_a_recorded_template_asks_for_one(export_dir):
    (export_dir / "chatdoctor.yaml").unlink()
    with pytest.raises(ConfigError, match="pass --template"):
        vllm_command(VLLMConfig(model_dir=str(export_dir)))


def test_server_that_dies_at_start_fails_fast_quoting_its_log(export_dir, tmp_path):
    # this venv has no vllm: the interpreter exits at once with ModuleNotFoundError
    cfg = VLLMConfig(model_dir=str(export_dir), python=sys.executable, port=free_port())
    server = VLLMServer(cfg, log_path=tmp_path / "vllm.log", ready_timeout=60)
    with pytest.raises(BackendUnavailable, match=r"(?s)exited with code 1.*No module named 'vllm'"):
        server.start()
    assert server.proc is not None and server.proc.returncode == 1
