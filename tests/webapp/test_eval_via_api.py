"""Batch evaluation of a deployed ChatDoctor through its own /v1 endpoint (the official openai client)."""

from __future__ import annotations

import json

import openai

from chatdoctor.backends import create_backend
from chatdoctor.config import ChatConfig
from chatdoctor.types import GenParams
from tests.webapp.routes.test_v1 import api_key
from training.eval.config import SuiteConfig, SystemConfig, TaskConfig
from training.eval.runner import run_suite


def test_eval_through_v1_matches_the_same_backend_called_directly(
    make_app, live_server, shared_data, tmp_path
):
    rows = json.loads((shared_data / "chatdoctor" / "chatdoctor5k.json").read_text(encoding="utf-8"))[:4]
    data = tmp_path / "genmed.json"
    data.write_text(json.dumps(rows), encoding="utf-8")
    app = make_app(create_backend(ChatConfig(backend="knowledge")))
    with live_server(app) as server:
        key = api_key(app)
        served = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key).models.list().data[0].id
        deployed = ChatConfig(backend="openai", base_url=f"{server.url}/v1", api_key=key, model=served)
        suite = SuiteConfig(
            name="via-api",
            out=str(tmp_path / "out"),
            systems=[
                SystemConfig("direct", ChatConfig(backend="knowledge")),
                SystemConfig("deployed", deployed),
            ],
            tasks=[TaskConfig("genmed", "generation", path=str(data))],
            params=GenParams(max_new_tokens=400),
            n_boot=200,
        )
        summary = run_suite(suite)
    out = tmp_path / "out"
    direct = [
        json.loads(x) for x in (out / "direct" / "genmed" / "predictions.jsonl").read_text().splitlines()
    ]
    via_api = [
        json.loads(x) for x in (out / "deployed" / "genmed" / "predictions.jsonl").read_text().splitlines()
    ]
    assert len(via_api) == 4 and all(p["prediction"] for p in via_api)
    # the app in front adds nothing here (no guard or grounder configured): same answers, zero difference
    assert [p["prediction"] for p in via_api] == [p["prediction"] for p in direct]
    diff = summary["tasks"]["genmed"]["comparisons"]["deployed vs direct"]["rouge-1"]
    assert diff["mean"] == 0.0
