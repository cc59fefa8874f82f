"""Typed configuration: YAML, then environment, then key=value overrides, with errors that name the key."""

from __future__ import annotations

import pytest

from chatdoctor.config import ChatConfig, load_config, to_dict
from chatdoctor.errors import ConfigError


def test_yaml_then_env_then_overrides(tmp_path, monkeypatch):
    path = tmp_path / "chat.yaml"
    path.write_text("backend: hf\nmodel: ./a\nparams:\n  max_new_tokens: 64\n", encoding="utf-8")
    monkeypatch.setenv("CHATDOCTOR_MODEL", "./from-env")
    monkeypatch.setenv("CHATDOCTOR_TIMEOUT", "5")
    cfg = load_config(
        ChatConfig, path, ["params.temperature=0.5", "trust_remote_code=yes"], env_prefix="CHATDOCTOR_"
    )
    assert (cfg.backend, cfg.model, cfg.timeout, cfg.trust_remote_code) == ("hf", "./from-env", 5.0, True)
    assert cfg.params.max_new_tokens == 64 and cfg.params.temperature == 0.5
    assert to_dict(cfg)["params"]["temperature"] == 0.5


def test_unknown_key_names_the_file_and_the_closest_key(tmp_path):
    path = tmp_path / "chat.yaml"
    path.write_text("modle: ./a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"chat\.yaml: modle: unknown key \(did you mean 'model'\?\)"):
        load_config(ChatConfig, path)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "chat.yaml"
    path.write_text("backend: hf\nmodel: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"chat\.yaml:\d+: invalid YAML"):
        load_config(ChatConfig, path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("timeout=soon", "timeout: expected float"),
        ("dtype=fp16", "dtype: 'fp16' is not one of"),
        ("audience=doctor", "audience"),
        ("params.temperature=3", "temperature must be within"),
        ("load_in_8bit=maybe", "load_in_8bit: expected true/false"),
        ("max_retries=-1", "max_retries: must be >= 0"),
    ],
)
def test_bad_values_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ChatConfig, None, [override])
