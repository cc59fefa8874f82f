"""LLM-generated training data (GenMedGPT-style dialogues, self-instruct items) from the knowledge graph.

For each disease the prompt carries its symptoms, checks and drugs; the model must answer in a strict
JSON shape. Each answer is validated (shape, and it must mention the disease and its facts); rejects
are counted by reason. Requests go through ``CachedChat`` (cache, rate limit, retries, accounting).
"""

from __future__ import annotations

import json
import os
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from chatdoctor.config import to_dict
from chatdoctor.errors import ConfigError
from chatdoctor.io import atomic_write
from chatdoctor.records import InstructionRecord, RecordError
from chatdoctor.types import Message
from knowledge.graph import KnowledgeGraph
from knowledge.schema import Entity, Kind, Rel
from training.data.formats import publish_mode, write_records
from training.data.kg_instructions import load_graph, name_in
from training.data.llm import CachedChat, request_hash

PROMPTS = Path(__file__).parent / "templates" / "generate.yaml"
FACT_RELS = {"symptoms": Rel.HAS_SYMPTOM, "checks": Rel.NEEDS_CHECK, "drugs": Rel.COMMON_DRUG}
NONE = {"en": "none listed", "zh": "无"}


@dataclass
class GenerateConfig:
    """``chatdoctor data generate configs/data/generate.yaml``: which KG, which model, how to behave."""

    kg: str = "builtin:starter"  # KG file/folder (knowledge.importers) or builtin:starter
    kg_format: str = "auto"
    output: str = "outputs/data/generated/dialogues.jsonl"  # records (our schema); report beside it
    mode: str = "dialogue"  # dialogue | self_instruct
    lang: str = "en"  # zh | en: prompt language and entity names
    prompts: str | None = None  # YAML of prompt templates; default training/data/templates/generate.yaml
    seed_tasks: str | None = None  # self_instruct: Alpaca/JSONL file of example instructions
    base_url: str = "http://127.0.0.1:8000/v1"  # any OpenAI-compatible server (OpenAI, vLLM, ...)
    model: str = "gpt-3.5-turbo"
    api_key_env: str = "OPENAI_API_KEY"  # name of the env var holding the key ("EMPTY" when unset)
    temperature: float = 0.7
    max_tokens: int = 1024
    per_disease: int = 1  # variants per disease (sent as different `seed`s)
    limit: int | None = None  # diseases used (first N by key)
    max_facts: int = 8  # facts of each kind given in the prompt
    min_fact_mentions: int = 2  # facts (symptom/check/drug) the output must mention
    concurrency: int = 4  # worker threads
    requests_per_minute: float = 0  # 0: unlimited
    max_retries: int = 5  # per request, on 429/5xx/timeouts/garbage
    backoff: float = 1.0  # first retry delay in seconds (doubles, with jitter)
    timeout: float = 60.0  # seconds per request
    cache_dir: str = "outputs/data/generated/cache"  # request-hash cache; keeps paid answers
    seed: int = 0
    price_prompt_per_1k: float = 0.0  # USD per 1k prompt tokens, for the cost report
    price_completion_per_1k: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("dialogue", "self_instruct"):
            raise ConfigError(f"mode: {self.mode!r} is not 'dialogue' or 'self_instruct'")
        if self.lang not in ("zh", "en"):
            raise ConfigError(f"lang: {self.lang!r} is not 'zh' or 'en'")
        if self.concurrency < 1:
            raise ConfigError("concurrency must be >= 1")


@dataclass
class Task:
    disease: Entity
    name: str
    aliases: list[str]
    facts: dict[str, list[tuple[str, str]]]  # kind → [(display name, node key)]
    variant: int
    body: dict[str, Any] = field(default_factory=dict)


