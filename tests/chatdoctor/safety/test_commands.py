"""``chatdoctor safety triage`` and ``chatdoctor safety scrub``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from chatdoctor.safety.commands import app

runner = CliRunner()


def test_triage_prints_level_category_and_the_fixed_reply(safety_cache):
    result = runner.invoke(app, ["triage", "胸口压榨样疼痛,冒冷汗", "--locale", "zh-CN"])
    assert result.exit_code == 0
    assert (
        "level: emergency" in result.output
        and "category: cardiac" in result.output
        and "120" in result.output
    )


def test_triage_json_carries_the_version_and_the_event(safety_cache):
    result = runner.invoke(app, ["triage", "I want to kill myself", "--json"])
    data = json.loads(result.output)
    assert data["category"] == "self_harm" and data["version"].startswith("rules-")
    assert data["event"]["escalated_to"] == "clinician_review"


def test_scrub_reads_a_file_and_stdin(tmp_path):
    f = tmp_path / "note.txt"
    f.write_text("Hi Sam, call 13800138000", encoding="utf-8")
    assert runner.invoke(app, ["scrub", str(f)]).output == "Hi [NAME], call [PHONE]"
    assert runner.invoke(app, ["scrub", "-"], input="email a@b.co").output == "email [EMAIL]"


def test_scrub_of_a_missing_file_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["scrub", str(tmp_path / "nope.txt")])
    assert result.exit_code != 0 and "cannot read" in str(result.exception)
