"""Checks on the model's reply: high-risk dosing, definite diagnoses, method/lethality after self-harm, disclaimer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatdoctor.engine import OutputCheck
from chatdoctor.errors import DataError
from chatdoctor.io import load_yaml
from chatdoctor.safety.responses import Responses
from chatdoctor.safety.rules import DATA_DIR
from chatdoctor.safety.text import detect_lang

DEFAULT_POLICY = DATA_DIR / "policy.yaml"
_SENTENCE = re.compile(r"[^.!?。!?\n]+[.!?。!?]*\n?|\n")


@dataclass
class ReplyCheck(OutputCheck):
    """An ``OutputCheck`` that also lists safety events (category, rule_or_model, action_taken)."""

    events: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Policy:
    """Compiled ``policy.yaml``."""

    version: str
    drugs: dict[str, re.Pattern[str]]
    patterns: dict[str, re.Pattern[str]]


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and compile the output policy; a defect raises ``DataError`` naming the field."""
    path = Path(path) if path else DEFAULT_POLICY
    data: dict[str, Any] = load_yaml(path, "policy")
    keys = (
        "dose",
        "paediatric",
        "diagnosis_en",
        "diagnosis_zh",
        "diagnosis_zh_condition",
        "method_lethality",
        "disclaimer_present",
    )
    out: dict[str, re.Pattern[str]] = {}
    for key in (*keys, *(f"high_risk_drugs.{d}" for d in data.get("high_risk_drugs", {}))):
        raw = data.get(key) if "." not in key else data["high_risk_drugs"][key.split(".", 1)[1]]
        try:
            out[key] = re.compile(raw)
        except (re.error, TypeError) as exc:
            raise DataError(f"bad regex: {exc}", path=path, field=key) from None
    drugs = {k.split(".", 1)[1]: v for k, v in out.items() if k.startswith("high_risk_drugs.")}
    if not drugs:
        raise DataError("no high-risk drugs listed", path=path, field="high_risk_drugs")
    return Policy(str(data.get("version", "policy-unversioned")), drugs, {k: out[k] for k in keys})


def _sentences(text: str) -> list[str]:
    return _SENTENCE.findall(text) or [text]


def check_dosing(
    text: str, context: str, audience: str, policy: Policy, responses: Responses, lang: str
) -> tuple[str, list[str]]:
    """Patient: replace sentences that give an individual dose of a high-risk drug (or any child's dose)."""
    p = policy.patterns
    child = bool(p["paediatric"].search(context.lower()))
    flagged: list[str] = []
    out: list[str] = []
    redirected = False
    for sentence in _sentences(text):
        low = sentence.lower()
        if p["dose"].search(low):
            kinds = [k for k, rx in policy.drugs.items() if rx.search(low)]
            if child or p["paediatric"].search(low):
                kinds.append("paediatric")
            if kinds:
                flagged += kinds
                if audience != "clinician":
                    if not redirected:
                        out.append(
                            responses.text("dosing_redirect", lang)
                            + (" " if not sentence.endswith("\n") else "\n")
                        )
                        redirected = True
                    continue
        out.append(sentence)
    if flagged and audience == "clinician":
        out.append("\n\n" + responses.text("dosing_clinician_note", lang))
    return "".join(out).strip(), sorted(set(flagged))


def soften_diagnosis(text: str, policy: Policy, responses: Responses, lang: str) -> tuple[str, int]:
    """Rewrite "you have X" / "你得的是X" as one possibility among others."""
    count = 0

    def en(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        cond = m.group("cond").strip()
        soft = responses.text("soften", "en", condition=cond)
        starts_sentence = m.start() == 0 or text[: m.start()].rstrip()[-1:] in ".!?\n"
        return soft[0].upper() + soft[1:] if starts_sentence else soft

    text = re.sub(policy.patterns["diagnosis_en"].pattern, en, text, flags=re.IGNORECASE)
    zh = re.compile(
        "(?:"
        + policy.patterns["diagnosis_zh"].pattern
        + ")"
        + policy.patterns["diagnosis_zh_condition"].pattern
    )

    def zh_sub(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return responses.text("soften", "zh", condition=m.group("cond"))

    return zh.sub(zh_sub, text), count


def check_reply(
    text: str,
    user_context: str,
    audience: str,
    *,
    self_harm_context: bool,
    policy: Policy,
    responses: Responses,
    locale: str | None,
) -> ReplyCheck:
    """Apply every output check in order; the result says what changed and why."""
    lang = detect_lang(text) if text.strip() else detect_lang(user_context)
    version = policy.version
    if self_harm_context and policy.patterns["method_lethality"].search(text.lower()):
        event = {
            "category": "self_harm",
            "rule_or_model": version,
            "action_taken": "blocked_method_or_lethality",
        }
        return ReplyCheck(
            responses.self_harm(lang, locale),
            True,
            ["blocked method/lethality content after a self-harm context"],
            version,
            [event],
        )
    notes: list[str] = []
    events: list[dict[str, str]] = []
    new, kinds = check_dosing(text, user_context, audience, policy, responses, lang)
    if kinds:
        action = "annotated_verify_before_prescribing" if audience == "clinician" else "redirected_dose"
        notes.append(f"high-risk dosing ({', '.join(kinds)}): {action.replace('_', ' ')}")
        events.append({"category": "dosing", "rule_or_model": version, "action_taken": action})
    new, softened = soften_diagnosis(new, policy, responses, lang)
    if softened:
        notes.append(f"softened {softened} definite diagnosis statement(s)")
    if not policy.patterns["disclaimer_present"].search(new):
        new = (
            f"{new}\n\n{responses.text('disclaimer', lang, locale)}"
            if new
            else responses.text("disclaimer", lang, locale)
        )
        notes.append("disclaimer attached")
    return ReplyCheck(new, new != text, notes, version, events)
