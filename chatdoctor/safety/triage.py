"""Layered red-flag triage: rules (always), then the classifier, then an optional LLM check.

Layers after the rules may only raise the level, never lower it: a rule's emergency stands.
The classifier's thresholds live in ``classifier.yaml``, chosen by grouped cross-validation on the training
set only (``calibrate.py``); never on an evaluation set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from chatdoctor.safety.classifier import LABELS_EMERGENCY, Classifier, Thresholds
from chatdoctor.safety.detectors import DETECTORS
from chatdoctor.safety.rules import RuleSet, Scan, level_rank, scan

SELF_HARM_TERMS = ("self_harm", "self_harm_indirect", "self_harm_cue")
MIN_CONTENT = 4  # CJK characters + English words the classifier needs before it may raise a level

#: An LLM (or any) third check: message text -> (level, category) to raise to, or None.
LlmCheck = Callable[[str], "tuple[str, str | None] | None"]


@dataclass
class Decision:
    """What triage concluded about one message, and which layer said so."""

    level: str = "routine"
    category: str | None = None
    evidence: list[str] = field(default_factory=list)
    source: str = "rules"  # rules | classifier | llm
    scan: Scan | None = None
    scores: dict[str, float] = field(default_factory=dict)

    def raise_to(self, level: str, category: str | None, evidence: list[str], source: str) -> None:
        if level_rank(level) > level_rank(self.level):
            self.level, self.category, self.evidence, self.source = level, category, evidence, source


def rule_decision(rules: RuleSet, text: str) -> Decision:
    """Apply every category's rules; the most severe firing category wins (YAML order breaks ties)."""
    found = scan(rules, text)
    best = Decision(level="routine", scan=found)
    fired_self_care = False
    for cat in rules.categories:
        fired: tuple[str, list[str]] | None = None
        for term in cat.any:
            if hits := found.current(term):
                fired = (cat.level, [h.text for h in hits])
                break
        for combo in cat.all if fired is None else ():
            groups = [found.current(t) for t in combo]
            if all(groups):
                fired = (cat.level, [g[0].text for g in groups])
                break
        if fired is None and cat.detector and (evidence := DETECTORS[cat.detector](found.text)):
            fired = (cat.level, evidence)
        if fired is None:
            urgent = [h.text for t in cat.urgent for h in found.current(t)]
            fired = ("urgent", urgent) if urgent else None
        if fired is None:
            continue
        if fired[0] == "self-care":
            fired_self_care = True
            continue
        best.raise_to(fired[0], cat.name, fired[1], "rules")
    if best.level == "routine" and best.category is None and fired_self_care:
        best.level, best.category = "self-care", "self_care"
        best.evidence = [h.text for t in _self_care_terms(rules) for h in found.current(t)]
    if found.typos and best.evidence:
        best.evidence.append("typos repaired: " + ", ".join(f"{a}→{b}" for a, b in found.typos))
    return best


def _self_care_terms(rules: RuleSet) -> list[str]:
    return [t for c in rules.categories if c.level == "self-care" for t in c.any]


def _content_size(text: str) -> int:
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    return cjk + len(re.findall(r"[a-z]{2,}", text))


class Triager:
    """Runs the layers on a message; ``version`` names the rules and the classifier together."""

    def __init__(
        self, rules: RuleSet, classifier: Classifier | None = None, llm_check: LlmCheck | None = None
    ) -> None:
        self.rules = rules
        self.classifier = classifier
        self.llm_check = llm_check

    @property
    def version(self) -> str:
        parts = [self.rules.version, self.classifier.version if self.classifier else "no-classifier"]
        if self.llm_check is not None:
            parts.append(f"llm:{getattr(self.llm_check, 'version', 'custom')}")
        return "+".join(parts)

    def decide(self, text: str) -> Decision:
        """Triage one message through every layer."""
        decision = rule_decision(self.rules, text)
        if self.classifier is not None and decision.level != "emergency":
            self._classifier_layer(decision, text)
        if self.llm_check is not None and decision.level != "emergency":
            verdict = self.llm_check(text)
            if verdict is not None:
                decision.raise_to(verdict[0], verdict[1], ["LLM check"], "llm")
        return decision

    def _classifier_layer(self, decision: Decision, text: str) -> None:
        # The model reads what the rules read: typos repaired, figures of speech ("笑死", "killing me") removed.
        prepared = decision.scan.text.replace("_", " ") if decision.scan else text
        if _content_size(prepared) < MIN_CONTENT:
            return  # too little text for the model to judge ("我了", "ok")
        pred = self.classifier.predict(prepared)
        th: Thresholds = getattr(self.classifier, "thresholds", None) or Thresholds()
        decision.scores = {k: round(v, 3) for k, v in sorted(pred.probs.items(), key=lambda kv: -kv[1])[:3]}
        self._self_harm(decision, pred.probs.get("self_harm", 0.0), th)
        if pred.label == "infant_fever":
            # Ages and temperatures are numbers the detector reads; the model only knows "baby + fever".
            decision.raise_to(
                "urgent", "urgent_care", [f"classifier infant_fever p={pred.prob:.2f}"], "classifier"
            )
        elif pred.label in LABELS_EMERGENCY and pred.label != "self_harm":
            # The rules already weighed this message: set-aside mentions or their own (lower) verdict on
            # the same category need a more confident model to overrule them.
            weighed = bool(decision.scan.suppressed()) or decision.category == pred.label
            needed = th.emergency_suppressed if weighed else th.emergency
            if pred.prob >= needed:
                decision.raise_to(
                    "emergency", pred.label, [f"classifier {pred.label} p={pred.prob:.2f}"], "classifier"
                )
        elif pred.label == "urgent" and pred.prob >= th.urgent and not decision.scan.suppressed():
            decision.raise_to("urgent", "urgent_care", [f"classifier urgent p={pred.prob:.2f}"], "classifier")

    @staticmethod
    def _self_harm(decision: Decision, prob: float, th: Thresholds) -> None:
        """Raise to a self-harm emergency on the model's self-harm probability alone (not only top label)."""
        suppressed = decision.scan.suppressed() if decision.scan else []
        if any(h.term in SELF_HARM_TERMS for h in suppressed):
            return  # "I'm not suicidal", "I used to self-harm years ago": the rules set it aside on purpose
        # Over-triage when unsure: a weak cue the rules saw ("hopeless", "撑不住") needs only a little support.
        cue = decision.category == "self_harm"
        needed = th.self_harm_cue if cue else (th.emergency_suppressed if suppressed else th.self_harm)
        if prob >= needed:
            # Missing a suicidal message costs far more than an unneeded kind reply.
            decision.raise_to("emergency", "self_harm", [f"classifier self_harm p={prob:.2f}"], "classifier")
