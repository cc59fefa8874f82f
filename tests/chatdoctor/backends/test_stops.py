"""Stop strings over streamed text."""

from __future__ import annotations

import pytest

from chatdoctor.backends.stops import StopMatcher


def run(stops, pieces):
    m = StopMatcher(stops)
    out = "".join(m.feed(p) for p in pieces) + m.flush()
    return out, m.stopped


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["Take rest.", "</s>", "ignored"], ("Take rest.", True)),
        (["Take rest.<", "/s", ">more"], ("Take rest.", True)),  # split across pieces
        (["a<", "b"], ("a<b", False)),  # a held-back prefix is released when it is not a stop
        (["no stop here"], ("no stop here", False)),
        (["x### Instruction:y"], ("x", True)),
    ],
)
def test_text_before_the_first_stop_is_emitted_and_the_rest_swallowed(pieces, expected):
    assert run(["</s>", "### Instruction:"], pieces) == expected


def test_a_possible_stop_prefix_is_held_back_until_resolved():
    m = StopMatcher(["<|user|>"])
    assert m.feed("Hello <|us") == "Hello "
    assert m.feed("ed") == "<|used"
