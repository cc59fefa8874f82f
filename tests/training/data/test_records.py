"""InstructionRecord and its Alpaca / ShareGPT / JSONL conversions."""

from __future__ import annotations

import pytest

from chatdoctor.records import InstructionRecord, RecordError
from chatdoctor.types import Message

ALPACA = [
    {"instruction": "If you are a doctor, please answer.", "input": "I have a headache.", "output": "Rest."},
    {"instruction": "Say hi", "input": "", "output": "Hi"},
    {
        "instruction": "And now?",
        "input": "",
        "output": "Still fine.",
        "system": "Be brief.",
        "history": [["How are you?", "Fine."], ["Sure?", "Yes."]],
    },
]
SHAREGPT = [
    {
        "conversations": [
            {"from": "human", "value": "q1"},
            {"from": "gpt", "value": "a1"},
            {"from": "human", "value": "q2"},
            {"from": "gpt", "value": "a2"},
        ],
        "system": "sys",
    },
    {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
]


@pytest.mark.parametrize("row", ALPACA)
def test_alpaca_round_trips_exactly(row):
    rec = InstructionRecord.from_alpaca(row)
    assert rec.to_alpaca() == row
    assert InstructionRecord.from_dict(rec.to_dict()).to_alpaca() == row


def test_alpaca_user_turn_is_instruction_newline_input_like_llama_factory():
    rec = InstructionRecord.from_alpaca(ALPACA[0])
    assert rec.messages[0] == Message("user", "If you are a doctor, please answer.\nI have a headache.")
    assert rec.response == "Rest."


def test_alpaca_history_becomes_earlier_turns():
    rec = InstructionRecord.from_alpaca(ALPACA[2])
    assert [m.content for m in rec.messages] == [
        "How are you?",
        "Fine.",
        "Sure?",
        "Yes.",
        "And now?",
        "Still fine.",
    ]
    assert rec.system == "Be brief."


@pytest.mark.parametrize("row", SHAREGPT)
def test_sharegpt_round_trips_exactly(row):
    assert InstructionRecord.from_sharegpt(row).to_sharegpt() == row


def test_sharegpt_leading_system_turn_becomes_the_system_prompt():
    row = {
        "conversations": [
            {"from": "system", "value": "S"},
            {"from": "human", "value": "q"},
            {"from": "gpt", "value": "a"},
        ]
    }
    rec = InstructionRecord.from_sharegpt(row)
    assert rec.system == "S" and len(rec.messages) == 2


def test_jsonl_schema_puts_system_first_in_messages():
    d = InstructionRecord.from_sharegpt(SHAREGPT[0], source="s", id="s-1").to_dict()
    assert d["messages"][0] == {"role": "system", "content": "sys"}
    assert d["id"] == "s-1" and d["source"] == "s"
    assert set(d) == {"id", "source", "messages", "lang", "license", "meta"}


def test_alpaca_to_sharegpt_conversion_keeps_every_turn():
    rec = InstructionRecord.from_alpaca(ALPACA[2])
    back = InstructionRecord.from_sharegpt(rec.to_sharegpt())
    assert back.messages == rec.messages and back.system == rec.system


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"instruction": "q"}, "output"),
        ({"instruction": 3, "output": "a"}, "instruction"),
        ({"instruction": "q", "output": "a", "history": [["only one"]]}, "history"),
    ],
)
def test_bad_alpaca_rows_name_the_field(row, field):
    with pytest.raises(RecordError) as err:
        InstructionRecord.from_alpaca(row)
    assert err.value.field == field


def test_turns_must_alternate_and_end_with_the_assistant():
    with pytest.raises(RecordError, match="expected 'assistant'"):
        InstructionRecord([Message("user", "a"), Message("user", "b")])
    with pytest.raises(RecordError, match="last turn"):
        InstructionRecord([Message("user", "a")])
    with pytest.raises(RecordError, match="tools are not supported"):
        InstructionRecord.from_sharegpt({"conversations": [{"from": "function_call", "value": "x"}]})
