"""Building backends by name from a ChatConfig."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chatdoctor.backends import BACKENDS, create_backend
from chatdoctor.config import ChatConfig
from chatdoctor.errors import RegistryError


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(RegistryError, match=r"unknown backend 'vllm'.*hf.*openai"):
        create_backend(ChatConfig(backend="vllm"))


def test_openai_backend_is_built_without_importing_torch(openai_server):
    code = (
        "import sys\n"
        "from chatdoctor.backends import create_backend\n"
        "from chatdoctor.config import ChatConfig\n"
        f"b = create_backend(ChatConfig(backend='openai', base_url='{openai_server.base_url}', model='m'))\n"
        "print(b.chat([{'role': 'user', 'content': 'hi'}]).text, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "You said: hi False"


def test_builtin_backends_register_under_their_names(llama_backend):
    assert {"hf", "openai"} <= set(BACKENDS.names())
