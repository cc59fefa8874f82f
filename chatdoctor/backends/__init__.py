"""Model backends behind one interface (``Backend.stream_chat``); ``create_backend`` builds one from config.

Built-in backends live in their own modules and are imported only when asked for, so choosing the
``openai`` backend never imports torch and ``knowledge`` never loads a model.
"""

from __future__ import annotations

import importlib

from chatdoctor.backends.base import BACKENDS, Backend, register_backend
from chatdoctor.config import ChatConfig
from chatdoctor.errors import BackendUnavailable

#: backend name -> module that registers it
BUILTIN = {
    "hf": "chatdoctor.backends.hf",
    "openai": "chatdoctor.backends.openai_compat",
    "knowledge": "chatdoctor.backends.knowledge",
}


def _import(name: str) -> None:
    module = BUILTIN[name]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise BackendUnavailable(
                f"backend {name!r} is not available in this installation ({module})"
            ) from None
        raise


def create_backend(config: ChatConfig) -> Backend:
    """The backend ``config.backend`` names, built from ``config`` (unknown names list the known ones)."""
    name = config.backend
    if name in BUILTIN and name not in BACKENDS:
        _import(name)
    elif name not in BACKENDS:
        for other in BUILTIN:  # so the error lists every backend there is
            if other not in BACKENDS:
                try:
                    _import(other)
                except BackendUnavailable:
                    continue
    return BACKENDS.get(name)(config)


__all__ = ["BACKENDS", "BUILTIN", "Backend", "create_backend", "register_backend"]
