"""Cleaning steps, exact/near-duplicate removal, decontamination and leak-free splits."""

from __future__ import annotations

import random

import pytest

from chatdoctor.records import InstructionRecord
from chatdoctor.types import Message
from training.data.clean import Cleaner, artefact_step, detect_lang, length_step, pii_step, strip_artefacts
from training.data.config import SplitConfig
from training.data.dedup import Decontaminator, exact_dedup, near_dedup
from training.data.mix import split_records
from training.data.pii import fallback_scrub, get_scrubber


def rec(q: str, a: str, source: str = "s", id: str = "") -> InstructionRecord:
    return InstructionRecord([Message("user", q), Message("assistant", a)], source=source, id=id)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hi, thanks for your query. You have a cold. Drink water. Best wishes, Chat Doctor.",
            "You have a cold. Drink water.",
        ),
        ("Hello, thank you for asking at ChatDoctor. Take paracetamol.", "Take paracetamol."),
        ("Your scan is normal. I am Chat Doctor, a GP. Rest well.", "Your scan is normal. Rest well."),
        ("Please consult a Chat Doctor. Rest.\nRegards, Dr. Chat Doctor", "Rest."),
        ("Nothing to strip here.  Two spaces stay.", "Nothing to strip here.  Two spaces stay."),
    ],
)
def test_anonymisation_artefacts_and_boilerplate_are_stripped(text, expected):
    assert strip_artefacts(text, assistant=True) == expected


def test_patient_greetings_are_kept_but_artefacts_removed():
    assert strip_artefacts("Hi doctor, thanks for your question earlier.", assistant=False).startswith(
        "Hi doctor"
    )
    assert strip_artefacts("My doctor (Chat Doctor) said so. I hurt.", assistant=False) == "I hurt."


def test_language_detection_is_script_based():
    assert detect_lang("我最近头痛，怎么办？") == "zh"
    assert detect_lang("I have had a headache for 3 days.") == "en"
    assert detect_lang("我的 CT 和 MRI 都正常") == "zh"
    assert detect_lang("1234 !!") == "other"


def test_fallback_pii_scrubber_replaces_safe_harbor_identifiers():
    text = (
        "Mail john.doe@example.com or call 415-555-0132, see https://x.org/a on 2023-04-01, SSN 123-45-6789."
    )
    out = fallback_scrub(text)
    for tag in ("[EMAIL]", "[PHONE]", "[URL]", "[DATE]", "[ID]"):
        assert tag in out
    assert "john.doe" not in out and "555" not in out


def test_the_safety_layer_scrubber_is_used_when_installed():
    name, scrub = get_scrubber()
    out = scrub("write to jane@example.org")
    assert "jane@example.org" not in out
    assert name in ("chatdoctor.safety.pii+regex", "fallback-regex")


def test_cleaner_counts_removed_and_changed_records_per_step():
    c = (
        Cleaner()
        .add("artefacts", artefact_step)
        .add("pii", pii_step(fallback_scrub))
        .add("length", length_step(3, 3, 100))
    )
    records = [
        rec("question one", "Fine. Best wishes, Chat Doctor."),
        rec("ok", "too short q"),
        rec("mail me at a@b.co", "sure thing"),
        rec("q" * 50, "a" * 60),
    ]
    out = list(c.run(records))
    report = {r["step"]: r for r in c.report()}
    assert [r.response for r in out] == ["Fine.", "sure thing"]
    assert report["artefacts"]["changed"] == 1 and report["pii"]["changed"] == 1
    assert report["length"]["input"] == 4 and report["length"]["removed"] == 2


def test_exact_dedup_ignores_case_spacing_and_punctuation():
    records = [rec("What is flu?", "a"), rec("what is  FLU", "b"), rec("What is a cold?", "c")]
    assert [dup for _, dup in exact_dedup(records)] == [False, True, False]
    assert [dup for _, dup in exact_dedup(records, "conversation")] == [False, False, False]


def test_near_dedup_catches_small_edits_but_not_different_texts(shared_data):
    from training.data.loaders import load

    base = list(load("genmedgpt_5k", shared_data / "chatdoctor/chatdoctor5k.json"))[:200]
    edited = [rec(r.prompt + " Thanks.", r.response.replace("Hello", "Hi")) for r in base[:50]]
    marks = [dup for _, dup in near_dedup(base + edited, threshold=0.8)]
    assert sum(m is not None for m in marks[200:]) == 50
    assert sum(m is not None for m in marks[:200]) <= 2  # GenMedGPT has a few templated twins


