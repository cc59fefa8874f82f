"""Cleaning and normalisation rules, shown on values taken from the real files."""

from __future__ import annotations

import json

import pytest

from knowledge.clean import (
    Cleaner,
    PrefixIndex,
    canonical,
    fix_escaped_utf8,
    is_truncated,
    looks_like_person_name,
    normalize,
)
from knowledge.importers.base import ImportReport
from knowledge.schema import Kind


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("打喷嚏 发烧 [详细]", "打喷嚏 发烧"),  # 39.net "more…" marker
        ("  获得性免疫缺陷综合征 ", "获得性免疫缺陷综合征"),  # leading space of duplicated 39.net rows
        ("乙肝表面抗原（HBsAg）阳性", "乙肝表面抗原(HBsAg)阳性"),  # full-width → half-width
        ("ＣＴ", "CT"),
        (" skin_rash", "skin rash"),  # Kaggle snake_case with a leading space
        ("dischromic _patches", "dischromic patches"),
        ("Diabetes ", "Diabetes"),
    ],
)
def test_normalize_cleans_display_names(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("肺大泡", "肺大疱"),  # variant table
        ("肺泡蛋白沉着症", "肺泡蛋白质沉积症"),
        ("Common Cold", "common cold"),
        ("(vertigo) Paroymsal  Positional Vertigo", "(vertigo) Paroymsal Positional Vertigo"),
        ("foul_smell_of urine", "foul_smell_ofurine"),  # Kaggle dataset.csv vs Symptom_severity.csv
        ("Peptic ulcer diseae", "Peptic ulcer disease"),
    ],
)
def test_canonical_makes_known_variants_one_name(a: str, b: str) -> None:
    assert canonical(a) == canonical(b)


@pytest.mark.parametrize(
    ("a", "b"), [("肺炎", "肺癌"), ("Hepatitis B", "Hepatitis C"), ("1型糖尿病", "2型糖尿病")]
)
def test_canonical_keeps_different_entities_apart(a: str, b: str) -> None:
    assert canonical(a) != canonical(b)


def test_person_names_are_found_in_the_real_xywy_symptom_lists(shared_data) -> None:
    path = shared_data / "qasystem_medical_sample" / "medical2.json.bak.utf8.jsonl"
    symptoms = {
        s for line in path.read_text(encoding="utf-8").splitlines() for s in json.loads(line)["symptom"]
    }
    flagged = {s for s in symptoms if looks_like_person_name(s)}
    assert flagged == {"毓卓", "闫鹏辉", "衣玉品"}  # the three SOURCE.md names, and no real symptom
    assert len(symptoms) > 300


def test_person_name_rule_spares_the_39net_symptom_vocabulary(shared_data) -> None:
    vocab = (shared_data / "kg39_medicalgraph" / "symptom_vocab.txt").read_text(encoding="utf-8-sig").split()
    assert len(vocab) > 5000
    assert [w for w in vocab if looks_like_person_name(w)] == []


@pytest.mark.parametrize("token", ["高热", "黄疸", "白带增多", "关节痛", "马鞍鼻", "石淋", "胸闷", "乏力"])
def test_symptoms_starting_with_a_surname_character_are_not_names(token: str) -> None:
    assert not looks_like_person_name(token)


def test_truncated_names_are_detected() -> None:
    assert is_truncated("发热伴咳嗽、咯...")
    assert is_truncated("枸橼酸西地那非...")
    assert not is_truncated("感冒")


def test_a_truncated_name_is_restored_only_when_one_known_name_extends_it() -> None:
    index = PrefixIndex(["阿克森费尔德", "阿克森费尔德-里格尔综合征", "生长激素缺乏症", "生长激素瘤"])
    assert index.unique("阿克森费尔德") == "阿克森费尔德-里格尔综合征"  # the bare prefix does not count
    assert index.unique("生长激素") is None  # ambiguous


def test_escaped_utf8_bytes_in_chatdoctor_reason_are_repaired(shared_data) -> None:
    text = (shared_data / "chatdoctor" / "format_dataset.csv").read_text(encoding="utf-8")
    assert "\\xe2\\x80\\x93" in text
    line = next(ln for ln in text.splitlines() if "\\xe2\\x80\\x93" in ln)
    fixed = fix_escaped_utf8(line)
    assert "\\x" not in fixed
    assert "–" in fixed


def test_cleaner_drops_and_counts_each_rule() -> None:
    report = ImportReport("x", "test", "test")
    items = Cleaner(report).items(
        ["发烧", "发烧 ", "", "发热伴咳嗽、咯...", "闫鹏辉", "咳嗽 [详细]"], Kind.SYMPTOM, "line 1"
    )
    assert items == ["发烧", "咳嗽"]
    assert report.cleaned["dropped person name in symptom list"] == 1
    assert report.cleaned["dropped truncated name ('...')"] == 1
    assert report.cleaned["dropped empty value"] == 1
    assert report.cleaned["dropped duplicate in list"] == 1


def test_person_names_are_kept_outside_symptom_lists() -> None:
    report = ImportReport("x", "test", "test")
    assert Cleaner(report).items(["毓卓"], Kind.PRODUCER) == ["毓卓"]
