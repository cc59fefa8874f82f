"""KG grounding for model backends: context in the system prompt plus matching citations."""

from __future__ import annotations

import pytest

from chatdoctor.backends.base import Backend
from chatdoctor.config import ChatConfig
from chatdoctor.engine import ChatEngine, Done
from chatdoctor.grounding import KGGrounder, build_grounder, consult, render_context
from chatdoctor.types import Delta, Message
from knowledge.lookup import KnowledgeBase


class EchoSystem(Backend):
    """A stand-in model that replies with the system prompt it was given (what grounding changed)."""

    name = "echo"

    def stream_chat(self, messages, params, cancel=None):
        yield Delta(messages[0].content if messages[0].role == "system" else "")
        yield Delta("", "stop")


@pytest.fixture(scope="module")
def grounder() -> KGGrounder:
    return build_grounder(ChatConfig(backend="openai"))


def test_grounding_adds_numbered_facts_and_the_same_citations(grounder):
    g = grounder.ground([Message("user", "I have a fever, cough and headache")])
    assert g.context.startswith("Facts from the medical knowledge graph")
    assert "[1] Influenza —has_symptom→" in g.context and "(starter#流行性感冒)" in g.context
    assert len(g.citations) == g.context.count("\n")
    assert g.citations[0].score and g.citations[0].score > g.citations[2].score


def test_chinese_conversation_gets_chinese_context(grounder):
    g = grounder.ground([Message("user", "最近老流鼻涕怎么办？")])
    assert g.context.startswith("以下是知识图谱中") and "流鼻涕" in g.context


def test_nothing_relevant_means_no_context_and_no_citations(grounder):
    g = grounder.ground([Message("user", "Tell me a joke about the weather")])
    assert g.context == "" and g.citations == []


def test_the_engine_puts_the_context_into_the_model_prompt(grounder):
    engine = ChatEngine(backend=EchoSystem(), grounder=grounder, system_prompt="You are a careful doctor.")
    done = engine.reply([Message("user", "痔疮属于哪个科室")])
    assert isinstance(done, Done)
    assert done.text.startswith("You are a careful doctor.\n\n以下是知识图谱中")
    assert "肛肠科" in done.text and done.citations[0].subject == "痔疮"


def test_knowledge_backend_grounder_adds_citations_but_no_context():
    g = build_grounder(ChatConfig()).ground([Message("user", "头痛，恶心，怕光")])
    assert g.context == "" and g.citations and g.citations[0].subject == "偏头痛"


def test_consultation_is_deterministic_and_shared():
    kb = KnowledgeBase.load()
    messages = [Message("user", "尿频尿急尿痛")]
    a, b = consult(kb, messages), consult(kb, messages)
    assert a is b and a.candidates[0].key == "disease:尿路感染"
    numbered = [ln for ln in render_context(a).splitlines() if ln.startswith("[")]
    assert len(numbered) == len(a.citations)
