"""Typed configuration: dataclasses filled from YAML, then environment, then ``key=value`` overrides.

``load_config(ChatConfig, "chat.yaml", ["model=./out", "params.max_new_tokens=256"])`` returns a
validated ``ChatConfig``. Unknown keys raise ``ConfigError`` naming the file, the key and the closest
valid key; values are coerced to the field's type (``"3"`` → 3, ``"true"`` → True) or refused.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from chatdoctor.errors import ConfigError, DataError
from chatdoctor.io import load_yaml
from chatdoctor.types import GenParams

C = TypeVar("C")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if isinstance(value, str) and value.lower() in ("none", "null", "") and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        out = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return out if origin is list else tuple(out)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return tp(value) if tp is float or not isinstance(value, float) else _int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}") from None
    if tp is str:
        if isinstance(value, dict | list):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return str(value)
    if tp is Path:
        return Path(value)
    return value


def _int(value: float) -> int:
    if value != int(value):
        raise ValueError
    return int(value)


def from_dict(cls: type[C], data: dict[str, Any], where: str = "") -> C:
    """Build dataclass ``cls`` from a mapping, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    kwargs = {}
    for key, value in data.items():
        key_where = f"{where}.{key}" if where else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{key_where}: unknown key{hint}")
        kwargs[key] = _coerce(value, hints[key], key_where)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain-data form of a config dataclass (for saving ``config.yaml`` next to outputs)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return plain(obj)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: {part!r} is not a section")
    node[parts[-1]] = value


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` → nested dict; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected key=value")
        value = yaml.safe_load(raw) if raw.strip() else ""
        _set_dotted(out, key.strip().lstrip("-"), value)
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = load_yaml(path, "config") or {}
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def _env_values(cls: type, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for name in names:
        env = f"{prefix}{name.upper()}"
        if env in os.environ:
            out[name] = os.environ[env]
    return out


def load_config(
    cls: type[C],
    path: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    env_prefix: str | None = None,
) -> C:
    """YAML file, then ``{env_prefix}KEY`` environment variables, then overrides."""
    data: dict[str, Any] = read_yaml(path) if path else {}
    if env_prefix:
        data = _merge(data, _env_values(cls, env_prefix))
    if overrides:
        extra = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        data = _merge(data, extra)
    try:
        return from_dict(cls, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None


@dataclasses.dataclass
class ChatConfig:
    """What answers a chat: backend, model and how the conversation is budgeted."""

    backend: str = "knowledge"  # knowledge | hf | openai
    model: str | None = None  # hf: a local model dir; openai: the served model name
    adapter: str | None = None  # hf: a peft adapter dir (LoRA or prefix)
    template: str | None = None  # prompt template; default: read from the model dir, else by family
    base_url: str | None = None  # openai: e.g. http://127.0.0.1:8000/v1
    api_key: str | None = None  # openai: key (env CHATDOCTOR_API_KEY)
    tokenizer: str | None = None  # openai: local tokenizer dir for exact token budgeting
    timeout: float = 60.0  # openai: seconds per request
    max_retries: int = 2  # openai: retries with backoff on connection errors / 5xx / 429
    trust_remote_code: bool = False  # hf: needed for THUDM ChatGLM-6B/2/3 checkpoints
    load_in_8bit: bool = False  # hf: bitsandbytes, GPU only
    load_in_4bit: bool = False  # hf: bitsandbytes NF4, GPU only
    device: str | None = None  # hf: cpu | cuda | cuda:0 (default: cuda when available)
    dtype: str = "auto"  # hf: auto | float32 | float16 | bfloat16
    context_window: int | None = None  # override the model's max positions
    system_prompt: str | None = None  # default: the template's system prompt
    kg_path: str | None = None  # knowledge graph file; default: the bundled starter graph
    audience: str = "patient"  # patient | clinician: safety policy for output checks
    locale: str | None = None  # zh-CN, en-US, de-DE...: emergency number and crisis lines in replies
    params: GenParams = dataclasses.field(default_factory=GenParams)

    def __post_init__(self) -> None:
        if self.load_in_8bit and self.load_in_4bit:
            raise ConfigError("load_in_8bit and load_in_4bit are exclusive")
        if self.audience not in ("patient", "clinician"):
            raise ConfigError(f"audience: {self.audience!r} is not 'patient' or 'clinician'")
        if self.dtype not in ("auto", "float32", "float16", "bfloat16"):
            raise ConfigError(f"dtype: {self.dtype!r} is not one of auto, float32, float16, bfloat16")
        if self.timeout <= 0:
            raise ConfigError(f"timeout: must be > 0 seconds, got {self.timeout}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries: must be >= 0, got {self.max_retries}")
