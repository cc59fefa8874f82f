"""Medical safety layer: red-flag triage, reply checks and PII scrubbing, versioned and fail-closed.

guard = build_guard("zh-CN")            # the engine's SafetyGuard (CLI and web app)
guard.triage("胸口压榨样疼痛,出冷汗").level   # 'emergency'
scrub("call me on 13812345678").text       # 'call me on [PHONE]'
"""

from chatdoctor.safety.guard import SafetyGuard, SafetyTriage, build_guard
from chatdoctor.safety.output import ReplyCheck
from chatdoctor.safety.pii import ScrubResult, Span, scrub
from chatdoctor.safety.triage import Decision, Triager

__all__ = [
    "Decision",
    "ReplyCheck",
    "SafetyGuard",
    "SafetyTriage",
    "ScrubResult",
    "Span",
    "Triager",
    "build_guard",
    "scrub",
]
