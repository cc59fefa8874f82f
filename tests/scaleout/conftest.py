"""One vLLM server for the module, serving a tiny LLaMA trained and exported by our own pipeline.

``trained_run`` trains two LoRA stages on 48 GenMedGPT-5k dialogues (``general``, then ``medical`` on the
merged ``general`` weights); ``vllm_server`` serves the export of ``general`` as the base model and the
``medical`` adapter unmerged as ``med``: the production shape (a base, adapters picked per request).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.training.conftest import write_genmedgpt
from tests.webapp.conftest import _cheap_argon2, actors, db_url, make_settings  # noqa: F401  (web-app fixtures)

TEMPLATE = "chatdoctor"
MAX_MODEL_LEN = 1024  # the tiny model's max positions: room for the KG facts the web app adds
SERVED_NAME = "chatdoctor-tiny"
ADAPTER_NAME = "med"


@pytest.fixture(scope="module")
def vllm_python() -> str:
    """The vLLM interpreter: ``$CHATDOCTOR_VLLM_PYTHON`` or the project's ``.venv-vllm`` (``make test``); or skip."""
    from chatdoctor.serving import default_python

    candidate = default_python()
    if candidate and Path(candidate).is_file():
        return candidate
    pytest.skip(
        "vLLM is not installed: run `bash scripts/install_vllm.sh` (creates .venv-vllm) "
        "or set CHATDOCTOR_VLLM_PYTHON to its interpreter"
    )


@dataclass(frozen=True)
class TrainedRun:
    """What the scale-out tests serve: a merged export, the adapter trained on it, its tokenizer."""

    run_dir: Path
    export_dir: Path
    adapter_dir: Path


@dataclass(frozen=True)
class Served:
    """A running vLLM server and what it serves."""

    base_url: str  # http://127.0.0.1:PORT/v1
    root_url: str  # http://127.0.0.1:PORT (vLLM's own endpoints: /tokenize)
    model: str
    adapter: str
    run: TrainedRun


@pytest.fixture(scope="module")
def trained_run(shared_data, tmp_path_factory) -> TrainedRun:
    """Two short LoRA stages of our pipeline, in-process; ``general`` exported merged."""
    from training.config import load_pipeline
    from training.export import export
    from training.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("scaleout")
    data = write_genmedgpt(shared_data, root / "genmed.jsonl", 48)
    stage = {"dataset": str(data), "per_device_batch_size": 4, "gradient_accumulation_steps": 1,
             "max_length": 128, "logging_steps": 2, "save_steps": 1000, "warmup_ratio": 0.0}  # fmt: skip
    pipe = load_pipeline(
        None,
        data={
            "model": "tiny-random:llama",  # hidden 128, 2 heads: head_dim 64 (vLLM's CPU attention refuses 16)
            "template": TEMPLATE, "method": "lora", "output_dir": str(root / "run"), "report_to": [],
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
            # 30 steps at 2e-2: enough for the adapter's greedy answer to leave the base's
            "stages": [{**stage, "name": "general", "max_steps": 6, "learning_rate": 5e-3},
                       {**stage, "name": "medical", "max_steps": 30, "learning_rate": 2e-2, "chain": "merge"}],
        },
    )  # fmt: skip
    run_pipeline(pipe, in_process=True)
    export_dir = export(root / "run" / "general", root / "export" / SERVED_NAME)
    return TrainedRun(root / "run", export_dir, root / "run" / "medical" / "model")


@pytest.fixture(scope="module")
def vllm_server(vllm_python, trained_run, tmp_path_factory) -> Served:
    """vLLM (CPU build, own virtualenv) serving the export and the ``med`` adapter on a free loopback port."""
    from chatdoctor.serving import VLLMConfig, VLLMServer, free_port

    # --enforce-eager: no torch.compile warm-up, so the server is up sooner
    cfg = VLLMConfig(
        model_dir=str(trained_run.export_dir), python=vllm_python, port=free_port(), dtype="float32",
        max_model_len=MAX_MODEL_LEN, loras={ADAPTER_NAME: str(trained_run.adapter_dir)}, max_lora_rank=8,
        enforce_eager=True,
    )  # fmt: skip
    env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), "HF_HUB_OFFLINE": "1"}
    log = tmp_path_factory.mktemp("vllm") / "vllm.log"
    with VLLMServer(cfg, log_path=log, env=env, ready_timeout=300) as server:
        yield Served(
            server.base_url, server.base_url.removesuffix("/v1"), SERVED_NAME, ADAPTER_NAME, trained_run
        )
