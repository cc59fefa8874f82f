"""``chatdoctor chat`` driven through stdin, and ``chatdoctor templates``."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import typer
from typer.testing import CliRunner

from chatdoctor.commands import answer_turn, chat, chat_config, templates_app
from chatdoctor.engine import ChatEngine
from chatdoctor.errors import ConfigError
from chatdoctor.templates import get_template, to_jinja
from chatdoctor.types import Delta, GenParams, Message

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_hooks(monkeypatch):
    """Chat without the safety/grounding packages, so these tests see the model's own text."""
    import chatdoctor.engine

    monkeypatch.setattr(chatdoctor.engine, "_optional_hook", lambda module, attr: None)


# Our two commands mounted as chatdoctor.cli mounts them (without importing the other packages' commands).
app = typer.Typer()
app.command("chat")(chat)
app.add_typer(templates_app, name="templates")


def test_scripted_chat_over_the_tiny_model_streams_answers_and_handles_clear_and_exit(
    tiny_llama_dir, llama_backend
):
    script = "hello\nclear\n感冒了怎么办\nexit\nnever read\n"
    args = ["chat", "--backend", "hf", "--model", str(tiny_llama_dir), "--max-new-tokens", "6"]
    result = runner.invoke(app, args, input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "template=llama2" in out and "'clear' resets the history" in out
    assert "History cleared." in out
    first = llama_backend.chat([Message("user", "hello")], GenParams(max_new_tokens=6)).text
    second = llama_backend.chat([Message("user", "感冒了怎么办")], GenParams(max_new_tokens=6)).text
    assert f"ChatDoctor: {first}\n" in out
    assert f"ChatDoctor: {second}\n" in out, "after 'clear' the model sees no earlier turns"
    assert out.count("ChatDoctor: ") == 2 and "never read" not in out


def test_chat_keeps_history_until_clear_and_quits_on_stop(openai_server):
    openai_server.replies = ["Rest.", "Drink water.", "See a doctor."]
    args = ["chat", "--backend", "openai", "--base-url", openai_server.base_url, "--model", "m"]
    args += ["--system", "Be brief: answer in one line."]
    result = runner.invoke(app, args, input="first\nsecond\nclear\nthird\nstop\n")
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if "ChatDoctor: " in line] == [
        "ChatDoctor: Rest.",
        "ChatDoctor: Drink water.",
        "ChatDoctor: See a doctor.",
    ]
    sent = [[(m["role"], m["content"]) for m in r.body["messages"]] for r in openai_server.requests]
    system = ("system", "Be brief: answer in one line.")
    assert sent[1] == [system, ("user", "first"), ("assistant", "Rest."), ("user", "second")]
    assert sent[2] == [system, ("user", "third")]


def test_end_of_input_ends_the_chat_cleanly(openai_server):
    args = ["chat", "--backend", "openai", "--base-url", openai_server.base_url, "--model", "m"]
    result = runner.invoke(app, args, input="hello there\n")
    assert result.exit_code == 0 and "ChatDoctor: You said: hello there" in result.output


def test_a_failing_turn_prints_the_error_and_the_chat_goes_on(openai_server):
    from tests.openai_server import Fault

    openai_server.fail(Fault(status=500))
    args = ["chat", "--backend", "openai", "--base-url", openai_server.base_url, "--model", "m"]
    result = runner.invoke(app, [*args, "--set", "max_retries=0"], input="one\ntwo\nexit\n")
    assert result.exit_code == 0
    assert "HTTP 500" in result.output and "ChatDoctor: You said: two" in result.output


