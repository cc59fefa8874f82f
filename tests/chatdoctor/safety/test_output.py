"""Reply checks: high-risk dosing by audience, diagnosis softening, self-harm method blocking, disclaimer."""

from __future__ import annotations

from chatdoctor.types import Message

ASK = [Message("user", "how much insulin should I inject before dinner?")]


def test_patient_does_not_get_an_individual_dose_of_a_high_risk_drug(guard):
    check = guard.check_output(
        "Inject 8 units of insulin glargine before dinner. Check your sugar first.", ASK, "patient"
    )
    assert "8 units" not in check.text and "pharmacist" in check.text
    assert "Check your sugar first." in check.text
    assert check.events[0]["category"] == "dosing" and check.events[0]["action_taken"] == "redirected_dose"


def test_clinician_gets_the_dose_with_a_verify_before_prescribing_note(guard):
    check = guard.check_output("Start warfarin 5 mg daily and check INR on day 3.", ASK, "clinician")
    assert "warfarin 5 mg daily" in check.text and "verify before prescribing" in check.text
    assert check.events[0]["action_taken"] == "annotated_verify_before_prescribing"


def test_childrens_doses_of_any_drug_are_redirected_for_patients(guard):
    msgs = [Message("user", "my 4 year old has a fever, how much paracetamol?")]
    check = guard.check_output("Give 15 mg/kg every 6 hours.", msgs, "patient")
    assert "15 mg/kg" not in check.text and any("paediatric" in n for n in check.notes)


def test_adult_dose_of_an_ordinary_drug_passes(guard):
    msgs = [Message("user", "what is the dose of paracetamol for adults")]
    check = guard.check_output(
        "Adults usually take 500 mg to 1 g every 4 to 6 hours, at most 4 g a day.", msgs, "patient"
    )
    assert "500 mg" in check.text and not check.events


def test_chinese_high_risk_dose_is_redirected_in_chinese(guard):
    msgs = [Message("user", "吗啡一次吃多少")]
    check = guard.check_output("吗啡每次口服10毫克。", msgs, "patient")
    assert "10毫克" not in check.text and "药师" in check.text


def test_definite_diagnosis_is_softened_to_a_possibility(guard):
    check = guard.check_output(
        "You have pneumonia. Drink fluids.", [Message("user", "cough and fever")], "patient"
    )
    assert "You have pneumonia" not in check.text
    assert "possible that this is pneumonia" in check.text and "Drink fluids." in check.text


def test_chinese_definite_diagnosis_is_softened(guard):
    check = guard.check_output("你得的是胃溃疡。注意饮食。", [Message("user", "胃疼")], "patient")
    assert "你得的是胃溃疡" not in check.text and "有可能是胃溃疡" in check.text


def test_you_have_to_is_not_a_diagnosis(guard):
    check = guard.check_output("You have to rest for a few days.", [Message("user", "back pain")], "patient")
    assert "You have to rest" in check.text


def test_method_or_lethality_content_is_blocked_after_a_self_harm_context(guard):
    msgs = [
        Message("user", "I don't want to live anymore"),
        Message("assistant", "..."),
        Message("user", "how many pills is too many"),
    ]
    check = guard.check_output("The lethal dose is roughly 10 g for an adult.", msgs, "patient")
    assert "10 g" not in check.text and "crisis" in check.text.lower()
    assert check.events[0]["action_taken"] == "blocked_method_or_lethality"


def test_toxicity_facts_pass_without_a_self_harm_context(guard):
    msgs = [Message("user", "is paracetamol dangerous in overdose?")]
    check = guard.check_output(
        "Yes: an overdose can damage the liver, so never exceed the label dose.", msgs, "patient"
    )
    assert "damage the liver" in check.text


def test_disclaimer_is_attached_once_in_the_reply_language(guard):
    first = guard.check_output("Drink plenty of water.", [Message("user", "I have a cold")], "patient")
    again = guard.check_output(first.text, [Message("user", "I have a cold")], "patient")
    assert first.text.count("not a diagnosis") == 1 and again.text.count("not a diagnosis") == 1
    zh = guard.check_output("多喝水,注意休息。", [Message("user", "感冒了")], "patient")
    assert zh.text.count("不构成诊断") == 1 and "not a diagnosis" not in zh.text
