"""Classifier settings and thresholds: chosen by cross-validation on the training set, kept in step with it."""

from __future__ import annotations

import pytest

from chatdoctor.errors import DataError
from chatdoctor.safety.calibrate import choose, group_of
from chatdoctor.safety.classifier import DEFAULT_TRAIN, Classifier, file_digest, load_settings
from chatdoctor.safety.rules import load_rules


def test_shipped_thresholds_were_calibrated_on_the_shipped_training_set():
    settings = load_settings()
    assert settings.calibrated_on == file_digest(DEFAULT_TRAIN), "run: chatdoctor safety calibrate"
    assert settings.cv["self_harm_recall"] >= 0.9 and settings.cv["false_alarm_rate"] <= 0.1


def test_augmented_copies_of_a_sentence_share_one_cross_validation_group():
    plain = group_of("my chest hurts and I'm sweating")
    assert group_of("please advise: my chest hurts and I'm sweating what should I do?") == plain
    assert group_of("请问,胸口疼出冷汗,该怎么做") == group_of("胸口疼出冷汗")


def test_thresholds_are_chosen_where_the_layers_catch_self_harm_without_flagging_look_alikes():
    rows = [
        {"text": "the grey fog never lifts", "label": "self_harm"},
        {"text": "nothing tastes of anything any more", "label": "self_harm"},
        {"text": "what time does the pharmacy open", "label": "routine"},
        {"text": "is oat milk good for cholesterol", "label": "routine"},
    ]
    probs = [
        {"self_harm": 0.42, "routine": 0.58},
        {"self_harm": 0.61, "routine": 0.39},
        {"self_harm": 0.3, "routine": 0.7},
        {"self_harm": 0.12, "routine": 0.88},
    ]
    thresholds, figures = choose(rows, probs, load_rules())
    assert 0.3 < thresholds.self_harm <= 0.42  # both caught, the 0.3 look-alike left alone
    assert thresholds.self_harm_cue == pytest.approx(thresholds.self_harm / 2)
    assert figures["self_harm_recall"] == 1.0 and figures["false_alarm_rate"] == 0.0


def test_a_threshold_outside_zero_to_one_is_refused_naming_the_field(tmp_path):
    bad = tmp_path / "classifier.yaml"
    bad.write_text("version: x\nthresholds: {self_harm: 1.5}\n", encoding="utf-8")
    with pytest.raises(DataError, match="thresholds"):
        load_settings(bad)


def test_the_classifier_version_names_its_settings_and_carries_their_thresholds(safety_cache):
    clf = Classifier.train()
    settings = load_settings()
    assert settings.version in clf.version
    assert clf.thresholds == settings.thresholds


def test_calibrate_rewrites_the_settings_file_for_the_training_set_it_read(tmp_path):
    import json
    import shutil

    from chatdoctor.safety.calibrate import calibrate
    from chatdoctor.safety.classifier import DEFAULT_SETTINGS, LABELS, read_labelled

    rows = read_labelled(DEFAULT_TRAIN)
    small = [r for label in LABELS for r in [x for x in rows if x["label"] == label][:6]]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in small), encoding="utf-8")
    settings = tmp_path / "classifier.yaml"
    shutil.copy(DEFAULT_SETTINGS, settings)
    thresholds, _ = calibrate(train, settings, folds=2)
    reloaded = load_settings(settings)
    assert reloaded.calibrated_on == file_digest(train) and reloaded.thresholds == thresholds
    assert reloaded.cv["rows"] == len(small) and reloaded.cv["folds"] == 2
