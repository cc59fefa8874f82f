"""Optional third triage layer: ask a chat model to label the message (it can only raise the level).

    guard = build_guard("en-US", llm_check=backend_check(backend))

Only point this at a model you host, or at a provider with a BAA: the user's message is sent to it.
"""

from __future__ import annotations

import re

from chatdoctor.backends.base import Backend
from chatdoctor.safety.triage import LlmCheck
from chatdoctor.types import GenParams, Message

SYSTEM = (
    "You check messages sent to a medical assistant for danger. Reply with exactly one label: "
    "self_harm (suicidal thoughts, self-injury, wanting to die, even if indirect), "
    "emergency (needs an ambulance now), urgent (needs a doctor today), or routine."
)
_LABELS = {
    "self_harm": ("emergency", "self_harm"),
    "emergency": ("emergency", None),
    "urgent": ("urgent", "urgent_care"),
}


def backend_check(backend: Backend, max_new_tokens: int = 8) -> LlmCheck:
    """An ``llm_check`` that asks ``backend`` for a label; unknown answers count as routine (None)."""

    def check(text: str) -> tuple[str, str | None] | None:
        reply = backend.chat(
            [Message("system", SYSTEM), Message("user", text)],
            GenParams(max_new_tokens=max_new_tokens, temperature=0.0),
        )
        if reply.finish_reason == "error":
            raise RuntimeError(f"LLM check failed: {reply.error}")  # the guard fails closed
        found = re.search(r"self[_ -]?harm|emergency|urgent", reply.text.lower())
        return _LABELS.get(found.group(0).replace(" ", "_").replace("-", "_")) if found else None

    check.version = "llm:" + "/".join(f"{k}={v}" for k, v in sorted(backend.describe().items()))  # type: ignore[attr-defined]
    return check
