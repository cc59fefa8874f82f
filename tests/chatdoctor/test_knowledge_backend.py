"""The knowledge-only backend: streamed, cited, bilingual answers from lookups alone; the default backend."""

from __future__ import annotations

import re
import threading

import pytest

from chatdoctor.backends import create_backend
from chatdoctor.backends.knowledge import KnowledgeBackend
from chatdoctor.config import ChatConfig
from chatdoctor.engine import ChatEngine, Done, Grounded, build_engine
from chatdoctor.errors import DataError
from chatdoctor.grounding import build_grounder
from chatdoctor.types import Delta, GenParams, Message


@pytest.fixture(scope="module")
def backend() -> KnowledgeBackend:
    return create_backend(ChatConfig())


def stream(backend, text: str, **params) -> list[Delta]:
    return list(backend.stream_chat([Message("user", text)], GenParams(**params)))


def test_knowledge_is_the_default_backend(backend):
    assert ChatConfig().backend == "knowledge"
    assert isinstance(backend, KnowledgeBackend)
    assert backend.describe()["graph"] == "starter"


def test_chinese_question_gets_a_streamed_chinese_answer_with_citations(backend):
    deltas = stream(backend, "最近老流鼻涕怎么办？")
    assert len(deltas) > 20 and deltas[-1].finish_reason == "stop"
    text = "".join(d.text for d in deltas)
    assert text.startswith("根据您描述的流鼻涕，可能的原因包括")
    assert "1. " in text and "感冒" in text and "[1]" in text
    assert "建议就诊科室：呼吸内科" in text and "何时需要尽快就医" in text
    assert "不能代替医生的诊断" in text and "诊断为" not in text


def test_english_question_gets_an_english_answer_that_never_claims_a_diagnosis(backend):
    text = "".join(d.text for d in stream(backend, "I have a fever, cough and headache"))
    assert text.startswith("Based on the fever, cough, headache you describe, possible causes include")
    assert re.search(r"1\. Influenza: fits your fever, cough, headache", text)
    assert "Tests a doctor may consider:" in text and "When to seek care promptly:" in text
    assert "It is not a diagnosis" in text and "you have influenza" not in text.lower()
    assert not re.search(r"[\u4e00-\u9fff]", text)


def test_markers_index_the_grounders_citations(backend):
    messages = [Message("user", "I have a fever, cough and headache")]
    text = backend.chat(messages).text
    citations = build_grounder(ChatConfig()).ground(messages).citations
    numbers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)})
    assert numbers == list(range(1, len(citations) + 1))
    assert citations[0].subject == "Influenza" and citations[0].source == "starter"
    assert citations[0].record_id == "流行性感冒" and citations[0].relation == "has_symptom"


def test_a_direct_question_is_answered_from_the_graph(backend):
    text = backend.chat([Message("user", "痔疮属于哪个科室")]).text
    assert "痔疮通常到以下科室就诊：肛肠科、普通外科。 [1]" in text


def test_symptoms_from_earlier_turns_count_and_later_denials_win(backend):
    one = backend.chat([Message("user", "I have a cough and a sore throat")]).text
    two = backend.chat(
        [
            Message("user", "I have a cough and a sore throat"),
            Message("assistant", one),
            Message("user", "also a high fever and muscle aches"),
        ]
    ).text
    assert "1. Influenza" in two and "1. Influenza" not in one


def test_unknown_text_is_answered_honestly_without_citations(backend):
    text = backend.chat([Message("user", "量子力学是什么？")]).text
    assert "知识图谱中没有" in text and "[1]" not in text


def test_cancel_stops_the_stream_with_abort(backend):
    cancel = threading.Event()
    cancel.set()
    deltas = list(backend.stream_chat([Message("user", "头痛")], GenParams(), cancel))
    assert deltas == [Delta("", "abort")]


def test_token_limit_cuts_the_answer_with_length(backend):
    deltas = stream(backend, "最近老流鼻涕怎么办？", max_new_tokens=10)
    assert deltas[-1].finish_reason == "length" and 0 < len("".join(d.text for d in deltas)) <= 20


def test_through_the_chat_engine_the_answer_streams_with_citations():
    engine = build_engine(ChatConfig())
    events = list(engine.stream([Message("user", "I have a fever, cough and headache")]))
    grounded = next(e for e in events if isinstance(e, Grounded))
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "stop"
    assert sum(isinstance(e, Delta) for e in events) > 20
    assert grounded.citations == done.citations and len(done.citations) >= 5
    assert "[5]" in done.text


def test_engine_without_safety_guard_still_answers_in_chinese():
    engine = ChatEngine(backend=create_backend(ChatConfig()), grounder=build_grounder(ChatConfig()))
    done = engine.reply([Message("user", "我肚子疼，拉肚子，还发烧")])
    assert "1. 急性胃肠炎" in done.text and done.citations[0].subject == "急性胃肠炎"


def test_missing_graph_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"none\.cdkg: no such knowledge-graph file"):
        create_backend(ChatConfig(kg_path=str(tmp_path / "none.cdkg")))