def build_tasks(
    kg: KnowledgeGraph, cfg: GenerateConfig, prompts: dict[str, Any], examples: list[str]
) -> list[Task]:
    spec = prompts[cfg.mode][cfg.lang]
    rng = random.Random(cfg.seed)
    tasks = []
    for ent in sorted(kg.entities(Kind.DISEASE), key=lambda e: e.key)[: cfg.limit]:
        name = name_in(ent, cfg.lang)
        if not name:
            continue
        facts = {kind: _facts(kg, ent, rel, cfg) for kind, rel in FACT_RELS.items()}
        if not facts["symptoms"]:
            continue
        aliases = [a for a in ent.aliases if _script(a) == cfg.lang]
        sep = "、" if cfg.lang == "zh" else ", "
        fill = {kind: sep.join(n for n, _ in f) or NONE[cfg.lang] for kind, f in facts.items()}
        for v in range(cfg.per_disease):
            ex = "; ".join(rng.sample(examples, min(3, len(examples)))) if examples else ""
            try:
                user = spec["user"].format(disease=name, examples=ex, **fill)
            except (KeyError, IndexError) as exc:
                raise ConfigError(
                    f"prompts: {cfg.mode}.{cfg.lang}.user has an unknown placeholder {exc}"
                ) from None
            messages = [{"role": "system", "content": spec["system"]}, {"role": "user", "content": user}]
            body = {
                "model": cfg.model,
                "messages": messages,
                "temperature": cfg.temperature,
                "max_tokens": cfg.max_tokens,
                "seed": cfg.seed + v,
            }
            tasks.append(Task(ent, name, aliases, facts, v, body))
    return tasks


def _facts(kg: KnowledgeGraph, ent: Entity, rel: Rel, cfg: GenerateConfig) -> list[tuple[str, str]]:
    out = []
    for f in kg.facts(ent.key, rel):
        nm = name_in(kg.entity(f.object), cfg.lang)
        if nm:
            out.append((nm, f.object))
    return out[: cfg.max_facts]


def _script(text: str) -> str:
    return "zh" if re.search(r"[\u3400-\u9fff]", text) else "en"


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def parse_output(content: str, mode: str) -> list[InstructionRecord]:
    """The model's JSON → records; raises RecordError naming what is wrong."""
    m = _FENCE.match(content)
    try:
        data = json.loads(m.group(1) if m else content)
    except json.JSONDecodeError:
        raise RecordError("output is not valid JSON", "content") from None
    if not isinstance(data, dict):
        raise RecordError("output is not a JSON object", "content")
    if mode == "dialogue":
        turns = data.get("turns")
        if not isinstance(turns, list) or len(turns) < 2:
            raise RecordError("expected 'turns' with at least 2 items", "turns")
        roles = {"patient": "user", "doctor": "assistant"}
        msgs = []
        for t in turns:
            if not isinstance(t, dict) or t.get("role") not in roles or not isinstance(t.get("content"), str):
                raise RecordError("each turn needs role patient|doctor and text content", "turns")
            msgs.append(Message(roles[t["role"]], t["content"].strip()))  # type: ignore[arg-type]
        return [InstructionRecord(msgs)]
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise RecordError("expected a non-empty 'items' list", "items")
    return [InstructionRecord.from_alpaca(it) if isinstance(it, dict) else _bad_item() for it in items]


def _bad_item() -> InstructionRecord:
    raise RecordError("each item must be an object", "items")


def check_grounding(rec: InstructionRecord, task: Task, min_mentions: int) -> tuple[str | None, list[str]]:
    """``(reason rejected or None, fact keys mentioned)``: the answer must name the disease and its facts."""
    answers = " ".join(m.content for m in rec.messages if m.role == "assistant").casefold()
    text = rec.text().casefold()
    if not any(n.casefold() in answers for n in [task.name, *task.aliases]):
        return "disease_not_mentioned", []
    if any(not m.content.strip() for m in rec.messages):
        return "empty_turn", []
    mentioned = [key for facts in task.facts.values() for nm, key in facts if nm.casefold() in text]
    need = min(min_mentions, sum(len(f) for f in task.facts.values()))
    if len(mentioned) < need:
        return "too_few_facts", mentioned
    return None, mentioned


def _prompts(cfg: GenerateConfig, root: Path) -> dict[str, Any]:
    path = (
        root / cfg.prompts
        if cfg.prompts and not Path(cfg.prompts).is_absolute()
        else Path(cfg.prompts or PROMPTS)
    )
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
        data[cfg.mode][cfg.lang]["user"]
    except FileNotFoundError:
        raise ConfigError(f"prompts: {path} not found") from None
    except (KeyError, TypeError, yaml.YAMLError):
        raise ConfigError(f"prompts: {path} needs {cfg.mode}.{cfg.lang}.system and .user") from None
    return data


