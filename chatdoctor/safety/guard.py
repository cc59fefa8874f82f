"""The ``SafetyGuard`` the chat engine calls on every turn: triage in, checks out, both fail closed.

Each check runs under a time budget on a worker thread; an error, a timeout or a broken data file
turns the turn into a flagged one (a fixed reply, ``needs_review``), never into an unchecked answer.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from dataclasses import dataclass, field
from pathlib import Path

from chatdoctor.engine import OutputCheck, TriageResult
from chatdoctor.safety.classifier import Classifier
from chatdoctor.safety.output import Policy, ReplyCheck, check_reply, load_policy
from chatdoctor.safety.responses import Responses, load_responses
from chatdoctor.safety.rules import level_rank, load_rules
from chatdoctor.safety.text import detect_lang
from chatdoctor.safety.triage import Decision, LlmCheck, Triager
from chatdoctor.types import Message

_POOL = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="safety")
CONTEXT_TURNS = 3  # earlier user turns that may complete a red-flag combination with the latest one


@dataclass
class SafetyTriage(TriageResult):
    """A ``TriageResult`` with what the web app stores and shows to clinicians."""

    lang: str = "en"
    source: str = "rules"  # rules | classifier | llm | fail-closed
    needs_review: bool = False  # emergencies, self-harm and failed checks go to the clinician review queue
    scores: dict[str, float] = field(default_factory=dict)

    def event(self) -> dict[str, str] | None:
        """The ``safety_events`` row for this decision (None for routine/self-care)."""
        if self.level not in ("emergency", "urgent") and self.category != "safety_check_failed":
            return None
        kinds = {"self_harm": "self_harm", "safety_check_failed": "check_failed"}
        kind = kinds.get(self.category or "", "emergency" if self.level == "emergency" else "urgent")
        action = "short_circuit" if self.response else ("banner" if self.banner else "flagged")
        return {"category": kind, "detail": self.category or "", "rule_or_model": f"{self.source}:{self.version}",
                "action_taken": action, "escalated_to": "clinician_review" if self.needs_review else ""}  # fmt: skip


class SafetyGuard:
    """Red-flag triage (rules → classifier → optional LLM) and reply checks, localised by ``locale``."""

    def __init__(
        self,
        locale: str | None = None,
        *,
        rules_path: str | Path | None = None,
        responses_path: str | Path | None = None,
        policy_path: str | Path | None = None,
        train_path: str | Path | None = None,
        use_classifier: bool = True,
        llm_check: LlmCheck | None = None,
        time_budget_s: float = 2.0,
    ) -> None:
        self.locale = locale
        self.time_budget_s = time_budget_s
        self._paths = (rules_path, responses_path, policy_path, train_path)
        self._use_classifier = use_classifier
        self._llm_check = llm_check
        self._lock = threading.Lock()
        self.triager: Triager | None = None
        self.responses: Responses | None = None
        self.policy: Policy | None = None

    def load(self) -> SafetyGuard:
        """Load and compile every data file now (raises ``DataError`` naming a broken one)."""
        with self._lock:
            if self.triager is None:
                rules_path, responses_path, policy_path, train_path = self._paths
                rules = load_rules(rules_path)
                self.responses = load_responses(responses_path)
                self.policy = load_policy(policy_path)
                clf = Classifier.train(train_path) if self._use_classifier else None
                self.triager = Triager(rules, clf, self._llm_check)
        return self

    @property
    def version(self) -> str:
        if self.triager is None or self.responses is None or self.policy is None:
            return "not-loaded"
        return f"{self.triager.version}+{self.policy.version}+{self.responses.version}"

    # --- input -------------------------------------------------------------------------------

    def triage(self, text: str) -> SafetyTriage:
        """Triage a single message (CLI, batch evaluation)."""
        return self.check_input([Message("user", text)], "patient")

    def check_input(self, messages: list[Message], audience: str) -> SafetyTriage:
        """Triage the latest user turn (with recent turns for combinations); fails closed."""
        users = [m.content for m in messages if m.role == "user"]
        lang = detect_lang(users[-1]) if users else "en"
        try:
            self.load()
            return _POOL.submit(self._check_input, users, lang).result(timeout=self.time_budget_s)
        except cf.TimeoutError:
            return self._failed(lang, f"timed out after {self.time_budget_s:g}s")
        except Exception as exc:  # fail closed: any error flags the message
            return self._failed(lang, f"{type(exc).__name__}: {exc}")

    def _check_input(self, users: list[str], lang: str) -> SafetyTriage:
        assert self.triager is not None
        if not users:
            return self._result(Decision(), lang)
        decision = self.triager.decide(users[-1])
        if decision.level != "emergency" and len(users) > 1:
            joined = self.triager.decide("\n".join(users[-CONTEXT_TURNS - 1 :]))
            latest_terms = (
                {h.term for h in decision.scan.hits if h.status == "current"} if decision.scan else set()
            )
            combo_terms = (
                {h.term for h in joined.scan.hits if h.status == "current"} if joined.scan else set()
            )
            if joined.level == "emergency" and joined.source == "rules" and latest_terms & combo_terms:
                joined.evidence = [*joined.evidence, "combined with earlier turns"]
                decision = joined
        return self._result(decision, lang)

    def _result(self, d: Decision, lang: str) -> SafetyTriage:
        assert self.responses is not None
        r = self.responses
        response = banner = None
        if d.level == "emergency":
            response = (
                r.self_harm(lang, self.locale)
                if d.category == "self_harm"
                else r.emergency(d.category, lang, self.locale)
            )
        elif d.level == "urgent":
            banner = r.text("urgent_banner", lang, self.locale)
        return SafetyTriage(
            level=d.level,
            category=d.category,
            evidence=d.evidence,
            response=response,
            version=self.version,
            banner=banner,
            lang=lang,
            source=d.source,
            needs_review=d.level == "emergency" or d.category == "self_harm",
            scores=d.scores,
        )

    def _failed(self, lang: str, reason: str) -> SafetyTriage:
        text = (
            self.responses.text("failed", lang, self.locale)
            if self.responses
            else "I could not check this message safely. If this is an emergency, call your local emergency number "
            "now (120 in China, 911 in the US, 112 in Europe). Otherwise please contact a clinician."
        )
        return SafetyTriage(level="urgent", category="safety_check_failed", evidence=[reason], response=text,
                            version=f"{self.version}+fail-closed", lang=lang, source="fail-closed", needs_review=True)  # fmt: skip

    # --- output ------------------------------------------------------------------------------

    def check_output(self, text: str, messages: list[Message], audience: str) -> OutputCheck:
        """Check the model's reply for this audience; fails closed (the reply is withheld)."""
        users = [m.content for m in messages if m.role == "user"]
        try:
            self.load()
            return _POOL.submit(self._check_output, text, users, audience).result(timeout=self.time_budget_s)
        except Exception as exc:
            lang = detect_lang(text or (users[-1] if users else ""))
            failed = self._failed(lang, f"output check: {type(exc).__name__ or 'timeout'}")
            return ReplyCheck(failed.response or "", True, [f"output check failed: {failed.evidence[0]}"], failed.version,
                              [{"category": "output_check_failed", "rule_or_model": failed.version, "action_taken": "withheld"}])  # fmt: skip

    def _check_output(self, text: str, users: list[str], audience: str) -> ReplyCheck:
        assert self.triager is not None and self.policy is not None and self.responses is not None
        self_harm = any(self._is_self_harm(u) for u in users)
        check = check_reply(text, "\n".join(users), audience, self_harm_context=self_harm, policy=self.policy,
                            responses=self.responses, locale=self.locale)  # fmt: skip
        check.version = self.version
        return check

    def _is_self_harm(self, text: str) -> bool:
        assert self.triager is not None
        d = self.triager.decide(text)
        return d.category == "self_harm" and level_rank(d.level) >= level_rank("urgent")


def build_guard(locale: str | None = None, **options) -> SafetyGuard:
    """The guard the CLI and web app use: every data file loaded and checked now."""
    return SafetyGuard(locale, **options).load()
