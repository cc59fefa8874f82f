"""Reference-based generation metrics, language-aware, with bootstrap confidence intervals.

Chinese text is scored the way ChatGLM/LLaMA-Factory do: ROUGE with ``rouge_chinese`` on jieba tokens
(``rouge_score`` returns 0 on Chinese: it keeps only ``[a-z0-9]``), BLEU-4 on characters with nltk's
smoothing method 3. English uses ``rouge_score`` (with stemming) and sacreBLEU. All scores are ×100.
"""

from __future__ import annotations

import logging
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chatdoctor.registry import Registry

MetricFn = Callable[[str, str, str], float]  # (prediction, reference, lang) -> score
METRICS: Registry[MetricFn] = Registry("metric")


def detect_lang(text: str) -> str:
    """'zh' when CJK characters make up a fair share of the letters, else 'en'."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    letters = sum(1 for ch in text if ch.isalpha())
    return "zh" if letters and cjk / letters > 0.3 else "en"


def _jieba(text: str) -> str:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return " ".join(t for t in jieba.cut(text) if t.strip())


def _rouge_zh(pred: str, ref: str, key: str) -> float:
    from rouge_chinese import Rouge

    p, r = _jieba(pred), _jieba(ref)
    if not p.strip() or not r.strip():
        return 0.0
    return Rouge().get_scores(p, r)[0][key]["f"] * 100


def _rouge_en(pred: str, ref: str, key: str) -> float:
    from rouge_score import rouge_scorer

    name = {"rouge-1": "rouge1", "rouge-2": "rouge2", "rouge-l": "rougeL"}[key]
    return float(rouge_scorer.RougeScorer([name], use_stemmer=True).score(ref, pred)[name].fmeasure) * 100


def _rouge(key: str) -> MetricFn:
    def score(pred: str, ref: str, lang: str) -> float:
        return _rouge_zh(pred, ref, key) if lang == "zh" else _rouge_en(pred, ref, key)

    return score


def bleu4(pred: str, ref: str, lang: str) -> float:
    """Character-level nltk BLEU-4 (method 3) for Chinese, sacreBLEU sentence BLEU for English."""
    if not pred.strip():
        return 0.0
    if lang == "zh":
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

        return sentence_bleu([list(ref)], list(pred), smoothing_function=SmoothingFunction().method3) * 100
    import sacrebleu

    return sacrebleu.sentence_bleu(pred, [ref]).score


METRICS.register("rouge-1", _rouge("rouge-1"))
METRICS.register("rouge-2", _rouge("rouge-2"))
METRICS.register("rouge-l", _rouge("rouge-l"))
METRICS.register("bleu-4", bleu4)


def bertscore(
    preds: Sequence[str], refs: Sequence[str], model_path: str, num_layers: int | None = None
) -> list[float]:
    """BERTScore F1 ×100 with a LOCAL model directory (no rescaling, idf off); nothing is downloaded."""
    import bert_score
    from transformers import AutoConfig

    layers = num_layers or AutoConfig.from_pretrained(model_path).num_hidden_layers
    _, _, f1 = bert_score.score(
        list(preds), list(refs), model_type=model_path, num_layers=layers, verbose=False
    )
    return [float(x) * 100 for x in f1]


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    def fmt(self) -> str:
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}]"


def bootstrap_ci(
    values: Sequence[float], *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> Estimate:
    """Mean with a percentile bootstrap confidence interval."""
    if not values:
        return Estimate(0.0, 0.0, 0.0, 0)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(statistics.fmean(rng.choices(values, k=n)) for _ in range(n_boot))
    lo = means[int(alpha / 2 * n_boot)]
    hi = means[min(int((1 - alpha / 2) * n_boot), n_boot - 1)]
    return Estimate(statistics.fmean(values), lo, hi, n)


@dataclass(frozen=True)
class PairedDiff:
    diff: Estimate  # mean of (b - a) with its CI
    p_value: float  # two-sided, paired bootstrap


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, n_boot: int = 2000, seed: int = 0
) -> PairedDiff:
    """Paired bootstrap of b − a over the same samples; p = share of resamples on the other side of 0, ×2."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    diffs = [y - x for x, y in zip(a, b)]
    est = bootstrap_ci(diffs, n_boot=n_boot, seed=seed)
    if not diffs:
        return PairedDiff(est, 1.0)
    rng = random.Random(seed + 1)
    n = len(diffs)
    boots = [statistics.fmean(rng.choices(diffs, k=n)) for _ in range(n_boot)]
    if est.mean >= 0:
        tail = sum(1 for m in boots if m <= 0) / n_boot
    else:
        tail = sum(1 for m in boots if m >= 0) / n_boot
    return PairedDiff(est, min(1.0, 2 * tail))


def score_pairs(preds: Sequence[str], refs: Sequence[str], metrics: Sequence[str]) -> dict[str, list[float]]:
    """Per-sample scores for each named metric; the language is detected per reference."""
    out: dict[str, list[float]] = {m: [] for m in metrics}
    for pred, ref in zip(preds, refs):
        lang = detect_lang(ref)
        for m in metrics:
            out[m].append(METRICS.get(m)(pred, ref, lang))
    return out