def _examples(cfg: GenerateConfig, root: Path) -> list[str]:
    if cfg.mode != "self_instruct" or not cfg.seed_tasks:
        return []
    from training.data.loaders import load

    path = Path(cfg.seed_tasks) if Path(cfg.seed_tasks).is_absolute() else root / cfg.seed_tasks
    return [r.prompt for r in load("alpaca", path)]


def run_generation(
    cfg: GenerateConfig, root: Path, *, kg: KnowledgeGraph | None = None, client: Any = None
) -> dict[str, Any]:
    """Generate, validate and write records; returns the report (also written beside the output)."""
    from openai import OpenAI

    if kg is None:
        kg = load_graph(cfg.kg if cfg.kg.startswith("builtin:") else root / cfg.kg, cfg.kg_format)
    tasks = build_tasks(kg, cfg, _prompts(cfg, root), _examples(cfg, root))
    client = client or OpenAI(
        base_url=cfg.base_url,
        api_key=os.environ.get(cfg.api_key_env) or "EMPTY",
        max_retries=0,
        timeout=cfg.timeout,
    )
    chat = CachedChat(
        client,
        root / cfg.cache_dir,
        per_minute=cfg.requests_per_minute,
        max_retries=cfg.max_retries,
        backoff=cfg.backoff,
    )
    with ThreadPoolExecutor(cfg.concurrency) as pool:
        results = list(
            tqdm(
                pool.map(lambda t: chat.complete(t.body), tasks),
                total=len(tasks),
                desc=f"generate ({cfg.model})",
                unit="req",
            )
        )
    accepted: list[InstructionRecord] = []
    rejected: dict[str, int] = {}
    for task, res in zip(tasks, results):
        if res is None:
            continue
        for rec, reason in _validate(task, res, cfg):
            if reason:
                rejected[reason] = rejected.get(reason, 0) + 1
            else:
                accepted.append(rec)
    for i, rec in enumerate(accepted):
        rec.id = f"generated-{cfg.mode}-{i:06d}"
    out = root / cfg.output
    write_records(out, accepted)
    report = _report(cfg, tasks, results, accepted, rejected, chat)
    with atomic_write(out.with_suffix(".report.json")) as f:
        json.dump(report, f, ensure_ascii=False, indent=2)
    publish_mode(out.with_suffix(".report.json"))
    return report


def _validate(
    task: Task, res: dict[str, Any], cfg: GenerateConfig
) -> list[tuple[InstructionRecord, str | None]]:
    try:
        recs = parse_output(res["content"], cfg.mode)
    except RecordError:
        return [(None, "malformed_output")]  # type: ignore[list-item]
    out = []
    for rec in recs:
        reason, mentioned = check_grounding(rec, task, cfg.min_fact_mentions)
        rec.source, rec.lang = f"generated_{cfg.mode}", cfg.lang
        rec.license = f"generated by {res.get('model') or cfg.model}; check the model's terms"
        rec.meta = {
            "kind": f"generated_{cfg.mode}",
            "disease": task.disease.key,
            "variant": task.variant,
            "facts": [{"subject": task.disease.key, "object": k} for k in mentioned],
            "model": res.get("model"),
            "request_hash": request_hash(task.body),
        }
        out.append((rec, reason))
    return out


def _report(
    cfg: GenerateConfig, tasks: list, results: list, accepted: list, rejected: dict, chat: CachedChat
) -> dict:
    stats = chat.stats.as_dict()
    return {
        "config": to_dict(cfg),
        "diseases": len({t.disease.key for t in tasks}),
        "tasks": len(tasks),
        "answered": sum(r is not None for r in results),
        "unanswered": sum(r is None for r in results),
        "accepted": len(accepted),
        "rejected": dict(sorted(rejected.items())),
        "requests": stats,
        "cost_usd": chat.stats.cost(cfg.price_prompt_per_1k, cfg.price_completion_per_1k),
    }
