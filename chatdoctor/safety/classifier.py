"""Second triage layer: TF-IDF character + word n-grams and logistic regression, trained from ``train_set.jsonl``.

Features, model settings and the thresholds at which the model may raise a level live in ``classifier.yaml``
(thresholds chosen by ``calibrate.py``). Training is deterministic and takes a few seconds; the fitted model
is cached (pickled) under ``$CHATDOCTOR_CACHE_DIR/safety`` (default ``~/.cache/chatdoctor/safety``), keyed by
the training file, the settings file and the scikit-learn version, so any change retrains automatically.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from chatdoctor.errors import DataError
from chatdoctor.io import atomic_write, load_yaml
from chatdoctor.safety.rules import DATA_DIR
from chatdoctor.safety.text import normalise

DEFAULT_TRAIN = DATA_DIR / "train_set.jsonl"
DEFAULT_SETTINGS = DATA_DIR / "classifier.yaml"
LABELS_EMERGENCY = (
    "cardiac",
    "stroke",
    "collapse",
    "bleeding",
    "anaphylaxis",
    "poisoning",
    "seizure",
    "breathing",
    "infant_fever",
    "pregnancy_bleeding",
    "self_harm",
)
LABELS = (*LABELS_EMERGENCY, "urgent", "routine", "self-care")
_EN_WORD = r"(?u)\b[a-z][a-z']+\b"  # word features are English only: Chinese is covered by character n-grams


@dataclass
class Thresholds:
    """Class probabilities at which the classifier raises a level (see ``triage.Triager``)."""

    emergency: float = 0.4  # top label is an emergency category
    emergency_suppressed: float = 0.7  # ... when the rules set aside a mention or judged the same category
    urgent: float = 0.5
    self_harm: float = 0.25  # self-harm raises on its own probability, even when not the top label
    self_harm_cue: float = 0.1  # ... when the rules saw a weak self-harm cue (over-triage when unsure)


@dataclass
class Settings:
    """Parsed ``classifier.yaml``."""

    version: str
    char_ngrams: tuple[int, int] = (1, 4)
    word_ngrams: tuple[int, int] = (1, 2)
    C: float = 8.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    calibrated_on: str = ""
    cv: dict[str, Any] = field(default_factory=dict)
    digest: str = ""


@dataclass(frozen=True)
class Prediction:
    """The most likely label, its probability and all class probabilities."""

    label: str
    prob: float
    probs: dict[str, float]


def file_digest(path: Path) -> str:
    """Short SHA-256 of a file (names a training set or settings file in versions)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path=path) from None


def _pair(value: Any, path: Path, name: str) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise DataError("expected [min, max] integers", path=path, field=f"features.{name}")
    return value[0], value[1]


def load_settings(path: str | Path | None = None) -> Settings:
    """Read ``classifier.yaml``; a defect raises ``DataError`` naming the file and field."""
    path = Path(path) if path else DEFAULT_SETTINGS
    data = load_yaml(path, "classifier settings")
    if not isinstance(data, dict) or not data.get("version"):
        raise DataError("missing key", path=path, field="version")
    feats = data.get("features") or {}
    known = {f.name for f in fields(Thresholds)}
    raw = data.get("thresholds") or {}
    if unknown := set(raw) - known:
        raise DataError(f"unknown thresholds {sorted(unknown)}", path=path, field="thresholds")
    if not all(isinstance(v, int | float) and 0 < v < 1 for v in raw.values()):
        raise DataError("thresholds must be numbers between 0 and 1", path=path, field="thresholds")
    return Settings(
        version=str(data["version"]),
        char_ngrams=_pair(feats.get("char_ngrams", [1, 4]), path, "char_ngrams"),
        word_ngrams=_pair(feats.get("word_ngrams", [1, 2]), path, "word_ngrams"),
        C=float(feats.get("C", 8.0)),
        thresholds=Thresholds(**raw),
        calibrated_on=str(data.get("calibrated_on") or ""),
        cv=data.get("cv") or {},
        digest=file_digest(path),
    )


def read_labelled(path: Path, label_key: str = "label") -> list[dict]:
    """Rows of a JSONL file with ``text`` and a label; errors name the file and line."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg}", path=path, line=n) from None
            if not isinstance(row.get("text"), str) or not row["text"].strip():
                raise DataError("missing text", path=path, line=n, field="text")
            if label_key and row.get(label_key) not in LABELS:
                raise DataError(f"label must be one of {LABELS}", path=path, line=n, field=label_key)
            rows.append(row)
    return rows


def _cache_dir() -> Path:
    base = os.environ.get("CHATDOCTOR_CACHE_DIR") or Path.home() / ".cache" / "chatdoctor"
    return Path(base) / "safety"


class Classifier:
    """A fitted text classifier over ``LABELS``; ``version`` names the training data, settings and library."""

    def __init__(self, pipeline, version: str, thresholds: Thresholds | None = None) -> None:
        self.pipeline = pipeline
        self.version = version
        self.thresholds = thresholds or Thresholds()

    @classmethod
    def train(
        cls, path: str | Path | None = None, cache: bool = True, settings: str | Path | None = None
    ) -> Classifier:
        """Fit on the training file, or load the cached fit of the very same file and settings."""
        import sklearn

        path = Path(path) if path else DEFAULT_TRAIN
        conf = load_settings(settings)
        # The settings digest covers the thresholds too: a recalibration is a new classifier version.
        version = f"clf-{file_digest(path)}-{conf.version}.{conf.digest[:6]}-sk{sklearn.__version__}"
        cached = _cache_dir() / f"{version}.pkl"
        if cache and cached.is_file():
            try:
                with open(cached, "rb") as f:
                    return cls(pickle.load(f), version, conf.thresholds)
            except Exception:  # a corrupt cache is rebuilt, never trusted
                cached.unlink(missing_ok=True)
        rows = read_labelled(path)
        pipeline = fit_pipeline([r["text"] for r in rows], [r["label"] for r in rows], conf)
        if cache:
            try:
                with atomic_write(cached, "wb") as f:
                    pickle.dump(pipeline, f)
            except OSError:
                pass  # a read-only home just means no cache
        return cls(pipeline, version, conf.thresholds)

    def predict(self, text: str) -> Prediction:
        """Class probabilities for one message."""
        probs = self.pipeline.predict_proba([normalise(text)])[0]
        table = {str(c): float(p) for c, p in zip(self.pipeline.classes_, probs, strict=True)}
        label = max(table, key=table.__getitem__)
        return Prediction(label, table[label], table)


def fit_pipeline(texts: list[str], labels: list[str], conf: Settings):
    """A fitted TF-IDF (char + English word n-grams) + logistic-regression pipeline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    from threadpoolctl import threadpool_limits

    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=conf.char_ngrams, sublinear_tf=True),
        TfidfVectorizer(
            analyzer="word", ngram_range=conf.word_ngrams, token_pattern=_EN_WORD, sublinear_tf=True
        ),
    )
    pipeline = make_pipeline(
        features, LogisticRegression(C=conf.C, max_iter=3000, class_weight="balanced", random_state=0)
    )
    # One BLAS thread: this small fit gets ~5x slower when BLAS threads fight over a busy machine's cores.
    with threadpool_limits(1):
        pipeline.fit([normalise(t) for t in texts], labels)
    return pipeline
