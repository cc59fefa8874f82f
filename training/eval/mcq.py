"""Multiple-choice exams (MedQA, MedMCQA, PubMedQA, CMExam/CMMLU) scored by log-likelihood or by the
generated letter, as lm-evaluation-harness does: ``acc`` and character-length-normalised ``acc_norm``."""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from chatdoctor.errors import DataError
from training.eval.datasets import read_json_records

LETTERS = "ABCDEFGH"


@dataclass
class MCItem:
    id: str
    question: str  # the full prompt up to "Answer:" (without shots)
    choices: list[str]  # continuations scored after the prompt, e.g. " A" or " yes"
    gold: int


def _letters_prompt(q: str, options: list[str], header: str = "") -> str:
    lines = [f"Question: {q}", *([header] if header else [])]
    lines += [f"{LETTERS[i]}. {o}" for i, o in enumerate(options)]
    return "\n".join([*lines, "Answer:"])


def _medqa(rec: dict) -> tuple[str, list[str], int]:
    opts = rec["options"]
    keys = sorted(opts) if isinstance(opts, dict) else LETTERS[: len(opts)]
    options = [opts[k] for k in keys] if isinstance(opts, dict) else list(opts)
    gold = list(keys).index(rec["answer_idx"])
    return _letters_prompt(rec["question"], options), [f" {LETTERS[i]}" for i in range(len(options))], gold


def _medmcqa(rec: dict) -> tuple[str, list[str], int]:
    options = [rec["opa"], rec["opb"], rec["opc"], rec["opd"]]
    cop = int(
        rec["cop"]
    )  # the original release counts 1–4; the HF copy 0–3 (set "cop_base": 0 in the record)
    gold = cop - int(rec.get("cop_base", 1))
    return _letters_prompt(rec["question"], options, "Choices:"), [f" {c}" for c in "ABCD"], gold


def _pubmedqa(rec: dict) -> tuple[str, list[str], int]:
    ctx = rec.get("context") or " ".join(rec.get("CONTEXTS", []))
    q = rec.get("question") or rec["QUESTION"]
    answer = rec.get("answer") or rec["final_decision"]
    labels = ["yes", "no", "maybe"]
    return f"Abstract: {ctx}\nQuestion: {q}\nAnswer:", [f" {x}" for x in labels], labels.index(answer)


_JSON_FORMATS = {"medqa": _medqa, "medmcqa": _medmcqa, "pubmedqa": _pubmedqa}


def _read_cmexam(path: Path) -> list[MCItem]:
    """CMMLU-style CSV (Question,A,B,C,D,Answer) or CMExam CSV (Question,Options,Answer)."""
    items = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row_no, row in enumerate(csv.DictReader(f), 2):
            try:
                if "Options" in row:
                    options = [
                        re.sub(r"^[A-H][\s.、:：]*", "", o).strip()
                        for o in row["Options"].splitlines()
                        if o.strip()
                    ]
                else:
                    options = [row[k] for k in "ABCD" if row.get(k)]
                answer = row["Answer"].strip()[:1]
                gold = LETTERS.index(answer)
                q = row["Question"]
            except (KeyError, ValueError, AttributeError) as exc:
                raise DataError(f"bad exam row ({exc})", path=path, line=row_no) from None
            lines = [
                f"以下是单项选择题，请选出正确答案。\n{q}",
                *(f"{LETTERS[i]}. {o}" for i, o in enumerate(options)),
                "答案：",
            ]
            items.append(
                MCItem(str(row_no), "\n".join(lines), [LETTERS[i] for i in range(len(options))], gold)
            )
    return items


def load_mcq(path: str | Path, fmt: str) -> list[MCItem]:
    path = Path(path)
    if fmt == "cmexam":
        if not path.is_file():
            raise DataError("file not found", path=path)
        return _read_cmexam(path)
    if fmt not in _JSON_FORMATS:
        raise DataError(
            f"unknown exam format {fmt!r}; use one of medqa, medmcqa, pubmedqa, cmexam", path=path
        )
    parse = _JSON_FORMATS[fmt]
    items = []
    for idx, rec in read_json_records(path):
        if (
            fmt == "pubmedqa"
            and isinstance(rec, dict)
            and "QUESTION" not in rec
            and len(rec) > 0
            and all(isinstance(v, dict) for v in rec.values())
        ):
            # ori_pqal.json: one object keyed by PMID
            for pmid, r in rec.items():
                q, ch, g = parse(r)
                items.append(MCItem(pmid, q, ch, g))
            continue
        try:
            q, ch, g = parse(rec)
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"bad {fmt} record ({exc!s})", path=path, line=idx) from None
        items.append(MCItem(str(rec.get("id", idx)), q, ch, g))
    return items


def with_shots(items: list[MCItem], shots: int) -> tuple[list[MCItem], str]:
    """Take the first ``shots`` items as worked examples; return the rest and the prefix."""
    examples = items[:shots]
    prefix = "".join(f"{e.question}{e.choices[e.gold]}\n\n" for e in examples)
    return items[shots:], prefix


def parse_choice(text: str, item: MCItem) -> int | None:
    """The chosen option from generated text, or None when it cannot be read."""
    labels = [c.strip().lower() for c in item.choices]
    t = text.strip().lower()
    for i, lab in enumerate(labels):
        if re.match(rf"^\(?{re.escape(lab)}\b[).:]?", t) or t == lab:
            return i
    m = re.search(r"answer(?: is)?[:\s]*\(?([a-h])\b", t) or re.search(r"答案[是为：:\s]*([a-h])", t)
    if m and m.group(1) in labels:
        return labels.index(m.group(1))
    return None


def loglik_scores(model, tokenizer, context: str, choices: list[str]) -> list[float]:
    """Summed log-probability of each continuation after the context (encoded apart, then joined)."""
    import torch

    ctx_ids = tokenizer(context, add_special_tokens=True)["input_ids"]
    scores = []
    for choice in choices:
        cont_ids = tokenizer(choice, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([ctx_ids + cont_ids], device=model.device)
        with torch.no_grad():
            logits = model(ids).logits[0, :-1].float().log_softmax(-1)
        targets = ids[0, len(ctx_ids) :]
        picked = logits[len(ctx_ids) - 1 :].gather(-1, targets[:, None]).squeeze(-1)
        scores.append(float(picked.sum()))
    return scores


def baselines(items: list[MCItem]) -> dict[str, float]:
    """Chance, always-first-option and majority-label accuracy on this very file (×100)."""
    if not items:
        return {}
    golds = Counter(i.gold for i in items)
    return {
        "chance": 100 * sum(1 / len(i.choices) for i in items) / len(items),
        "always_first": 100 * golds.get(0, 0) / len(items),
        "majority": 100 * golds.most_common(1)[0][1] / len(items),
    }
