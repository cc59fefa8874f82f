"""Launching a stage: in this process, or one process per rank through ``deepspeed`` or ``torchrun``.

One node:      ``deepspeed --num_gpus N --module training.train ...`` (on CPU the ranks talk over gloo/shm).
Several nodes: with a hostfile, node 0 runs ``chatdoctor train`` and deepspeed starts the others over ssh
(pdsh); without ssh, every node runs the same ``chatdoctor train`` with ``NNODES``, ``NODE_RANK``,
``MASTER_ADDR`` (and a hostfile listing the nodes: ``deepspeed --no_ssh``; no hostfile: ``torchrun``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from chatdoctor.errors import ChatDoctorError, ConfigError
from training.config import PipelineConfig

log = logging.getLogger("chatdoctor.train")

#: environment variables that override the config's multi-node fields (cluster schedulers set them)
ENV_FIELDS = {
    "NNODES": "nnodes",
    "NODE_RANK": "node_rank",
    "MASTER_ADDR": "master_addr",
    "MASTER_PORT": "master_port",
}


def env_overrides(environ: dict[str, str] | None = None) -> list[str]:
    """``key=value`` overrides from NNODES / NODE_RANK / MASTER_ADDR / MASTER_PORT."""
    environ = os.environ if environ is None else environ
    return [f"{key}={environ[var]}" for var, key in ENV_FIELDS.items() if environ.get(var)]


def resolve_launcher(pipe: PipelineConfig) -> str:
    """``auto`` → deepspeed with a DeepSpeed config, torchrun for several processes, else in-process."""
    if pipe.launcher != "auto":
        return pipe.launcher
    if pipe.deepspeed or pipe.hostfile:
        return "deepspeed"
    return "torchrun" if pipe.num_gpus > 1 or pipe.nnodes > 1 else "none"


def build_command(pipe: PipelineConfig, config: Path, stage: str, launcher: str) -> list[str]:
    """The launcher command line for one stage."""
    worker = ["training.train", "--config", str(config), "--stage", stage]
    if launcher == "deepspeed":
        cmd = [sys.executable, "-m", "deepspeed.launcher.runner", "--master_port", str(pipe.master_port)]
        if pipe.hostfile:
            if not Path(pipe.hostfile).is_file():
                raise ConfigError(f"hostfile: not found: {pipe.hostfile}")
            cmd += ["--hostfile", pipe.hostfile, "--master_addr", pipe.master_addr]
            if pipe.nnodes > 1:
                cmd += ["--num_nodes", str(pipe.nnodes)]
            if pipe.node_rank > 0 or os.environ.get("NODE_RANK"):
                cmd += ["--no_ssh", "--node_rank", str(pipe.node_rank)]
        elif pipe.nnodes > 1:
            raise ConfigError(
                "nnodes > 1 with the deepspeed launcher needs a hostfile (or set launcher: torchrun)"
            )
        else:
            cmd += ["--num_gpus", str(pipe.num_gpus)]
        return [*cmd, "--module", *worker]
    if launcher == "torchrun":
        return [
            sys.executable, "-m", "torch.distributed.run",
            "--nnodes", str(pipe.nnodes), "--node_rank", str(pipe.node_rank), "--nproc_per_node", str(pipe.num_gpus),
            "--master_addr", pipe.master_addr, "--master_port", str(pipe.master_port), "-m", *worker,
        ]  # fmt: skip
    raise ConfigError(f"launcher: {launcher!r} is not deepspeed, torchrun or none")


def launch_stage(pipe: PipelineConfig, config: Path, stage: str, launcher: str) -> None:
    """Run one stage and wait; a failed rank fails the stage with the launcher's exit code."""
    if launcher == "none":
        if pipe.deepspeed:
            raise ConfigError("deepspeed needs a launcher: set launcher: deepspeed (or auto)")
        from training.train import run_stage

        run_stage(pipe, stage)
        return
    cmd = build_command(pipe, config, stage, launcher)
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log.info("launching: %s", " ".join(cmd))
    code = subprocess.call(cmd, env=env)
    if code != 0:
        raise ChatDoctorError(
            f"stage {stage!r}: the {launcher} launcher exited with code {code} (see its log above)"
        )
