"""Export a trained stage for serving: adapters merged into the base, safetensors, tokenizer with the Jinja
chat template, ``chatdoctor.yaml`` naming the template; optionally re-quantised to 8/4-bit (GPU).

The directory loads in the ``hf`` backend (``chatdoctor chat --backend hf --model DIR``) and is what
``vllm serve DIR`` takes (see docs/training.md).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import yaml

from chatdoctor.errors import ConfigError
from chatdoctor.io import atomic_dir, atomic_write
from training.manifest import read_manifest

log = logging.getLogger("chatdoctor.train")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
REMOTE_CODE = ("*.py", "tokenizer.model", "ice_text.model")  # ChatGLM's remote code and sentencepiece files


def resolve_stage(run_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """A run directory (its last finished stage) or a stage directory → (stage dir, manifest)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: not a directory")
    if (run_dir / "pipeline.yaml").is_file():
        from training.config import load_pipeline

        pipe = load_pipeline(run_dir / "pipeline.yaml")
        finished = [
            run_dir / s.name
            for s in pipe.stages
            if (read_manifest(run_dir / s.name) or {}).get("status") == "finished"
        ]
        if not finished:
            raise ConfigError(f"{run_dir}: no stage has finished yet (run chatdoctor train first)")
        run_dir = finished[-1]
    manifest = read_manifest(run_dir)
    if not manifest or manifest.get("status") != "finished":
        raise ConfigError(f"{run_dir}: not a finished stage (no manifest.json with status finished)")
    return run_dir, manifest


def check_mergeable(path: Path, what: str) -> None:
    """Refuse quantised bases and ZeRO-partitioned (sharded, unconsolidated) states."""
    cfg = path / "config.json"
    if cfg.is_file() and "quantization_config" in json.loads(cfg.read_text(encoding="utf-8")):
        raise ConfigError(
            f"{what} {path} is quantised: merge into the 16-bit base (reload it unquantised), then re-quantise "
            "with --quantize"
        )
    has_weights = any(
        (path / f).is_file() for f in (*WEIGHT_FILES, "adapter_model.safetensors", "adapter_model.bin")
    )
    if not has_weights:
        sharded = any(path.glob("global_step*")) or any(path.glob("*/zero_pp_rank_*"))
        hint = " (only DeepSpeed ZeRO shards: run zero_to_fp32.py in it first)" if sharded else ""
        raise ConfigError(f"{what} {path} has no consolidated weights{hint}")
    adapter = path / "adapter_model.safetensors"
    if adapter.is_file() and adapter.stat().st_size < 1024:
        raise ConfigError(f"{what} {path}: adapter is empty (ZeRO-3 saved without gathering weights)")


def merge_adapter(
    base: str | Path, adapter: str | Path, out: str | Path, trust_remote_code: bool = False
) -> Path:
    """Load ``base`` in 16/32-bit on CPU, merge the LoRA ``adapter`` and save full weights to ``out``."""
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, adapter = Path(base), Path(adapter)
    check_mergeable(base, "base model")
    check_mergeable(adapter, "adapter")
    peft_type = str(PeftConfig.from_pretrained(str(adapter)).peft_type)
    if "LORA" not in peft_type.upper():
        raise ConfigError(
            f"{adapter} is a {peft_type} adapter, which cannot be merged into weights; serve it unmerged "
            "(chatdoctor chat --backend hf --model BASE --adapter DIR)"
        )
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype="auto", trust_remote_code=trust_remote_code)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    with atomic_dir(out) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        AutoTokenizer.from_pretrained(str(adapter if (adapter / "tokenizer_config.json").is_file() else base),
                                      trust_remote_code=trust_remote_code).save_pretrained(tmp)  # fmt: skip
        _copy_remote_code(base, tmp)
    return Path(out)


def _copy_remote_code(src: Path, dst: Path) -> None:
    for pattern in REMOTE_CODE:
        for f in src.glob(pattern):
            if not (dst / f.name).exists():
                shutil.copy2(f, dst / f.name)


def export(run_dir: str | Path, out: str | Path, quantize: str | None = None) -> Path:
    """Write a servable model directory for a finished stage (or the last stage of a run)."""
    stage_dir, manifest = resolve_stage(run_dir)
    model_dir = stage_dir / "model"
    template_name = manifest["template"]
    remote = bool(_stage_config(stage_dir).get("trust_remote_code"))
    if quantize not in (None, "8bit", "4bit"):
        raise ConfigError(f"--quantize: {quantize!r} is not 8bit or 4bit")
    out = Path(out)
    check_mergeable(model_dir, "stage output")
    with atomic_dir(out) as tmp:
        if (model_dir / "adapter_config.json").is_file():
            merge_adapter(manifest["base"], model_dir, tmp / "merged", trust_remote_code=remote)
            src = tmp / "merged"
        else:
            src = model_dir
        _write_export(src, tmp, template_name, quantize, remote)
        shutil.rmtree(tmp / "merged", ignore_errors=True)
        with atomic_write(tmp / "chatdoctor.yaml") as f:
            yaml.safe_dump(
                {"template": template_name, "stage": manifest["stage"], "method": manifest["method"],
                 "base": manifest["base"], "code": manifest.get("code"), "quantize": quantize},
                f, sort_keys=False, allow_unicode=True,
            )  # fmt: skip
    log.info("exported %s to %s", stage_dir, out)
    return out


def _write_export(src: Path, dst: Path, template_name: str, quantize: str | None, remote: bool) -> None:
    """Save weights (re-quantised if asked), tokenizer with the chat template, stop ids in generation config."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chatdoctor.templates import get_template, to_jinja

    template = get_template(template_name)
    kwargs: dict[str, Any] = {"dtype": "auto", "trust_remote_code": remote}
    if quantize:
        kwargs.update(quantization_config=_bnb(quantize), device_map={"": 0})
    model = AutoModelForCausalLM.from_pretrained(str(src), **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(str(src), trust_remote_code=remote)
    tokenizer.chat_template = to_jinja(template)
    eos = tokenizer.convert_tokens_to_ids(template.eos) if template.eos else None
    if isinstance(eos, int) and eos != tokenizer.unk_token_id:
        ids = model.generation_config.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        model.generation_config.eos_token_id = [*ids, eos] if eos not in ids else ids
    model.save_pretrained(dst, safe_serialization=True)
    tokenizer.save_pretrained(dst)
    _copy_remote_code(src, dst)


def _bnb(quantize: str) -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    if not torch.cuda.is_available():
        raise ConfigError(f"--quantize {quantize} needs a CUDA GPU (bitsandbytes); export unquantised on CPU")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ConfigError("--quantize needs bitsandbytes: pip install bitsandbytes") from None
    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def _stage_config(stage_dir: Path) -> dict[str, Any]:
    path = stage_dir / "config.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