def test_ctrl_c_stops_the_answer_and_keeps_the_partial_text(llama_backend, capsys):
    engine = ChatEngine(llama_backend)

    class CtrlC:
        """Stands in for the user pressing Ctrl-C after the second streamed piece."""

        def stream(self, messages, params, cancel):
            pieces = 0
            for event in engine.stream(messages, params, cancel):
                yield event
                pieces += isinstance(event, Delta) and bool(event.text)
                if pieces == 2:
                    raise KeyboardInterrupt

    kept = answer_turn(CtrlC(), [Message("user", "hello")], GenParams(max_new_tokens=200))
    out = capsys.readouterr().out
    assert "[stopped]" in out and kept and out.split("ChatDoctor: ")[1].startswith(kept)
    assert not any(t.name == "chatdoctor-hf-generate" for t in threading.enumerate())


def test_chat_config_layers_file_then_set_then_flags(tmp_path):
    path = tmp_path / "chat.yaml"
    path.write_text("backend: openai\nmodel: from-file\ntimeout: 5\n", encoding="utf-8")
    cfg = chat_config(path, ["model=from-set", "params.temperature=0.7"], {"base_url": "http://x/v1"}, 64)
    assert (cfg.backend, cfg.model, cfg.timeout, cfg.base_url) == ("openai", "from-set", 5.0, "http://x/v1")
    assert cfg.params.temperature == 0.7 and cfg.params.max_new_tokens == 64
    assert chat_config(path, ["model=from-set"], {"model": "from-flag"}, None).model == "from-flag"
    with pytest.raises(ConfigError, match=r"tempreature.*temperature"):
        chat_config(None, ["params.tempreature=1"], {}, None)


def test_missing_model_exits_2_with_one_line_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    proc = subprocess.run(
        [sys.executable, "-m", "chatdoctor.cli", "chat", "--backend", "hf", "--model", str(missing)],
        input="exit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: model directory not found: {missing} (the hf backend never downloads)"
    ]


def test_templates_list_show_and_export_jinja(tmp_path):
    listed = runner.invoke(app, ["templates", "list"])
    assert listed.exit_code == 0 and all(n in listed.output for n in ("alpaca", "chatglm3", "huatuo"))
    shown = runner.invoke(app, ["templates", "show", "llama2"])
    assert "<<SYS>>\nYou are a careful doctor.\n<</SYS>>" in shown.output
    out = tmp_path / "llama3.jinja"
    exported = runner.invoke(app, ["templates", "export-jinja", "llama3", "-o", str(out)])
    assert (
        exported.exit_code == 0 and out.read_text(encoding="utf-8") == to_jinja(get_template("llama3")) + "\n"
    )
    printed = runner.invoke(app, ["templates", "export-jinja", "glm4"])
    assert printed.output.strip() == to_jinja(get_template("glm4"))


def test_chat_uses_the_installed_guard_and_grounder_and_prints_banners_and_sources(
    monkeypatch, openai_server
):
    import chatdoctor.engine
    from chatdoctor.engine import Grounding, OutputCheck, TriageResult
    from chatdoctor.types import Citation

    class Guard:
        def check_input(self, messages, audience):
            return TriageResult(level="urgent", category="fever", banner="See a doctor today.")

        def check_output(self, text, messages, audience):
            return OutputCheck(text + "\n\nNot a diagnosis.", changed=True)

    class Grounder:
        def ground(self, messages):
            fact = Citation("influenza", "symptom", "fever", source="cmekg", record_id="r7")
            return Grounding(context="influenza causes fever", citations=[fact])

    hooks = {"build_guard": lambda locale=None: Guard(), "build_grounder": lambda cfg: Grounder()}
    monkeypatch.setattr(chatdoctor.engine, "_optional_hook", lambda module, attr: hooks[attr])
    openai_server.replies = ["Rest."]
    args = ["chat", "--backend", "openai", "--base-url", openai_server.base_url, "--model", "m"]
    out = runner.invoke(app, args, input="I have a fever\n").output
    assert "[See a doctor today.]" in out
    assert "ChatDoctor: Rest.\nNot a diagnosis.\n" in out
    assert "Sources:\n  [1] influenza —symptom→ fever (cmekg, r7)" in out
    assert "influenza causes fever" in openai_server.requests[-1].body["messages"][0]["content"]
