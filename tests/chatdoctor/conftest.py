"""Fixtures for the core library: loaded tiny hf backends (built once per session) and a loopback OpenAI server."""

from __future__ import annotations

import pytest

from tests.openai_server import openai_server  # noqa: F401  (the fixture, reused here)


@pytest.fixture(scope="session")
def llama_backend(tiny_llama_dir):
    """The hf backend over the tiny LLaMA (template inferred: llama2)."""
    from chatdoctor.backends import create_backend
    from chatdoctor.config import ChatConfig

    backend = create_backend(ChatConfig(backend="hf", model=str(tiny_llama_dir), device="cpu"))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def glm_backend(tiny_glm_dir):
    """The hf backend over the tiny native GLM (template inferred: glm4)."""
    from chatdoctor.backends import create_backend
    from chatdoctor.config import ChatConfig

    backend = create_backend(ChatConfig(backend="hf", model=str(tiny_glm_dir), device="cpu"))
    yield backend
    backend.close()
