"""Model loading and the fine-tuning methods: full, freeze, LoRA, QLoRA, P-Tuning v2."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from chatdoctor.errors import ConfigError
from training.config import PipelineConfig

log = logging.getLogger(__name__)

#: model_type -> (attention projections, MLP projections) for LoRA
LORA_TARGETS: dict[str, tuple[list[str], list[str]]] = {
    "llama": (["q_proj", "k_proj", "v_proj", "o_proj"], ["gate_proj", "up_proj", "down_proj"]),
    "mistral": (["q_proj", "k_proj", "v_proj", "o_proj"], ["gate_proj", "up_proj", "down_proj"]),
    "qwen2": (["q_proj", "k_proj", "v_proj", "o_proj"], ["gate_proj", "up_proj", "down_proj"]),
    "glm": (["q_proj", "k_proj", "v_proj", "o_proj"], ["gate_up_proj", "down_proj"]),
    "glm4": (["q_proj", "k_proj", "v_proj", "o_proj"], ["gate_up_proj", "down_proj"]),
    "chatglm": (["query_key_value"], ["dense", "dense_h_to_4h", "dense_4h_to_h"]),  # THUDM remote code
}


def compute_dtype(precision: str) -> Any:
    """torch dtype for the 16-bit parts of the model (fp32 on CPU)."""
    import torch

    if precision == "auto":
        if not torch.cuda.is_available():
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def lora_targets(pipe: PipelineConfig, model_type: str) -> list[str]:
    """The configured target modules, else the family's attention (+ MLP) projections."""
    if pipe.lora.target_modules:
        return list(pipe.lora.target_modules)
    if model_type not in LORA_TARGETS:
        raise ConfigError(
            f"lora.target_modules: no default for model type {model_type!r}; list the module names "
            f"(known families: {', '.join(LORA_TARGETS)})"
        )
    attn, mlp = LORA_TARGETS[model_type]
    return attn + (mlp if pipe.lora.mlp else [])


def load_base(pipe: PipelineConfig, base: str) -> Any:
    """The base model for training, in the dtype and quantisation the method needs."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = compute_dtype(pipe.precision)
    config = AutoConfig.from_pretrained(base, trust_remote_code=pipe.trust_remote_code)
    kwargs: dict[str, Any] = {"trust_remote_code": pipe.trust_remote_code}
    if pipe.attn_implementation:
        kwargs["attn_implementation"] = pipe.attn_implementation
    if pipe.method in ("full", "freeze"):
        kwargs["dtype"] = torch.float32  # AMP / DeepSpeed keep fp32 master weights
    else:
        kwargs["dtype"] = dtype  # frozen base in 16-bit; adapters are upcast to fp32 below
    if pipe.method == "qlora":
        kwargs["quantization_config"] = _nf4(dtype)
    if pipe.method == "ptuning" and getattr(config, "model_type", "") == "chatglm":
        config.pre_seq_len = pipe.prefix.num_virtual_tokens  # ChatGLM's own P-Tuning v2 path
        config.prefix_projection = pipe.prefix.prefix_projection
    config.use_cache = False
    return AutoModelForCausalLM.from_pretrained(base, config=config, **kwargs)


def _nf4(dtype: Any) -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    if not torch.cuda.is_available():
        raise ConfigError("method: qlora needs a CUDA GPU (bitsandbytes 4-bit); use method: lora on CPU")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ConfigError("method: qlora needs bitsandbytes: pip install bitsandbytes") from None
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_quant_storage=dtype,  # lets ZeRO-3 shard the 4-bit weights (bnb >= 0.43)
    )


def apply_method(pipe: PipelineConfig, model: Any, init_adapter: str | None) -> Any:
    """Wrap or freeze ``model`` for the method; continue ``init_adapter`` when given."""
    model_type = getattr(model.config, "model_type", "")
    if pipe.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=pipe.gradient_checkpointing)
    if pipe.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()  # frozen embeddings would cut the graph for adapters
    if pipe.method in ("full", "freeze"):
        if pipe.method == "freeze":
            _freeze_all_but_last(model, pipe.freeze_trainable_layers)
        return model
    if pipe.method == "ptuning" and model_type == "chatglm":
        for name, p in model.named_parameters():
            p.requires_grad = "prefix_encoder" in name
        return _upcast_trainable(model)
    from peft import PeftModel, get_peft_model

    if init_adapter:
        model = PeftModel.from_pretrained(model, init_adapter, is_trainable=True)
    else:
        model = get_peft_model(model, peft_config(pipe, model_type))
    return _upcast_trainable(model)


def peft_config(pipe: PipelineConfig, model_type: str) -> Any:
    """A fresh LoRA or prefix-tuning config for this family."""
    from peft import LoraConfig, PrefixTuningConfig, TaskType

    if pipe.method == "ptuning":
        return PrefixTuningConfig(
            task_type=TaskType.CAUSAL_LM,
            num_virtual_tokens=pipe.prefix.num_virtual_tokens,
            prefix_projection=pipe.prefix.prefix_projection,
        )
    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=pipe.lora.r,
        lora_alpha=pipe.lora.alpha,
        lora_dropout=pipe.lora.dropout,
        target_modules=lora_targets(pipe, model_type),
    )


def _upcast_trainable(model: Any) -> Any:
    """Trainable parameters in fp32 under 16-bit bases (the Half/Float error and loss-0 fix)."""
    import torch

    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    return model


def decoder_layers(model: Any) -> Any:
    """The transformer block list (LLaMA/GLM ``model.layers``, ChatGLM ``encoder.layers``, GPT ``h``)."""
    import torch

    best = None
    for name, module in model.named_modules():
        named = isinstance(module, torch.nn.ModuleList) and name.rsplit(".", 1)[-1] in (
            "layers",
            "h",
            "blocks",
        )
        if named and (best is None or len(module) > len(best)):
            best = module
    if best is None:
        raise ConfigError("method: freeze could not find the model's layer list")
    return best


def _freeze_all_but_last(model: Any, n: int) -> None:
    layers = decoder_layers(model)
    if not 0 < n <= len(layers):
        raise ConfigError(
            f"freeze_trainable_layers: {n} is not between 1 and {len(layers)} (the model's layers)"
        )
    for p in model.parameters():
        p.requires_grad = False
    for layer in list(layers)[-n:]:
        for p in layer.parameters():
            p.requires_grad = True


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts (ZeRO-3 aware)."""
    trainable = total = 0
    for p in model.parameters():
        n = getattr(p, "ds_numel", 0) or p.numel()
        total += n
        trainable += n if p.requires_grad else 0
    return trainable, total


def is_adapter_dir(path: str | Path) -> bool:
    """True for a peft adapter directory."""
    return (Path(path) / "adapter_config.json").is_file()
