"""Launcher command lines for one node, several nodes with a hostfile, and torchrun."""

from __future__ import annotations

import sys

import pytest

from chatdoctor.errors import ConfigError
from training.config import PipelineConfig, StageConfig
from training.launch import build_command, env_overrides, resolve_launcher


def _pipe(**kw) -> PipelineConfig:
    return PipelineConfig(model="m", template="llama2", stages=[StageConfig(name="a", dataset="d")], **kw)


def test_one_node_uses_the_deepspeed_launcher_with_num_gpus(tmp_path):
    pipe = _pipe(deepspeed="zero3", num_gpus=2)
    assert resolve_launcher(pipe) == "deepspeed"
    cmd = build_command(pipe, tmp_path / "p.yaml", "a", "deepspeed")
    assert cmd[:3] == [sys.executable, "-m", "deepspeed.launcher.runner"]
    assert cmd[cmd.index("--num_gpus") + 1] == "2"
    assert cmd[-6:] == ["--module", "training.train", "--config", str(tmp_path / "p.yaml"), "--stage", "a"]


def test_hostfile_without_ssh_passes_node_rank_and_master(tmp_path, monkeypatch):
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("node1 slots=8\nnode2 slots=8\n")
    monkeypatch.setenv("NODE_RANK", "1")
    pipe = _pipe(deepspeed="zero3", hostfile=str(hostfile), nnodes=2, node_rank=1, master_addr="node1")
    cmd = build_command(pipe, tmp_path / "p.yaml", "a", "deepspeed")
    assert cmd[cmd.index("--hostfile") + 1] == str(hostfile)
    assert cmd[cmd.index("--master_addr") + 1] == "node1"
    assert "--no_ssh" in cmd and cmd[cmd.index("--node_rank") + 1] == "1"
    assert "--num_gpus" not in cmd


def test_several_nodes_without_hostfile_use_torchrun(tmp_path):
    pipe = _pipe(nnodes=2, node_rank=1, num_gpus=8, master_addr="10.0.0.1", launcher="torchrun")
    cmd = build_command(pipe, tmp_path / "p.yaml", "a", "torchrun")
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    pairs = dict(zip(cmd[3:15:2], cmd[4:16:2], strict=True))
    assert pairs == {"--nnodes": "2", "--node_rank": "1", "--nproc_per_node": "8", "--master_addr": "10.0.0.1",
                     "--master_port": "29500", "-m": "training.train"}  # fmt: skip


def test_deepspeed_on_several_nodes_needs_a_hostfile(tmp_path):
    with pytest.raises(ConfigError, match="hostfile"):
        build_command(_pipe(deepspeed="zero2", nnodes=2), tmp_path / "p.yaml", "a", "deepspeed")


def test_cluster_environment_becomes_overrides():
    env = {"NNODES": "4", "NODE_RANK": "3", "MASTER_ADDR": "head", "OTHER": "x"}
    assert env_overrides(env) == ["nnodes=4", "node_rank=3", "master_addr=head"]
