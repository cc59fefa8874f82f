"""Loading a local transformers model for the ``hf`` backend: device, dtype, quantization, adapter, template."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatdoctor.config import ChatConfig, read_yaml
from chatdoctor.errors import BackendUnavailable, ConfigError
from chatdoctor.templates import TEMPLATES

log = logging.getLogger(__name__)

#: files a training/export run saves next to its output; their ``template`` key names the format
SAVED_CONFIGS = ("chatdoctor.yaml", "config.yaml")
DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    model_dir: Path
    device: str
    dtype: str
    template: str


def pick_device(config: ChatConfig) -> str:
    """The configured device, else CUDA when present, else CPU; a missing GPU is a clear error."""
    import torch

    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} requested but no CUDA GPU is available (use device=cpu)")
    if (config.load_in_8bit or config.load_in_4bit) and not device.startswith("cuda"):
        flag = "load_in_8bit" if config.load_in_8bit else "load_in_4bit"
        raise ConfigError(f"{flag}: bitsandbytes quantization needs a CUDA GPU; unset it to run on {device}")
    return device


def pick_dtype(config: ChatConfig, device: str) -> str:
    """``auto`` → bfloat16 (or float16) on GPU, float32 on CPU."""
    import torch

    if config.dtype == "auto":
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float32"
    if config.dtype not in DTYPES:
        raise ConfigError(f"dtype: {config.dtype!r} is not one of auto, {', '.join(DTYPES)}")
    return config.dtype


def quantization(config: ChatConfig, dtype: str) -> Any:
    """A ``BitsAndBytesConfig`` for 8-/4-bit loading, or None."""
    if not (config.load_in_8bit or config.load_in_4bit):
        return None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ConfigError("8-/4-bit loading needs bitsandbytes: pip install 'chatdoctor[gpu]'") from None
    import torch
    from transformers import BitsAndBytesConfig

    if config.load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=getattr(torch, dtype),
    )


def _adapter_base(adapter: Path) -> str | None:
    cfg = adapter / "adapter_config.json"
    if not cfg.is_file():
        raise BackendUnavailable(
            f"adapter directory {adapter} has no adapter_config.json (not a peft adapter)"
        )
    return json.loads(cfg.read_text(encoding="utf-8")).get("base_model_name_or_path")


def resolve_dirs(config: ChatConfig) -> tuple[Path, Path | None]:
    """The model dir (from config, else the adapter's recorded base) and the adapter dir."""
    adapter = Path(config.adapter).expanduser() if config.adapter else None
    if adapter is not None and not adapter.is_dir():
        raise BackendUnavailable(f"adapter directory not found: {adapter}")
    model = config.model or (_adapter_base(adapter) if adapter else None)
    if not model:
        raise ConfigError("model: the hf backend needs a local model directory (--model PATH)")
    model_dir = Path(model).expanduser()
    if not model_dir.is_dir():
        raise BackendUnavailable(f"model directory not found: {model_dir} (the hf backend never downloads)")
    if adapter is not None:
        _adapter_base(adapter)
    return model_dir, adapter


def saved_template(*dirs: Path | None) -> str | None:
    """The ``template`` recorded in a ``chatdoctor.yaml``/``config.yaml`` of the adapter or model dir."""
    for d in dirs:
        for name in SAVED_CONFIGS if d else ():
            path = d / name
            if path.is_file():
                value = read_yaml(path).get("template")
                if value:
                    if value not in TEMPLATES:
                        raise ConfigError(
                            f"{path}: template {value!r} is not registered ({TEMPLATES.names()})"
                        )
                    return str(value)
    return None


def family_template(model_config: Any, tokenizer: Any) -> str:
    """Guess the format from the architecture: Llama-3 by its 128k vocab, ChatGLM by version, GLM-4."""
    kind = getattr(model_config, "model_type", "")
    vocab = getattr(model_config, "vocab_size", None) or getattr(model_config, "padded_vocab_size", 0)
    if kind == "llama":
        return "llama3" if vocab >= 128_000 else "llama2"
    if kind in ("mistral", "mixtral"):
        return "llama2"
    if kind in ("glm", "glm4"):
        return "glm4"
    if kind == "chatglm":
        if vocab >= 130_000:
            return "chatglm"
        return "chatglm3" if hasattr(tokenizer, "build_chat_input") else "chatglm2"
    raise ConfigError(
        f"template: cannot infer the prompt format of model_type {kind!r}; "
        f"pass --template (one of {', '.join(TEMPLATES.names())})"
    )


def load(config: ChatConfig) -> Loaded:
    """Tokenizer + model (+ peft adapter), on the right device, in eval mode."""
    model_dir, adapter = resolve_dirs(config)
    device = pick_device(config)
    dtype = pick_dtype(config, device)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    remote = config.trust_remote_code
    try:
        tokenizer = AutoTokenizer.from_pretrained(adapter or model_dir, trust_remote_code=remote)
    except (OSError, ValueError):
        tokenizer = _load_or_fail(AutoTokenizer, model_dir, remote)
    quant = quantization(config, dtype)
    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": device})
    model = _load_or_fail(AutoModelForCausalLM, model_dir, remote, **kwargs)
    if quant is None:
        model.to(device)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
        if model.active_peft_config.is_prompt_learning:
            log.warning(
                "%s is a prompt-learning (prefix/P-tuning) adapter: with peft 0.21 and transformers 5.x, "
                "generate() drops the learned prefix (upstream bug): prefer a LoRA adapter until that is fixed",
                adapter,
            )
    model.eval()
    template = (
        config.template or saved_template(adapter, model_dir) or family_template(model.config, tokenizer)
    )
    TEMPLATES.get(template)  # a clear error for an unknown configured name
    return Loaded(model, tokenizer, model_dir, device, dtype, template)


def _load_or_fail(factory: Any, path: Path, remote: bool, **kwargs: Any) -> Any:
    try:
        return factory.from_pretrained(str(path), trust_remote_code=remote, **kwargs)
    except (OSError, ValueError) as exc:
        hint = (
            " (ChatGLM-6B/2/3 checkpoints need trust_remote_code=true)"
            if "trust_remote_code" in str(exc)
            else ""
        )
        raise BackendUnavailable(f"cannot load {factory.__name__} from {path}: {exc}{hint}") from None
