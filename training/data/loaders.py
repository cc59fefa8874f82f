"""Dataset loaders: one function per public instruction set, registered in ``LOADERS``.

A loader takes a local path (and options from the build config) and yields ``InstructionRecord``s,
streaming where the container allows. Malformed input raises ``DataError`` naming the file and line.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chatdoctor.errors import ConfigError, DataError
from chatdoctor.records import InstructionRecord, RecordError
from chatdoctor.registry import Registry
from chatdoctor.types import Message
from training.data.formats import iter_rows, read_records

Loader = Callable[..., Iterator[InstructionRecord]]
LOADERS: Registry[Loader] = Registry("dataset loader")

#: The fixed instruction of every GenMedGPT-5k / HealthCareMagic-100k record (FIELD_NOTES §3.1).
CHATDOCTOR_INSTRUCTION = (
    "If you are a doctor, please answer the medical questions based on the patient's description."
)
LICENSES = {
    "stanford_alpaca": "CC BY-NC 4.0",
    "dolly_15k": "CC BY-SA 3.0",
    "coig": "Apache-2.0",
    "genmedgpt_5k": "research only (ChatDoctor, Apache-2.0 code; ChatGPT-generated)",
    "healthcaremagic_100k": "research only (ChatDoctor)",
    "icliniq": "research only (ChatDoctor)",
    "huatuo_llama_data": "research only (Huatuo, Apache-2.0 code; GPT-3.5-generated)",
    "huatuo_liver_cancer": "research only (Huatuo, Apache-2.0 code; GPT-3.5-generated)",
    "med_chatglm": "research only (Med-ChatGLM, Apache-2.0 code; GPT-3.5-generated)",
    "cmekg": "MIT (CMeKG_tools sample)",
}


def register_loader(name: str) -> Callable[[Loader], Loader]:
    def deco(fn: Loader) -> Loader:
        LOADERS.register(name, fn)
        return fn

    return deco


def load(
    name: str, path: str | Path, *, source: str | None = None, **options: Any
) -> Iterator[InstructionRecord]:
    """Records from ``path`` via loader ``name``; ``source`` defaults to the loader name."""
    loader = LOADERS.get(name)
    try:
        inspect.signature(loader).bind(Path(path), source=source or name, **options)
    except TypeError as exc:
        raise ConfigError(f"loader {name!r} options {sorted(options)}: {exc}") from None
    return loader(Path(path), source=source or name, **options)


def _rows(
    path: Path, source: str, convert: Callable[[dict[str, Any]], InstructionRecord | None]
) -> Iterator[InstructionRecord]:
    """Run ``convert`` on each row, numbering ids and turning schema errors into file:line errors."""
    n = 0
    for line, row in iter_rows(path):
        try:
            rec = convert(row)
        except RecordError as exc:
            raise DataError(str(exc), path=path, line=line, field=exc.field) from None
        if rec is None:
            continue
        rec.source = rec.source or source
        rec.id = rec.id or f"{source}-{n:06d}"
        rec.license = rec.license or LICENSES.get(source)
        n += 1
        yield rec


def _map(row: dict[str, Any], columns: dict[str, str] | None) -> dict[str, Any]:
    """Rename columns (LLaMA-Factory ``columns``: our key → file key)."""
    if not columns:
        return row
    return {**row, **{ours: row.get(theirs) for ours, theirs in columns.items()}}


@register_loader("alpaca")
def load_alpaca(
    path: Path, *, source: str = "alpaca", columns: dict[str, str] | None = None
) -> Iterator[InstructionRecord]:
    """Generic Alpaca ``{instruction, input, output, system?, history?}``; ``columns`` renames fields."""
    return _rows(path, source, lambda r: InstructionRecord.from_alpaca(_map(r, columns)))


@register_loader("sharegpt")
def load_sharegpt(
    path: Path, *, source: str = "sharegpt", columns: dict[str, str] | None = None
) -> Iterator[InstructionRecord]:
    """Generic ShareGPT ``{conversations: [{from, value}], system?}``."""
    return _rows(path, source, lambda r: InstructionRecord.from_sharegpt(_map(r, columns)))


@register_loader("messages")
def load_messages(path: Path, *, source: str = "messages") -> Iterator[InstructionRecord]:
    """Our own schema (what ``data build`` writes)."""
    for rec in read_records(path):
        rec.source = rec.source or source
        yield rec


def _english(source: str) -> Loader:
    def loader(path: Path, *, source: str = source, **kw: Any) -> Iterator[InstructionRecord]:
        for rec in load_alpaca(path, source=source, **kw):
            rec.lang = rec.lang or "en"
            yield rec

    loader.__doc__ = f"{source}: Alpaca-format English records."
    return loader


for _name in ("stanford_alpaca", "genmedgpt_5k", "healthcaremagic_100k", "coig"):
    LOADERS.register(_name, _english(_name))


@register_loader("icliniq")
def load_icliniq(
    path: Path, *, source: str = "icliniq", answer: str = "answer_icliniq"
) -> Iterator[InstructionRecord]:
    """iCliniq ``{input, answer_icliniq, answer_chatgpt, answer_chatdoctor}``; ``answer`` picks the reference."""

    def convert(r: dict[str, Any]) -> InstructionRecord:
        question, reply = r.get("input"), r.get(answer)
        if not isinstance(question, str):
            raise RecordError("missing or not text", "input")
        if not isinstance(reply, str):
            raise RecordError("missing or not text", answer)
        others = {k: v for k, v in r.items() if k.startswith("answer_") and k != answer}
        msgs = [Message("user", f"{CHATDOCTOR_INSTRUCTION}\n{question}"), Message("assistant", reply)]
        return InstructionRecord(msgs, lang="en", meta={"alpaca_input": question, "other_answers": others})

    return _rows(path, source, convert)


@register_loader("dolly_15k")
def load_dolly(path: Path, *, source: str = "dolly_15k") -> Iterator[InstructionRecord]:
    """Databricks Dolly ``{instruction, context, response, category}``."""
    cols = {"input": "context", "output": "response"}
    for rec in load_alpaca(path, source=source, columns=cols):
        rec.lang = "en"
        yield rec


@register_loader("huatuo_llama_data")
def load_huatuo(path: Path, *, source: str = "huatuo_llama_data") -> Iterator[InstructionRecord]:
    """Huatuo ``llama_data.json`` / ``infer.json``: JSON Lines of Alpaca records (``input`` always empty)."""
    for rec in load_alpaca(path, source=source):
        rec.lang = "zh"
        yield rec


_TURN = re.compile(r"\s*<(user|bot)>:\s*")


@register_loader("huatuo_liver_cancer")
def load_liver_cancer(path: Path, *, source: str = "huatuo_liver_cancer") -> Iterator[InstructionRecord]:
    """Huatuo ``liver_cancer.json``: history flattened as ``" <user>: … <bot>: … <user>: …"`` in ``instruction``."""

    def convert(r: dict[str, Any]) -> InstructionRecord:
        flat, output = r.get("instruction"), r.get("output")
        if not isinstance(flat, str):
            raise RecordError("missing or not text", "instruction")
        if not isinstance(output, str):
            raise RecordError("missing or not text", "output")
        parts = _TURN.split(flat)
        if parts[0].strip() or len(parts) < 3:
            raise RecordError("expected ' <user>: ...' turns", "instruction")
        turns = list(zip(parts[1::2], parts[2::2]))
        msgs = [Message("user" if who == "user" else "assistant", text.strip()) for who, text in turns]
        meta = {"upstream_id": r["id"]} if "id" in r else {}
        return InstructionRecord([*msgs, Message("assistant", output)], lang="zh", meta=meta)

    return _rows(path, source, convert)


_MED_CHATGLM = re.compile(r"^问题[：:]\s*(?P<q>.*?)\s*\n回答[：:]\s*$", re.S)


@register_loader("med_chatglm")
def load_med_chatglm(path: Path, *, source: str = "med_chatglm") -> Iterator[InstructionRecord]:
    """Med-ChatGLM ``train.txt``: JSON Lines ``{context: "问题：<q>\\n回答: ", target}``."""

    def convert(r: dict[str, Any]) -> InstructionRecord:
        context, target = r.get("context"), r.get("target")
        if not isinstance(context, str):
            raise RecordError("missing or not text", "context")
        if not isinstance(target, str):
            raise RecordError("missing or not text", "target")
        m = _MED_CHATGLM.match(context)
        question = m["q"] if m else context.strip()
        return InstructionRecord([Message("user", question), Message("assistant", target)], lang="zh")

    return _rows(path, source, convert)


CMEKG_INSTRUCTION = "请从下面的医学文本中抽取所有（主体，关系，客体）三元组，每行一个。"


@register_loader("cmekg")
def load_cmekg(path: Path, *, source: str = "cmekg") -> Iterator[InstructionRecord]:
    """CMeKG relation-extraction samples ``{text, spo_list: [[s, p, o]]}`` → extraction instructions."""

    def convert(r: dict[str, Any]) -> InstructionRecord:
        text, spo = r.get("text"), r.get("spo_list")
        if not isinstance(text, str):
            raise RecordError("missing or not text", "text")
        if not isinstance(spo, list) or any(not isinstance(t, list) or len(t) != 3 for t in spo):
            raise RecordError("expected a list of [subject, predicate, object]", "spo_list")
        answer = "\n".join(f"（{s}，{p}，{o}）" for s, p, o in spo)
        msgs = [Message("user", f"{CMEKG_INSTRUCTION}\n{text}"), Message("assistant", answer)]
        return InstructionRecord(msgs, lang="zh", meta={"alpaca_input": text, "triples": spo})

    return _rows(path, source, convert)


from training.data import kg_instructions  # noqa: E402, F401  (registers the "kg_qa" loader)
