"""LLM-generated dialogues end to end against a real loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import re

import pytest

from chatdoctor.errors import BackendError
from chatdoctor.records import InstructionRecord
from tests.openai_server import Fault, OpenAIServer
from tests.training.data.conftest import DISEASES
from training.data.formats import read_records
from training.data.generate import GenerateConfig, run_generation

PROMPT_RELS = ("has_symptom", "needs_check", "common_drug")
FACTS_EN = {en: [o for r in PROMPT_RELS for _, o in rels.get(r, [])] for (_, en), rels in DISEASES.items()}


def good_reply(body: dict) -> str:
    """A dialogue naming the disease the prompt asks about and two of its facts."""
    prompt = body["messages"][-1]["content"]
    disease = re.search(r"likely cause is (.+?),", prompt).group(1)
    facts = FACTS_EN[disease]
    turns = [
        {"role": "patient", "content": f"Doctor, I have {facts[0]} for three days."},
        {
            "role": "doctor",
            "content": f"This sounds like {disease}. We can check with {facts[-1]}. Please see a clinician.",
        },
    ]
    return json.dumps({"turns": turns})


def config(tmp_path, server: OpenAIServer, **kw) -> GenerateConfig:
    base = dict(
        base_url=server.base_url,
        model="stub-model",
        output="out/dialogues.jsonl",
        cache_dir="cache",
        concurrency=1,
        max_retries=0,
        backoff=0.01,
        timeout=5,
        price_prompt_per_1k=1.0,
        price_completion_per_1k=2.0,
    )
    return GenerateConfig(**{**base, **kw})


def test_generation_writes_validated_dialogues_and_accounts_tokens(tmp_path, kg_small):
    with OpenAIServer(replies=good_reply) as server:
        report = run_generation(config(tmp_path, server, concurrency=3), tmp_path, kg=kg_small)
    records = list(read_records(tmp_path / "out/dialogues.jsonl"))
    assert report["accepted"] == len(records) == 3
    assert len(server.requests) == 3
    assert {r.meta["disease"] for r in records} == {"disease:感冒", "disease:流行性感冒", "disease:偏头痛"}
    cold = next(r for r in records if r.meta["disease"] == "disease:感冒")
    assert cold.messages[0].role == "user" and "Common cold" in cold.response
    assert {f["object"] for f in cold.meta["facts"]} == {"symptom:流鼻涕", "drug:对乙酰氨基酚"}
    req = report["requests"]
    assert req["prompt_tokens"] > 3 * 50 and req["completion_tokens"] > 3 * 10  # as the server reported
    assert report["cost_usd"] == pytest.approx(
        req["prompt_tokens"] / 1000 + req["completion_tokens"] / 1000 * 2
    )
    prompt = server.requests[0].body["messages"][-1]["content"]
    assert "runny nose" in prompt or "fever" in prompt or "headache" in prompt
    saved = json.loads((tmp_path / "out/dialogues.report.json").read_text())
    assert saved["accepted"] == 3


def test_interrupted_run_resumes_from_cache_without_repeating_requests(tmp_path, kg_small):
    with OpenAIServer(replies=good_reply) as server:
        server.fail(Fault(status=500))  # the first request dies: as if the run was cut short there
        first = run_generation(config(tmp_path, server), tmp_path, kg=kg_small)
        assert first["unanswered"] == 1 and first["accepted"] == 2
        sent_before = [json.dumps(r.body, sort_keys=True) for r in server.requests]
        second = run_generation(config(tmp_path, server), tmp_path, kg=kg_small)
    new = [json.dumps(r.body, sort_keys=True) for r in server.requests[len(sent_before) :]]
    assert len(new) == 1 and new[0] == sent_before[0]  # only the failed request is sent again
    assert second["accepted"] == 3 and second["requests"]["cache_hits"] == 2
    assert second["requests"]["cached_prompt_tokens"] == first["requests"]["prompt_tokens"]  # not paid again
    assert 0 < second["requests"]["prompt_tokens"] < first["requests"]["prompt_tokens"]  # one new request
    third = run_generation(config(tmp_path, server), tmp_path, kg=kg_small)
    assert third["requests"]["requests"] == 0 and third["accepted"] == 3
    assert third["requests"]["cached_prompt_tokens"] == (
        first["requests"]["prompt_tokens"] + second["requests"]["prompt_tokens"]
    )


def test_faults_are_retried_with_backoff(tmp_path, kg_small):
    with OpenAIServer(replies=good_reply) as server:
        server.fail(
            Fault(status=429, retry_after=0), Fault(status=500), Fault(delay=1.5), Fault(garbage=True)
        )
        report = run_generation(config(tmp_path, server, max_retries=4, timeout=0.5), tmp_path, kg=kg_small)
    stats = report["requests"]
    assert report["accepted"] == 3 and report["unanswered"] == 0
    assert stats["retries"] == 4 and stats["requests"] == 7
    assert stats["errors"] == {
        "RateLimitError": 1,
        "InternalServerError": 1,
        "APITimeoutError": 1,
        "JSONDecodeError": 1,
    }


def test_malformed_and_ungrounded_outputs_are_rejected_and_counted(tmp_path, kg_small):
    def reply(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        if "Influenza" in prompt:
            return "Sure! Here is a dialogue: patient: hi"
        if "Migraine" in prompt:
            return json.dumps(
                {
                    "turns": [
                        {"role": "patient", "content": "I feel bad"},
                        {"role": "doctor", "content": "Rest and drink water."},
                    ]
                }
            )
        return "```json\n" + good_reply(body) + "\n```"

    with OpenAIServer(replies=reply) as server:
        report = run_generation(config(tmp_path, server), tmp_path, kg=kg_small)
    assert report["accepted"] == 1
    assert report["rejected"] == {"malformed_output": 1, "disease_not_mentioned": 1}


def test_chinese_self_instruct_items_become_records(tmp_path, kg_small):
    def reply(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        name = re.search(r"已知：(.+?)的症状", prompt).group(1)
        facts = [
            z
            for (zh, _), rels in DISEASES.items()
            if zh == name
            for r in PROMPT_RELS
            for z, _ in rels.get(r, [])
        ]
        items = [
            {
                "instruction": f"{name}有什么表现？",
                "input": "",
                "output": f"{name}常见{facts[0]}和{facts[1]}，请就医。",
            }
        ]
        return json.dumps({"items": items}, ensure_ascii=False)

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        "".join(json.dumps({"instruction": f"示例指令{i}", "output": "答"}) + "\n" for i in range(5))
    )
    with OpenAIServer(replies=reply) as server:
        cfg = config(tmp_path, server, mode="self_instruct", lang="zh", seed_tasks=str(seeds))
        report = run_generation(cfg, tmp_path, kg=kg_small)
    records = list(read_records(tmp_path / "out/dialogues.jsonl"))
    assert report["accepted"] == 3
    assert all(isinstance(r, InstructionRecord) and r.lang == "zh" for r in records)
    prompt = server.requests[0].body["messages"][-1]["content"]
    assert "已知：" in prompt and prompt.count("示例指令") == 3  # three seed tasks as examples


def test_a_non_retryable_http_error_stops_with_a_clear_error(tmp_path, kg_small):
    with OpenAIServer(replies=good_reply) as server:
        server.fail(Fault(status=401))
        with pytest.raises(BackendError, match="stub-model: HTTP 401"):
            run_generation(config(tmp_path, server, max_retries=3), tmp_path, kg=kg_small)
    assert len(server.requests) == 1


def prompt_echo_reply(body: dict) -> str:
    """Answer any dialogue prompt with its own disease and first two symptoms."""
    prompt = body["messages"][-1]["content"]
    disease = re.search(r"likely cause is (.+?),", prompt).group(1)
    symptoms = re.search(r"some of these symptoms: (.+?)\.\n", prompt).group(1).split(", ")
    turns = [
        {"role": "patient", "content": f"I have {symptoms[0]} and {symptoms[1]}."},
        {"role": "doctor", "content": f"It may be {disease}; please see a clinician."},
    ]
    return json.dumps({"turns": turns})


def test_generate_command_runs_on_the_starter_graph(tmp_path):
    from typer.testing import CliRunner

    from training.data.commands import app

    with OpenAIServer(replies=prompt_echo_reply) as server:
        cfg = tmp_path / "gen.yaml"
        cfg.write_text(
            f"kg: builtin:starter\nbase_url: {server.base_url}\nmodel: m\nlimit: 4\n"
            f"output: {tmp_path / 'd.jsonl'}\ncache_dir: {tmp_path / 'cache'}\nmax_retries: 0\n"
        )
        result = CliRunner().invoke(app, ["generate", str(cfg), "--set", "concurrency=2"])
    assert result.exit_code == 0, result.output
    assert "accepted 4, rejected 0" in result.output and "requests 4" in result.output
    assert len(list(read_records(tmp_path / "d.jsonl"))) == 4


def test_a_killed_generate_process_resumes_without_resending_answered_requests(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    def slow_reply(body: dict) -> str:
        time.sleep(0.2)
        return prompt_echo_reply(body)

    with OpenAIServer(replies=slow_reply) as server:
        cfg = tmp_path / "gen.yaml"
        cfg.write_text(
            f"kg: builtin:starter\nbase_url: {server.base_url}\nmodel: m\nlimit: 8\nconcurrency: 1\n"
            f"output: {tmp_path / 'd.jsonl'}\ncache_dir: {tmp_path / 'cache'}\nmax_retries: 0\n"
        )
        cmd = [sys.executable, "-m", "chatdoctor.cli", "data", "generate", str(cfg)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(list((tmp_path / "cache").rglob("*.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (tmp_path / "d.jsonl").exists()  # killed before the end: no half-written output
        cached = len(list((tmp_path / "cache").rglob("*.json")))
        sent_before = len(server.requests)
        report = run_generation(
            GenerateConfig(
                kg="builtin:starter",
                base_url=server.base_url,
                model="m",
                limit=8,
                concurrency=1,
                output=str(tmp_path / "d.jsonl"),
                cache_dir=str(tmp_path / "cache"),
                max_retries=0,
            ),
            tmp_path,
        )
    assert 3 <= cached < 8
    assert report["requests"]["cache_hits"] == cached and report["accepted"] == 8
    assert len(server.requests) - sent_before == 8 - cached  # answered requests were not paid for twice
