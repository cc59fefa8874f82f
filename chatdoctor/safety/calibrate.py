"""Choose the classifier's thresholds by grouped cross-validation on the training set (never on eval sets).

    chatdoctor safety calibrate          # rewrites thresholds, calibrated_on and cv in classifier.yaml

Each row is first triaged by the rules; the classifier layer then replays that row's out-of-fold
probabilities, so the thresholds are the ones that work best *together with the rules*. Rows that are one sentence with a different greeting or tail ("please advise: …", "…,该怎么做") share a
group, so a sentence never sits in both the fitted and the scored part of a fold.
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict, replace
from pathlib import Path

import yaml

from chatdoctor.io import atomic_write
from chatdoctor.safety.classifier import (
    DEFAULT_SETTINGS,
    DEFAULT_TRAIN,
    LABELS_EMERGENCY,
    Prediction,
    Settings,
    Thresholds,
    file_digest,
    fit_pipeline,
    load_settings,
    read_labelled,
)
from chatdoctor.safety.rules import RuleSet, load_rules
from chatdoctor.safety.text import normalise
from chatdoctor.safety.triage import Decision, Triager, rule_decision

# A missed emergency costs this many unneeded emergency replies: the layers are biased to over-triage.
MISS_COST = 10.0
GRID = [x / 100 for x in range(10, 91, 5)]
_GROUP_HEAD = re.compile(
    r"^(?:please advise|quick question|doctor|help|hi|hello|请问|你好|救命|医生)\s*[:,,:]\s*"
)
_GROUP_TAIL = re.compile(
    r"\s*[,,]?\s*(?:what should i do|is this serious|any advice|该怎么做|怎么办)\s*[??]?$"
)


def group_of(text: str) -> str:
    """The sentence without its augmentation head/tail: rows with one group never straddle a fold."""
    return _GROUP_TAIL.sub("", _GROUP_HEAD.sub("", normalise(text)))


def out_of_fold(rows: list[dict], conf: Settings, folds: int = 5) -> list[dict[str, float]]:
    """Class probabilities for every row from a model that never saw its group."""
    from sklearn.model_selection import GroupKFold
    from tqdm import tqdm

    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    probs: list[dict[str, float]] = [{} for _ in rows]
    splitter = GroupKFold(n_splits=folds)
    splits = splitter.split(texts, labels, [group_of(t) for t in texts])
    for fit_idx, score_idx in tqdm(splits, total=folds, desc="cross-validation folds", leave=False):
        model = fit_pipeline([texts[i] for i in fit_idx], [labels[i] for i in fit_idx], conf)
        table = model.predict_proba([normalise(texts[i]) for i in score_idx])
        for i, row in zip(score_idx, table, strict=True):
            probs[i] = {str(c): float(p) for c, p in zip(model.classes_, row, strict=True)}
    return probs


class _Replay:
    """Stands in for the classifier during calibration: replays one row's out-of-fold probabilities."""

    version = "oof"

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self.probs: dict[str, float] = {}

    def predict(self, text: str) -> Prediction:
        label = max(self.probs, key=self.probs.__getitem__)
        return Prediction(label, self.probs[label], self.probs)


def layered_outcome(
    rows: list[dict], rule_decisions: list[Decision], probs: list[dict[str, float]], th: Thresholds
) -> dict[str, int]:
    """Misses and false alarms of rules + classifier (replayed out-of-fold) under thresholds ``th``."""
    replay = _Replay(th)
    triager = Triager(None, replay)  # type: ignore[arg-type]  # the rules already ran: only the model layer
    out = {"emergency": 0, "missed": 0, "self_harm": 0, "self_harm_missed": 0, "benign": 0, "false_alarm": 0}
    for row, base, p in zip(rows, rule_decisions, probs, strict=True):
        d = copy.copy(base)
        if d.level != "emergency":
            replay.probs = p
            triager._classifier_layer(d, row["text"])
        if row["label"] in LABELS_EMERGENCY:
            out["emergency"] += 1
            out["missed"] += d.level != "emergency"
            if row["label"] == "self_harm":
                out["self_harm"] += 1
                out["self_harm_missed"] += not (d.level == "emergency" and d.category == "self_harm")
        elif row["label"] in ("routine", "self-care"):
            out["benign"] += 1
            out["false_alarm"] += d.level == "emergency"
    return out


def choose(rows: list[dict], probs: list[dict[str, float]], rules: RuleSet) -> tuple[Thresholds, dict]:
    """Thresholds that minimise the layered system's out-of-fold cost, and its figures (stored as ``cv``)."""
    decisions = [rule_decision(rules, r["text"]) for r in rows]

    def cost(th: Thresholds) -> float:
        o = layered_outcome(rows, decisions, probs, th)
        return MISS_COST * o["missed"] + o["false_alarm"]

    # Self-harm first (its weak-cue threshold is half of it), then the other emergencies, then the
    # stricter threshold for messages whose alarm words the rules set aside (negated, past, informational).
    best = min(GRID, key=lambda t: (cost(Thresholds(self_harm=t, self_harm_cue=t / 2)), -t))
    th = Thresholds(self_harm=best, self_harm_cue=round(best / 2, 3))
    th.emergency = min(GRID, key=lambda t: (cost(replace(th, emergency=t)), -t))
    high = [t for t in GRID if t >= max(0.7, th.emergency)] + [0.95]  # policy floor: a confident model
    th.emergency_suppressed = min(high, key=lambda t: (cost(replace(th, emergency_suppressed=t)), -t))
    o = layered_outcome(rows, decisions, probs, th)
    figures = {
        "rows": len(rows),
        "emergency_recall": round(1 - o["missed"] / max(o["emergency"], 1), 4),
        "self_harm_recall": round(1 - o["self_harm_missed"] / max(o["self_harm"], 1), 4),
        "false_alarm_rate": round(o["false_alarm"] / max(o["benign"], 1), 4),
        "rules": rules.version,
    }
    return th, figures


def calibrate(
    train_path: str | Path | None = None,
    settings_path: str | Path | None = None,
    rules_path: str | Path | None = None,
    folds: int = 5,
) -> tuple[Thresholds, dict]:
    """Cross-validate on the training set and rewrite the settings file's thresholds (atomically)."""
    train_path = Path(train_path) if train_path else DEFAULT_TRAIN
    settings_path = Path(settings_path) if settings_path else DEFAULT_SETTINGS
    conf = load_settings(settings_path)
    rows = read_labelled(train_path)
    th, figures = choose(rows, out_of_fold(rows, conf, folds), load_rules(rules_path))
    figures["folds"] = folds
    data = yaml.safe_load(settings_path.read_text(encoding="utf-8"))
    data.update(thresholds=asdict(th), calibrated_on=file_digest(train_path), cv=figures)
    header = "".join(line + "\n" for line in settings_path.read_text(encoding="utf-8").splitlines()
                     if line.startswith("#"))  # fmt: skip
    with atomic_write(settings_path, "w") as f:
        f.write(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return th, figures
