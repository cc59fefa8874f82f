"""One training stage, top to bottom: tokenizer, data, model + method, Trainer, save, manifest.

Run by ``chatdoctor train`` in-process or once per rank under a launcher::

    deepspeed --num_gpus 2 --module training.train --config RUN/pipeline.yaml --stage genmedgpt
    torchrun --nproc_per_node 8 -m training.train --config RUN/pipeline.yaml --stage genmedgpt

DeepSpeed (when configured) comes through ``TrainingArguments(deepspeed=...)``, so the Trainer's AdamW
and cosine schedule apply and ZeRO-3 gathers full 16-bit weights on save.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainerCallback

from chatdoctor.errors import ChatDoctorError, ConfigError
from chatdoctor.io import atomic_write
from chatdoctor.templates import get_template
from training.config import PipelineConfig, StageConfig, load_pipeline
from training.manifest import Manifest, plot_loss, read_manifest
from training.pipeline import StagePlan, plan_stages
from training.resume import deepspeed_settings, last_checkpoint

log = logging.getLogger("chatdoctor.train")


def run_stage(pipe: PipelineConfig, name: str) -> Path:
    """Train stage ``name`` of ``pipe`` (resuming its last checkpoint); returns its model directory."""
    import torch
    from transformers import AutoTokenizer, Trainer, TrainingArguments, set_seed

    from training.collate import Collator
    from training.methods import apply_method, count_parameters, load_base

    plan = _plan(pipe, name)
    stage = plan.stage
    plan.dir.mkdir(parents=True, exist_ok=True)
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(plan.dir / "logs")  # transformers 5 reads it per Trainer
    set_seed(pipe.seed)

    # 1. settings first: with ZeRO-3 they must exist before the model is built (zero.Init shards it)
    finished = (read_manifest(plan.dir) or {}).get("status") == "finished"
    resume = None if finished else last_checkpoint(plan.dir)
    resume_step = _checkpoint_step(resume)  # read now: save_total_limit may delete it while training
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    kwargs = _trainer_kwargs(pipe, plan)
    kwargs["deepspeed"] = deepspeed_settings(kwargs["deepspeed"], resume, world, rank)
    args = TrainingArguments(**kwargs)
    if args.deepspeed:
        import deepspeed

        deepspeed.init_distributed()  # on CPU accelerate sets up torch.distributed but not deepspeed.comm
    rank0 = args.process_index == 0
    manifest = Manifest.start(pipe, plan, world_size=args.world_size, write=rank0)

    # 2. tokenizer and data: the template is the one serving uses
    tokenizer = AutoTokenizer.from_pretrained(plan.base, trust_remote_code=pipe.trust_remote_code)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_set, eval_set, report = _datasets(pipe, stage, tokenizer, rank0)

    # 3. model and method (LoRA / QLoRA / prefix / freeze / full); trainable weights in fp32
    model = apply_method(pipe, load_base(pipe, plan.base), plan.init_adapter)
    trainable, total = count_parameters(model)
    if rank0:
        log.info("trainable parameters: %d of %d (%.2f%%)", trainable, total, 100 * trainable / max(total, 1))

    # 4. the HF Trainer does the loop, DeepSpeed, checkpoints and TensorBoard
    zero_guard = ZeroLossGuard(pipe.zero_loss_patience)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=Collator(pad_id=pad_id),
        processing_class=tokenizer,
        callbacks=[zero_guard],
    )
    if resume and rank0:
        log.info("resuming stage %s from %s", name, resume)
    result = trainer.train(resume_from_checkpoint=resume)
    if zero_guard.tripped:
        raise ChatDoctorError(
            f"stage {name!r}: loss was exactly 0 for {zero_guard.patience} logged steps; training stopped. "
            "Check the labels (all -100?), fp16 with an 8-bit base, or use bf16"
        )

    # 5. save: every rank takes part (ZeRO-3 gathers the 16-bit weights), rank 0 writes the rest
    trainer.save_model(str(plan.model_dir))
    metrics = dict(result.metrics)
    if torch.cuda.is_available():
        metrics["peak_gpu_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
    if eval_set:
        metrics.update(trainer.evaluate())
    if rank0:
        _write_outputs(pipe, plan, tokenizer, trainer.state.log_history)
        manifest.finish(
            metrics=metrics,
            encode=report.as_dict(),
            trainable_parameters=trainable,
            total_parameters=total,
            resumed_from=resume,
            resumed_step=resume_step,
            log_history=trainer.state.log_history,
        )
    trainer.accelerator.wait_for_everyone()
    del trainer, model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return plan.model_dir


def _datasets(
    pipe: PipelineConfig, stage: StageConfig, tokenizer: Any, rank0: bool
) -> tuple[list, list | None, Any]:
    """Tokenised (and optionally packed) train set, eval set and the truncation report; logs one example."""
    from training.encode import describe_example, encode_records, pack, read_dataset

    template = get_template(pipe.template)
    records = read_dataset(stage.dataset, stage.max_samples)
    train_set, report = encode_records(
        tokenizer, template, records, stage.max_length, stage.train_on_prompt, progress=rank0
    )
    if not train_set:
        raise ConfigError(
            f"stage {stage.name!r}: no record of {stage.dataset} has a target left after truncation"
        )
    if rank0:
        log.info("stage %s: %s", stage.name, report.as_dict())
        log.info("example:\n%s", describe_example(tokenizer, train_set[0]))
    eval_set = None
    if stage.eval_dataset:
        records = read_dataset(stage.eval_dataset)
        eval_set = encode_records(tokenizer, template, records, stage.max_length, progress=False)[0]
    if stage.packing:
        train_set = pack(train_set, stage.max_length)
    return train_set, eval_set, report


def _write_outputs(pipe: PipelineConfig, plan: StagePlan, tokenizer: Any, log_history: list[dict]) -> None:
    """Rank 0: tokenizer and ``chatdoctor.yaml`` (the hf backend reads the template there) beside the model."""
    tokenizer.save_pretrained(str(plan.model_dir))
    with atomic_write(plan.model_dir / "chatdoctor.yaml") as f:
        yaml.safe_dump({"template": pipe.template, "stage": plan.stage.name, "method": pipe.method}, f)
    plot_loss(log_history, plan.dir / "loss.png")


def _plan(pipe: PipelineConfig, name: str) -> StagePlan:
    for plan in plan_stages(pipe):
        if plan.stage.name == name:
            return plan
    pipe.stage(name)  # raises naming the known stages
    raise AssertionError


def _checkpoint_step(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    return int(
        json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))["global_step"]
    )


def _trainer_kwargs(pipe: PipelineConfig, plan: StagePlan) -> dict[str, Any]:
    """TrainingArguments for a stage: published defaults come from the config, not from here."""
    import torch

    from training.methods import compute_dtype

    s = plan.stage
    dtype = compute_dtype(pipe.precision)
    return {
        "output_dir": str(plan.dir),
        "num_train_epochs": s.epochs,
        "max_steps": s.max_steps,
        "per_device_train_batch_size": s.per_device_batch_size,
        "per_device_eval_batch_size": s.per_device_batch_size,
        "gradient_accumulation_steps": s.gradient_accumulation_steps,
        "learning_rate": pipe.learning_rate(s),
        "lr_scheduler_type": s.lr_scheduler,
        "warmup_steps": s.warmup_ratio,  # transformers 5: a float < 1 is a ratio of the total steps
        "weight_decay": s.weight_decay,
        "max_grad_norm": s.max_grad_norm,
        "logging_steps": s.logging_steps,
        "save_strategy": "steps",
        "save_steps": s.save_steps,
        "save_total_limit": s.save_total_limit,
        "eval_strategy": "steps" if s.eval_dataset else "no",
        "eval_steps": s.eval_steps or s.save_steps,
        "seed": s.seed,
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "deepspeed": pipe.deepspeed_config(),
        "report_to": pipe.report_to,
        "remove_unused_columns": False,
        "ddp_find_unused_parameters": False,
        "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
        "logging_first_step": True,
    }


class ZeroLossGuard(TrainerCallback):
    """Stops training when the logged loss is exactly 0 for ``patience`` logs (masked labels, fp16 8-bit)."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.zeros = 0
        self.tripped = False

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        self.zeros = self.zeros + 1 if float(loss) == 0.0 else 0
        if self.patience and self.zeros >= self.patience:
            self.tripped = True
            control.should_training_stop = True


def main(argv: list[str] | None = None) -> None:
    """Entry point for launchers: ``python -m training.train --config X --stage NAME``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="resolved pipeline YAML (RUN/pipeline.yaml)")
    parser.add_argument("--stage", required=True, help="stage name")
    parser.add_argument("--local_rank", type=int, default=-1, help="set by the deepspeed launcher")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        run_stage(load_pipeline(args.config), args.stage)
    except ChatDoctorError as exc:
        print(f"error: {exc}", flush=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
