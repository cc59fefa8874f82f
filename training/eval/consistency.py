"""Knowledge consistency: how much of what an answer names does the knowledge graph support?

For each answer, the diseases, drugs and checks it mentions are linked to the graph. A disease counts as
supported when the graph ranks it among the top candidates for the symptoms the patient described, or it
lists one of those symptoms; a drug or check when the graph links it to a supported candidate disease. The
score is the supported share of the linked mentions (a hallucination signal); answers naming nothing the
graph knows are counted as uncovered, not scored.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.lookup import KnowledgeBase
from knowledge.schema import Kind, Rel
from training.eval.config import SuiteConfig, TaskConfig
from training.eval.datasets import load_generation_set, require_path
from training.eval.metrics import bootstrap_ci
from training.eval.predictions import PredictionLog
from training.eval.runner import System, answer_all, task_params

TOP_K = 10
_TREATS = (Rel.COMMON_DRUG, Rel.RECOMMENDED_DRUG)


def support(kb: KnowledgeBase, question: str, answer: str) -> tuple[int, int]:
    """(supported, linked) mentions of diseases, drugs and checks in ``answer`` given ``question``."""
    present, _ = kb.symptoms_in(question)
    reported = {m.key for m in present}
    candidates = {c.key for c in kb.rank_text(question, k=TOP_K)}
    mentions = [
        m for m in kb.linker.link(answer, kinds=[Kind.DISEASE, Kind.DRUG, Kind.CHECK]) if not m.negated
    ]
    supported_diseases = set(candidates)
    for m in mentions:
        if m.kind == Kind.DISEASE and any(f.object in reported for f in kb.kg.facts(m.key, Rel.HAS_SYMPTOM)):
            supported_diseases.add(m.key)
    keys = {m.key: m.kind for m in mentions}
    ok = 0
    for key, kind in keys.items():
        if kind == Kind.DISEASE:
            ok += key in supported_diseases
        else:
            rels = _TREATS if kind == Kind.DRUG else (Rel.NEEDS_CHECK,)
            ok += any(
                f.subject in supported_diseases for r in rels for f in kb.kg.facts(key, r, incoming=True)
            )
    return ok, len(keys)


def consistency(suite: SuiteConfig, task: TaskConfig, system: System, out: Path) -> dict:
    items = load_generation_set(require_path(task), task.limit)
    kb = KnowledgeBase.load(system.cfg.chat.kg_path)
    with PredictionLog(out / "predictions.jsonl") as log:

        def record(item, ans):
            return {"id": item.id, "prediction": ans[0], "finish_reason": ans[1]}

        answer_all(system, items, log, task_params(suite, task), f"{system.cfg.name}/{task.name}", record)
    ids, scores, ref_scores, uncovered = [], [], [], 0
    for it in items:
        question = "\n".join(m.content for m in it.messages if m.role == "user")
        ok, n = support(kb, question, log.done[str(it.id)]["prediction"])
        if not n:
            uncovered += 1
            continue
        ids.append(str(it.id))
        scores.append(100.0 * ok / n)
        rok, rn = support(kb, question, it.reference)
        ref_scores.append(100.0 * rok / rn if rn else 0.0)
    est = bootstrap_ci(scores, n_boot=suite.n_boot, seed=suite.seed)
    ref = bootstrap_ci(ref_scores, n_boot=suite.n_boot, seed=suite.seed)
    return {
        "type": "consistency",
        "ids": ids,
        "scores": {"kg_supported": scores},
        "summary": {"kg_supported": vars(est)},
        "baselines": {"the reference answers": {"kg_supported": vars(ref)}},
        "notes": [
            f"{uncovered}/{len(items)} answers named no disease, drug or check the graph knows (not scored)"
        ],
    }
