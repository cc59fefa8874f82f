"""Run an evaluation suite: every system answers every task; predictions are saved as they come
(so an interrupted run resumes), then scored and reported."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from chatdoctor.backends.base import Backend
from chatdoctor.config import to_dict
from chatdoctor.io import atomic_write
from chatdoctor.types import GenParams, Message
from training.eval.config import SuiteConfig, SystemConfig, TaskConfig
from training.eval.predictions import PredictionLog

Answer = tuple[str, str, float]  # text, finish_reason, latency in ms


class System:
    """A named way of answering: a bare backend, or the full engine (grounding + safety) as deployed."""

    def __init__(self, cfg: SystemConfig) -> None:
        from chatdoctor.backends import create_backend
        from chatdoctor.engine import build_engine

        self.cfg = cfg
        self.backend: Backend = create_backend(cfg.chat)
        self.engine = build_engine(cfg.chat, self.backend) if cfg.engine else None

    def answer(self, messages: list[Message], params: GenParams) -> Answer:
        started = time.monotonic()
        if self.engine is not None:
            done = self.engine.reply(messages, params)
            text, finish = done.text, done.finish_reason
        else:
            reply = self.backend.chat(messages, params)
            text, finish = reply.text, reply.finish_reason
        return text, finish, (time.monotonic() - started) * 1000

    def close(self) -> None:
        self.backend.close()


def answer_all(
    system: System, items: list, log: PredictionLog, params: GenParams, desc: str, make_record
) -> None:
    """Answer the items not yet in the log, ``system.cfg.workers`` at a time, with a progress bar."""
    todo = [it for it in items if str(it.id) not in log.done]
    lock = threading.Lock()

    def one(item) -> None:
        rec = make_record(item, system.answer(item_messages(item), params))
        with lock:
            log.write(rec)
            bar.update(1)

    with tqdm(total=len(items), initial=len(items) - len(todo), desc=desc, unit="item") as bar:
        if system.cfg.workers <= 1:
            for item in todo:
                one(item)
        else:
            with ThreadPoolExecutor(system.cfg.workers) as pool:
                list(pool.map(one, todo))


def item_messages(item) -> list[Message]:
    return item.messages if hasattr(item, "messages") else [Message("user", item.question)]


def task_params(suite: SuiteConfig, task: TaskConfig) -> GenParams:
    params = replace(suite.params)
    if task.max_new_tokens:
        params.max_new_tokens = task.max_new_tokens
    return params


def run_suite(suite: SuiteConfig, out: Path | None = None) -> dict:
    """Answer, score and report; returns the summary written to ``summary.json``."""
    from training.eval import tasks
    from training.eval.report import write_report

    out = Path(out or suite.out)
    out.mkdir(parents=True, exist_ok=True)
    import yaml

    with atomic_write(out / "config.yaml") as f:
        yaml.safe_dump(to_dict(suite), f, allow_unicode=True, sort_keys=False)
    results: dict[str, dict] = {}
    for sys_cfg in suite.systems:
        system = System(sys_cfg)
        try:
            for task in suite.tasks:
                runner = tasks.TASKS.get(task.type)
                results.setdefault(task.name, {})[sys_cfg.name] = runner(
                    suite, task, system, out / sys_cfg.name / task.name
                )
        finally:
            system.close()
    return write_report(suite, results, out)