def test_decontamination_drops_records_sharing_an_ngram_with_eval_sets(shared_data):
    from training.data.loaders import load

    infer = list(load("huatuo_llama_data", shared_data / "huatuo/infer.json"))
    train = list(load("huatuo_llama_data", shared_data / "huatuo/llama_data.json"))
    dc = Decontaminator([r.text() for r in infer])
    hits = [r for r in train if dc.contaminated(r)]
    assert {r.prompt for r in infer} <= {r.prompt for r in hits}  # infer.json ⊂ training (FIELD_NOTES 2.3)
    assert len(hits) < 20
    english = Decontaminator(["the quick brown fox jumps over the lazy dog near the river bank today"], n=8)
    assert english.contaminated(rec("Tell me: The quick brown fox jumps over the lazy dog near it", "x"))
    assert not english.contaminated(rec("the quick brown fox", "jumps over"))


def test_splits_never_separate_near_duplicates():
    rng = random.Random(0)
    vocab = [f"{a}{b}{c}" for a in "bcdfgklmnprst" for b in "aeiou" for c in "nrstlm"]
    topics = [" ".join(rng.choices(vocab, k=40)) for _ in range(30)]
    records = [rec(f"{topics[i % 30]} (case {i})", "see a doctor", id=str(i)) for i in range(150)]
    splits = split_records(records, SplitConfig(validation=0.2, test=0.2, cluster_threshold=0.7), seed=1)
    assert sum(map(len, splits.values())) == 150
    where = {r.id: s for s, rs in splits.items() for r in rs}
    for t in range(30):  # each topic's five near-duplicates land in exactly one split
        assert len({where[str(i)] for i in range(t, 150, 30)}) == 1
    assert len(splits["test"]) == 30 and len(splits["validation"]) == 30


def test_split_sizes_follow_the_ratios_when_records_are_distinct(shared_data):
    from training.data.loaders import load

    recs = list(load("huatuo_llama_data", shared_data / "huatuo/llama_data.json"))[:400]
    splits = split_records(recs, SplitConfig(validation=0.1, test=0.05), seed=3)
    assert abs(len(splits["validation"]) - 40) <= 3 and abs(len(splits["test"]) - 20) <= 3
    again = split_records(recs, SplitConfig(validation=0.1, test=0.05), seed=3)
    assert [r.id for r in again["test"]] == [r.id for r in splits["test"]]


def test_cleaning_in_worker_processes_matches_one_process(shared_data):
    from training.data.loaders import load

    recs = list(load("genmedgpt_5k", shared_data / "chatdoctor/chatdoctor5k.json"))[:600]
    recs[5] = rec("call me at 415-555-0132", "ok, Chat Doctor will. Rest well.")

    def cleaner() -> Cleaner:
        return (
            Cleaner()
            .add("artefacts", artefact_step)
            .add("pii", pii_step(fallback_scrub))
            .add("length", length_step(3, 5, 10_000))
        )

    one, two = cleaner(), cleaner()
    a, b = list(one.run(recs)), list(two.run(recs, workers=2))
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]
    assert one.report() == two.report()
    assert a[5].prompt == "call me at [PHONE]" and a[5].response == "Rest well."


def test_a_fixed_instruction_shared_with_the_eval_set_does_not_flag_everything(shared_data, tmp_path):
    import json

    from training.data.loaders import load

    train = list(load("genmedgpt_5k", shared_data / "chatdoctor/chatdoctor5k.json"))[:300]
    leaked = train[7].to_alpaca()["input"]
    rows = [
        {
            "input": f"Patient {i} asks about an unrelated rash on the left elbow that itches at night.",
            "answer_icliniq": f"Answer {i}: use a mild steroid cream.",
            "answer_chatgpt": "",
            "answer_chatdoctor": "",
        }
        for i in range(50)
    ] + [{"input": leaked, "answer_icliniq": "x", "answer_chatgpt": "", "answer_chatdoctor": ""}]
    path = tmp_path / "icliniq.json"
    path.write_text(json.dumps(rows))
    from training.data.dedup import content_text

    dc = Decontaminator([content_text(r) for r in load("icliniq", path)])
    assert [i for i, r in enumerate(train) if dc.contaminated(r)] == [7]
    assert dc.template_grams > 0  # the boilerplate shared by the 51 iCliniq-style rows was set aside
