"""Choose the classifier's thresholds by grouped cross-validation on the training set (never on eval sets).

    chatdoctor safety calibrate          # rewrites thresholds, calibrated_on and cv in classifier.yaml

Rows that are one sentence with a different greeting or tail ("please advise: …", "…,该怎么做") share a
group, so a sentence never sits in both the fitted and the scored part of a fold.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import yaml

from chatdoctor.io import atomic_write
from chatdoctor.safety.classifier import (
    DEFAULT_SETTINGS,
    DEFAULT_TRAIN,
    LABELS_EMERGENCY,
    Settings,
    Thresholds,
    file_digest,
    fit_pipeline,
    load_settings,
    read_labelled,
)
from chatdoctor.safety.text import normalise

# Out-of-fold share of the training set's routine/self-care rows (many of them deliberate look-alikes:
# idioms, past events, third parties) that a threshold may raise to an emergency. The rules catch most
# explicit messages; the model is the net for the phrasing no rule lists, so it gets a little more room.
MAX_SELF_HARM_FALSE_POSITIVE = 0.04
MAX_FALSE_POSITIVE = 0.02
_GROUP_HEAD = re.compile(r"^(?:please advise|quick question|doctor|help|hi|hello|请问|你好|救命|医生)\s*[:,,:]\s*")
_GROUP_TAIL = re.compile(r"\s*[,,]?\s*(?:what should i do|is this serious|any advice|该怎么做|怎么办)\s*[??]?$")


def group_of(text: str) -> str:
    """The sentence without its augmentation head/tail: rows with one group never straddle a fold."""
    return _GROUP_TAIL.sub("", _GROUP_HEAD.sub("", normalise(text)))


def out_of_fold(rows: list[dict], conf: Settings, folds: int = 5) -> list[dict[str, float]]:
    """Class probabilities for every row from a model that never saw its group."""
    from sklearn.model_selection import GroupKFold

    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    probs: list[dict[str, float]] = [{} for _ in rows]
    splitter = GroupKFold(n_splits=folds)
    for fit_idx, score_idx in splitter.split(texts, labels, [group_of(t) for t in texts]):
        model = fit_pipeline([texts[i] for i in fit_idx], [labels[i] for i in fit_idx], conf)
        table = model.predict_proba([normalise(texts[i]) for i in score_idx])
        for i, row in zip(score_idx, table, strict=True):
            probs[i] = {str(c): float(p) for c, p in zip(model.classes_, row, strict=True)}
    return probs


def _fp(values: list[float], t: float) -> float:
    return sum(v >= t for v in values) / max(len(values), 1)


def choose(rows: list[dict], probs: list[dict[str, float]]) -> tuple[Thresholds, dict]:
    """Thresholds from out-of-fold probabilities, and the figures they give (stored as ``cv``)."""
    benign = [p for r, p in zip(rows, probs, strict=True) if r["label"] in ("routine", "self-care")]
    harm = sorted(p.get("self_harm", 0.0) for r, p in zip(rows, probs, strict=True) if r["label"] == "self_harm")
    # Each threshold is the lowest on the grid (most recall) whose false-positive share stays under its cap.
    grid = [x / 100 for x in range(10, 91, 5)]
    benign_harm = [p.get("self_harm", 0.0) for p in benign]
    self_harm = next((t for t in grid if _fp(benign_harm, t) <= MAX_SELF_HARM_FALSE_POSITIVE), 0.9)
    top = [max((v, k) for k, v in p.items()) for p in benign]
    emerg_scores = [v for v, k in top if k in LABELS_EMERGENCY and k != "self_harm"]
    emergency = next((t for t in grid if len([v for v in emerg_scores if v >= t]) / max(len(benign), 1)
                      <= MAX_FALSE_POSITIVE), 0.9)  # fmt: skip
    cue = round(self_harm / 2, 3)  # a weak cue seen by the rules: over-triage when unsure
    th = Thresholds(
        emergency=emergency,
        emergency_suppressed=max(0.7, emergency),
        urgent=0.5,
        self_harm=self_harm,
        self_harm_cue=cue,
    )
    emerg_rows = [(r, p) for r, p in zip(rows, probs, strict=True) if r["label"] in LABELS_EMERGENCY]
    hit = sum(
        (p.get("self_harm", 0) >= self_harm) if r["label"] == "self_harm" else
        (max(p, key=p.__getitem__) == r["label"] and p[r["label"]] >= emergency)
        for r, p in emerg_rows
    )  # fmt: skip
    figures = {
        "folds": 5,
        "rows": len(rows),
        "self_harm_recall": round(sum(v >= self_harm for v in harm) / max(len(harm), 1), 4),
        "emergency_recall_classifier_alone": round(hit / max(len(emerg_rows), 1), 4),
        "benign_raised_to_self_harm": round(_fp([p.get("self_harm", 0) for p in benign], self_harm), 4),
        "benign_raised_to_other_emergency": round(len([v for v in emerg_scores if v >= emergency]) / max(len(benign), 1), 4),
    }  # fmt: skip
    return th, figures


def calibrate(
    train_path: str | Path | None = None, settings_path: str | Path | None = None, folds: int = 5
) -> tuple[Thresholds, dict]:
    """Cross-validate on the training set and rewrite the settings file's thresholds (atomically)."""
    train_path = Path(train_path) if train_path else DEFAULT_TRAIN
    settings_path = Path(settings_path) if settings_path else DEFAULT_SETTINGS
    conf = load_settings(settings_path)
    rows = read_labelled(train_path)
    th, figures = choose(rows, out_of_fold(rows, conf, folds))
    figures["folds"] = folds
    data = yaml.safe_load(settings_path.read_text(encoding="utf-8"))
    data.update(thresholds=asdict(th), calibrated_on=file_digest(train_path), cv=figures)
    header = "".join(line + "\n" for line in settings_path.read_text(encoding="utf-8").splitlines()
                     if line.startswith("#"))  # fmt: skip
    with atomic_write(settings_path, "w") as f:
        f.write(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return th, figures
