"""Fixtures for the safety layer: one loaded guard per session (classifier cached in a temp dir)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from chatdoctor.backends.base import Backend
from chatdoctor.types import Delta, GenParams, Message


@pytest.fixture(scope="session")
def safety_cache(tmp_path_factory) -> Iterator[str]:
    """A private classifier cache, so tests never read or write the user's."""
    path = str(tmp_path_factory.mktemp("safety_cache"))
    old = os.environ.get("CHATDOCTOR_CACHE_DIR")
    os.environ["CHATDOCTOR_CACHE_DIR"] = path
    yield path
    if old is None:
        os.environ.pop("CHATDOCTOR_CACHE_DIR", None)
    else:
        os.environ["CHATDOCTOR_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def guard(safety_cache):
    """The production guard (rules + classifier), no locale."""
    from chatdoctor.safety import build_guard

    return build_guard()


@pytest.fixture(scope="session")
def guard_zh(safety_cache):
    from chatdoctor.safety import build_guard

    return build_guard("zh-CN")


class RecordingBackend(Backend):
    """A backend that records each call and answers with a fixed reply."""

    name = "recording"

    def __init__(self, reply: str = "Rest and drink fluids.") -> None:
        self.reply = reply
        self.calls: list[list[Message]] = []

    def stream_chat(self, messages: list[Message], params: GenParams, cancel: threading.Event | None = None):
        self.calls.append(list(messages))
        yield Delta(self.reply)
        yield Delta("", finish_reason="stop")


@pytest.fixture
def recording_backend() -> RecordingBackend:
    return RecordingBackend()
