"""The guard inside the chat engine: short-circuit, banners, and failing closed."""

from __future__ import annotations

import time

import pytest

from chatdoctor.engine import ChatEngine
from chatdoctor.errors import DataError
from chatdoctor.safety import SafetyGuard, build_guard
from chatdoctor.safety.rules import DEFAULT_RULES, load_rules
from chatdoctor.types import Message


def test_emergency_short_circuits_and_the_model_is_never_called(guard, recording_backend):
    engine = ChatEngine(backend=recording_backend, guard=guard)
    done = engine.reply(
        [Message("user", "my wife's face is drooping and she can't lift her arm, it started suddenly")]
    )
    assert recording_backend.calls == []
    assert done.triage.level == "emergency" and done.triage.category == "stroke"
    assert "Call 112" in done.text and "time the symptoms started" in done.text


def test_chinese_emergency_gets_a_chinese_reply_with_120(guard_zh, recording_backend):
    done = ChatEngine(backend=recording_backend, guard=guard_zh).reply(
        [Message("user", "我妈突然晕倒了,叫不醒")]
    )
    assert recording_backend.calls == []
    assert "120" in done.text and "心肺复苏" in done.text


def test_self_harm_gets_crisis_lines_and_is_queued_for_review(recording_backend):
    guard = build_guard("en-US")
    done = ChatEngine(backend=recording_backend, guard=guard).reply(
        [Message("user", "I keep thinking everyone would be better off without me")]
    )
    assert recording_backend.calls == []
    assert "988" in done.text and "911" in done.text
    assert done.triage.needs_review
    assert done.triage.event()["category"] == "self_harm"


@pytest.mark.parametrize(
    ("locale", "number"), [("zh-CN", "120"), ("en-US", "911"), ("de-DE", "112"), (None, "112")]
)
def test_the_emergency_number_follows_the_locale(safety_cache, locale, number):
    text = build_guard(locale).triage("he collapsed and is not breathing").response
    assert f"{number} now" in text or f"{number} 急救" in text


def test_routine_question_reaches_the_model_with_a_checked_reply(guard, recording_backend):
    done = ChatEngine(backend=recording_backend, guard=guard).reply(
        [Message("user", "how can I sleep better?")]
    )
    assert len(recording_backend.calls) == 1
    assert done.text.startswith("Rest and drink fluids.") and "not a diagnosis" in done.text


def test_urgent_turn_answers_with_a_banner(guard, recording_backend):
    done = ChatEngine(backend=recording_backend, guard=guard).reply(
        [Message("user", "I have chest pain when I breathe in")]
    )
    assert len(recording_backend.calls) == 1
    assert done.triage.level == "urgent" and "today" in done.triage.banner


def test_broken_rule_file_is_refused_at_startup_naming_the_line(tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        DEFAULT_RULES.read_text(encoding="utf-8").replace("'\\bheart attack\\b'", "'\\bheart (attack'"),
        encoding="utf-8",
    )
    with pytest.raises(DataError) as err:
        load_rules(bad)
    assert "rules.yaml:" in str(err.value) and "terms.cardiac_direct" in str(err.value)
    with pytest.raises(DataError):
        build_guard(rules_path=bad)


def test_broken_rule_file_fails_closed_when_loaded_lazily(tmp_path, recording_backend):
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: x\nterms: [unclosed\n", encoding="utf-8")
    guard = SafetyGuard(rules_path=bad, use_classifier=False)
    done = ChatEngine(backend=recording_backend, guard=guard).reply(
        [Message("user", "what helps a sore throat?")]
    )
    assert recording_backend.calls == []
    assert done.triage.category == "safety_check_failed" and done.triage.needs_review
    assert "DataError" in done.triage.evidence[0] and "fail-closed" in done.triage.version


def test_a_raising_check_fails_closed(safety_cache, recording_backend):
    def broken(text):
        raise RuntimeError("LLM judge unreachable")

    guard = build_guard(llm_check=broken)
    result = guard.check_input([Message("user", "what helps a sore throat?")], "patient")
    assert result.category == "safety_check_failed" and result.response
    assert "LLM judge unreachable" in result.evidence[0]


def test_a_slow_check_times_out_and_fails_closed(safety_cache):
    def slow(text):
        time.sleep(1.0)

    guard = build_guard(llm_check=slow, time_budget_s=0.2)
    result = guard.check_input([Message("user", "what helps a sore throat?")], "patient")
    assert result.category == "safety_check_failed" and "timed out" in result.evidence[0]


def test_a_failing_output_check_withholds_the_reply(guard, recording_backend, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("policy bug")

    monkeypatch.setattr("chatdoctor.safety.guard.check_reply", boom)
    check = guard.check_output("Take 10 units of insulin.", [Message("user", "how much insulin?")], "patient")
    assert check.changed and "10 units" not in check.text and "output check failed" in check.notes[0]


def test_a_model_can_serve_as_the_third_layer_and_only_raises(safety_cache):
    from chatdoctor.safety.llm import backend_check
    from tests.chatdoctor.safety.conftest import RecordingBackend

    judge = RecordingBackend(reply="self_harm")
    guard = build_guard(llm_check=backend_check(judge))
    result = guard.triage("the grey days never end and I am so done")
    assert (result.level, result.category, result.source) == ("emergency", "self_harm", "llm")
    assert judge.calls and judge.calls[0][0].role == "system"
    assert "llm:" in result.version

    calm = build_guard(llm_check=backend_check(RecordingBackend(reply="routine")))
    assert calm.triage("my husband collapsed and is unresponsive").level == "emergency"
