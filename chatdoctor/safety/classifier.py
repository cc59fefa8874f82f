"""Second triage layer: TF-IDF character n-grams + logistic regression, trained from ``train_set.jsonl``.

Training is deterministic and takes well under a second; the fitted model is cached (pickled) under
``$CHATDOCTOR_CACHE_DIR/safety`` (default ``~/.cache/chatdoctor/safety``), keyed by the training file's hash
and the scikit-learn version, so a changed training set or library retrains automatically.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

from chatdoctor.errors import DataError
from chatdoctor.io import atomic_write
from chatdoctor.safety.rules import DATA_DIR
from chatdoctor.safety.text import normalise

DEFAULT_TRAIN = DATA_DIR / "train_set.jsonl"
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


@dataclass(frozen=True)
class Prediction:
    """The most likely label, its probability and all class probabilities."""

    label: str
    prob: float
    probs: dict[str, float]


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
    """A fitted text classifier over ``LABELS``; ``version`` names the training data and library."""

    def __init__(self, pipeline, version: str) -> None:
        self.pipeline = pipeline
        self.version = version

    @classmethod
    def train(cls, path: str | Path | None = None, cache: bool = True) -> Classifier:
        """Fit on the training file, or load the cached fit of the very same file."""
        import sklearn

        path = Path(path) if path else DEFAULT_TRAIN
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        except OSError as exc:
            raise DataError(f"cannot read training set: {exc.strerror}", path=path) from None
        version = f"clf-{digest}-sk{sklearn.__version__}"
        cached = _cache_dir() / f"{version}.pkl"
        if cache and cached.is_file():
            try:
                with open(cached, "rb") as f:
                    return cls(pickle.load(f), version)
            except Exception:  # a corrupt cache is rebuilt, never trusted
                cached.unlink(missing_ok=True)
        pipeline = _fit(read_labelled(path))
        if cache:
            try:
                with atomic_write(cached, "wb") as f:
                    pickle.dump(pipeline, f)
            except OSError:
                pass  # a read-only home just means no cache
        return cls(pipeline, version)

    def predict(self, text: str) -> Prediction:
        """Class probabilities for one message."""
        probs = self.pipeline.predict_proba([normalise(text)])[0]
        table = {str(c): float(p) for c, p in zip(self.pipeline.classes_, probs, strict=True)}
        label = max(table, key=table.__getitem__)
        return Prediction(label, table[label], table)


def _fit(rows: list[dict]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    # Character n-grams work for Chinese (no word segmentation needed) and survive English typos.
    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=1),
        LogisticRegression(C=8.0, max_iter=2000, class_weight="balanced", random_state=0),
    )
    # One BLAS thread: this small fit gets ~5x slower when BLAS threads fight over a busy machine's cores.
    with threadpool_limits(1):
        pipeline.fit([normalise(r["text"]) for r in rows], [r["label"] for r in rows])
    return pipeline
