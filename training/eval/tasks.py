"""Task runners: each answers its items with one system, scores them and returns per-sample scores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chatdoctor.registry import Registry
from training.eval.config import SuiteConfig, TaskConfig
from training.eval.consistency import consistency
from training.eval.datasets import load_generation_set, require_path
from training.eval.metrics import bertscore, bootstrap_ci, detect_lang, score_pairs
from training.eval.predictions import PredictionLog
from training.eval.runner import System, answer_all, task_params
from training.eval.safety_task import safety

TaskRunner = Callable[[SuiteConfig, TaskConfig, System, Path], dict]
TASKS: Registry[TaskRunner] = Registry("evaluation task")

SEE_A_DOCTOR = {
    "zh": "建议到医院就诊，在医生指导下进行检查和治疗。",
    "en": "Please see a doctor for an examination and treatment.",
}


def summarise(scores: dict[str, list[float]], suite: SuiteConfig) -> dict[str, dict]:
    return {m: vars(bootstrap_ci(v, n_boot=suite.n_boot, seed=suite.seed)) for m, v in scores.items()}


def generation(suite: SuiteConfig, task: TaskConfig, system: System, out: Path) -> dict:
    """Reference-based metrics on free-text answers, beside constant and echo baselines."""
    items = load_generation_set(require_path(task), task.limit)
    with PredictionLog(out / "predictions.jsonl") as log:

        def record(item, ans):
            text, finish, ms = ans
            return {
                "id": item.id,
                "prediction": text,
                "reference": item.reference,
                "finish_reason": finish,
                "latency_ms": ms,
            }

        answer_all(system, items, log, task_params(suite, task), f"{system.cfg.name}/{task.name}", record)
        recs = [log.done[str(it.id)] for it in items]
    preds = [r["prediction"] for r in recs]
    refs = [r["reference"] for r in recs]
    scores = score_pairs(preds, refs, task.metrics)
    notes = []
    if suite.bertscore_model:
        scores["bertscore-f1"] = bertscore(preds, refs, suite.bertscore_model)
    else:
        notes.append("BERTScore not computed (set bertscore_model to a local model directory)")
    questions = [it.messages[-1].content for it in items]
    constant = [SEE_A_DOCTOR[detect_lang(r)] for r in refs]
    baselines = {
        "constant 'see a doctor'": summarise(score_pairs(constant, refs, task.metrics), suite),
        "echo the question": summarise(score_pairs(questions, refs, task.metrics), suite),
    }
    truncated = sum(r["finish_reason"] == "length" for r in recs)
    empty = sum(not p.strip() for p in preds)
    notes.append(f"{truncated} answers hit max_new_tokens; {empty} empty answers (scored 0)")
    return {
        "type": "generation",
        "ids": [r["id"] for r in recs],
        "scores": scores,
        "summary": summarise(scores, suite),
        "baselines": baselines,
        "notes": notes,
    }


def mcq(suite: SuiteConfig, task: TaskConfig, system: System, out: Path) -> dict:
    """Log-likelihood (acc, acc_norm) or generated-letter accuracy on a multiple-choice exam."""
    from training.eval.mcq import baselines, load_mcq, loglik_scores, parse_choice, with_shots

    items, prefix = with_shots(load_mcq(require_path(task), task.format), task.shots)
    items = items[: task.limit] if task.limit else items
    model = getattr(system.backend, "model", None)
    tokenizer = getattr(system.backend, "tokenizer", None)
    mode = task.mode if model is not None and tokenizer is not None else "generate"
    notes = (
        []
        if mode == task.mode
        else ["log-likelihood needs a local hf model: scored by generated letter instead"]
    )
    acc, acc_norm, invalid = [], [], 0
    with PredictionLog(out / "predictions.jsonl") as log:
        if mode == "loglik":
            for it in items:
                if str(it.id) in log.done:
                    continue
                ll = loglik_scores(model, tokenizer, prefix + it.question, it.choices)
                log.write({"id": it.id, "loglik": ll, "gold": it.gold})
        else:
            for it in items:
                it.question = prefix + it.question  # the runner asks ``question`` as the user turn

            def record(item, ans):
                return {
                    "id": item.id,
                    "prediction": ans[0],
                    "gold": item.gold,
                    "choice": parse_choice(ans[0], item),
                }

            answer_all(system, items, log, task_params(suite, task), f"{system.cfg.name}/{task.name}", record)
        for it in items:
            rec = log.done[str(it.id)]
            if mode == "loglik":
                ll = rec["loglik"]
                norm = [s / max(len(c), 1) for s, c in zip(ll, it.choices)]
                acc.append(100.0 * (max(range(len(ll)), key=ll.__getitem__) == it.gold))
                acc_norm.append(100.0 * (max(range(len(norm)), key=norm.__getitem__) == it.gold))
            else:
                invalid += rec["choice"] is None
                acc.append(100.0 * (rec["choice"] == it.gold))
    scores = {"acc": acc, **({"acc_norm": acc_norm} if acc_norm else {})}
    if mode == "generate":
        notes.append(f"invalid (unparseable) answers: {invalid}/{len(items)}, counted wrong")
    return {
        "type": "mcq",
        "ids": [str(it.id) for it in items],
        "scores": scores,
        "summary": summarise(scores, suite),
        "baselines": {
            k: {"acc": {"mean": v, "low": v, "high": v, "n": len(items)}} for k, v in baselines(items).items()
        },
        "notes": notes,
    }


TASKS.register("generation", generation)
TASKS.register("mcq", mcq)
TASKS.register("safety", safety)
TASKS.register("consistency", consistency)
