"""The chat engine over the real tiny LLaMA: token budgeting, fail-closed safety, grounding."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chatdoctor.backends.base import Backend
from chatdoctor.engine import FAIL_CLOSED, ChatEngine, Done, Grounded, Grounding, Notice, OutputCheck, Triage
from chatdoctor.errors import InputTooLong
from chatdoctor.templates import get_template
from chatdoctor.types import Citation, Delta, GenParams, Message

PARAMS = GenParams(max_new_tokens=8)


@dataclass
class Recording(Backend):
    """Passes every call to a real backend and keeps the messages it was asked to answer."""

    inner: Backend
    seen: list[list[Message]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name, self.template_name = self.inner.name, self.inner.template_name

    def stream_chat(self, messages, params, cancel=None):
        self.seen.append(list(messages))
        return self.inner.stream_chat(messages, params, cancel)

    def count_tokens(self, messages):
        return self.inner.count_tokens(messages)

    @property
    def context_window(self):
        return self.inner.context_window


def long_conversation(turns: int) -> list[Message]:
    msgs = [Message("system", "You are a careful doctor. Answer briefly.")]
    for i in range(turns):
        msgs += [
            Message("user", f"Question {i}: I have had a fever, cough and headache for three days."),
            Message("assistant", f"Answer {i}: Rest, drink fluids and take paracetamol for the fever."),
        ]
    return [*msgs, Message("user", "What should I do now?")]


def events(engine: ChatEngine, messages: list[Message]) -> list:
    return list(engine.stream(messages, PARAMS))


def test_budget_drops_oldest_whole_turns_and_keeps_system_prompt_and_latest_turn(llama_backend):
    backend = Recording(llama_backend)
    convo = long_conversation(8)
    full = llama_backend.count_tokens(convo)
    window = full // 2 + PARAMS.max_new_tokens + 16  # room for about half the conversation
    out = events(ChatEngine(backend, context_window=window), convo)
    sent = backend.seen[-1]
    assert sent[0] == convo[0], "the system prompt is never dropped"
    assert sent[-1] == convo[-1], "the latest user turn is never dropped"
    assert sent[1].role == "user" and sent[1:] == convo[len(convo) - len(sent) + 1 :], (
        "drops whole, oldest turns"
    )
    assert llama_backend.count_tokens(sent) <= window - PARAMS.max_new_tokens - 16
    done = out[-1]
    assert isinstance(done, Done) and done.dropped_turns == (len(convo) - len(sent)) // 2 > 0
    notices = [e for e in out if isinstance(e, Notice)]
    assert notices and str(done.dropped_turns) in notices[0].text


def test_budget_keeps_everything_that_fits(llama_backend):
    backend = Recording(llama_backend)
    convo = long_conversation(2)
    out = events(ChatEngine(backend), convo)  # the model's own 512-token window
    assert backend.seen[-1] == convo
    assert not any(isinstance(e, Notice) for e in out)
    assert out[-1].usage.prompt_tokens == llama_backend.count_tokens(convo)


def test_input_too_long_when_even_the_latest_turn_does_not_fit(llama_backend):
    convo = [Message("user", "fever and cough " * 60)]
    with pytest.raises(InputTooLong, match="too long"):
        events(ChatEngine(llama_backend, context_window=64), convo)


class Broken:
    def check_input(self, messages, audience):
        raise RuntimeError("classifier weights missing")

    def check_output(self, text, messages, audience):
        raise RuntimeError("boom")


class PassInput(Broken):
    def check_input(self, messages, audience):
        from chatdoctor.engine import TriageResult

        return TriageResult(level="routine", version="test")


def test_guard_that_raises_on_input_fails_closed_and_the_model_is_never_called(llama_backend):
    backend = Recording(llama_backend)
    out = events(ChatEngine(backend, guard=Broken()), [Message("user", "I have chest pain")])
    assert isinstance(out[0], Triage) and out[0].result is FAIL_CLOSED
    assert out[-1].text == FAIL_CLOSED.response
    assert backend.seen == []


def test_guard_that_raises_on_output_withholds_the_answer(llama_backend):
    out = events(ChatEngine(llama_backend, guard=PassInput()), [Message("user", "I have a cough")])
    streamed = "".join(e.text for e in out if isinstance(e, Delta))
    done = out[-1]
    assert streamed and done.text == FAIL_CLOSED.response and "output check failed" in done.output_notes


class KG:
    citation = Citation("influenza", "symptom", "fever", source="cmekg", record_id="r1")

    def ground(self, messages):
        return Grounding(context="Known facts: influenza causes fever.", citations=[self.citation])


def test_grounding_context_is_added_to_the_system_prompt_with_citations(llama_backend):
    backend = Recording(llama_backend)
    engine = ChatEngine(backend, grounder=KG(), system_prompt="You are a doctor.")
    out = events(engine, [Message("user", "Why do I have a fever?")])
    assert backend.seen[-1][0] == Message(
        "system", "You are a doctor.\n\nKnown facts: influenza causes fever."
    )
    grounded = next(e for e in out if isinstance(e, Grounded))
    assert grounded.citations == [KG.citation] and out[-1].citations == [KG.citation]


def test_grounding_keeps_the_templates_default_system_prompt(tiny_llama_dir):
    from chatdoctor.backends import create_backend
    from chatdoctor.config import ChatConfig

    alpaca = create_backend(ChatConfig(backend="hf", model=str(tiny_llama_dir), template="alpaca"))
    backend = Recording(alpaca)
    events(ChatEngine(backend, grounder=KG()), [Message("user", "Why do I have a fever?")])
    preamble = get_template("alpaca").system
    assert backend.seen[-1][0].content == f"{preamble}\n\nKnown facts: influenza causes fever."
    alpaca.close()


def test_grounder_failure_answers_without_grounding_and_says_so(llama_backend):
    class Down:
        def ground(self, messages):
            raise ConnectionError("kg offline")

    out = events(ChatEngine(llama_backend, grounder=Down()), [Message("user", "hi")])
    assert any(isinstance(e, Notice) and "not grounded" in e.text for e in out)
    assert out[-1].finish_reason in ("stop", "length")


def test_output_check_result_replaces_the_text(llama_backend):
    class Redact(PassInput):
        def check_output(self, text, messages, audience):
            return OutputCheck(
                text="[checked] " + text, changed=True, notes=["added disclaimer"], version="t"
            )

    out = events(ChatEngine(llama_backend, guard=Redact()), [Message("user", "hi")])
    streamed = "".join(e.text for e in out if isinstance(e, Delta))
    assert out[-1].text == "[checked] " + streamed and out[-1].output_notes == ["added disclaimer"]
