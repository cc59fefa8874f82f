"""Adapter to the safety layer's PII scrubber (``chatdoctor.safety.pii.scrub``).

The data builder only needs ``text -> scrubbed text``. When the safety package is not installed the
builder falls back to a small regex scrubber for the machine-detectable HIPAA Safe Harbor kinds
(e-mail, phone, URL, IP, dates, long id numbers) and records which scrubber ran in the manifest.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

_DIGIT = re.compile(r"\d")
_EMAIL_URL = [
    ("[EMAIL]", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("[URL]", re.compile(r"\b(?:https?://|www\.)\S+", re.I)),
]
_NUMERIC = [
    ("[IP]", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
    ("[DATE]", re.compile(r"\b(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{1,2}[-/]\d{1,2}[-/]\d{2,4})\b")),
    ("[ID]", re.compile(r"\b\d{15,18}[\dXx]?\b|\b\d{3}-\d{2}-\d{4}\b")),
    (
        "[PHONE]",
        re.compile(
            r"(?<![\w.])(?:\+?\d{1,3}[\s-]?)?(?:\(?\d{3}\)?[\s.-]?)\d{3}[\s.-]?\d{4}(?![\w.])|\b1[3-9]\d{9}\b"
        ),
    ),
]


def fallback_scrub(text: str) -> str:
    """Replace e-mails, URLs, IPs, dates, id numbers and phone numbers with placeholders."""
    if "@" in text or "http" in text or "www." in text:
        for tag, pattern in _EMAIL_URL:
            text = pattern.sub(tag, text)
    if _DIGIT.search(text):  # the numeric patterns cannot match text without digits
        for tag, pattern in _NUMERIC:
            text = pattern.sub(tag, text)
    return text


def _as_text(result: Any) -> str:
    """Accept ``str``, ``(text, findings)`` or an object with ``.text``."""
    if isinstance(result, str):
        return result
    if isinstance(result, tuple) and result and isinstance(result[0], str):
        return result[0]
    text = getattr(result, "text", None)
    if isinstance(text, str):
        return text
    raise TypeError(f"chatdoctor.safety.pii.scrub returned {type(result).__name__}, expected text")


def get_scrubber() -> tuple[str, Callable[[str], str]]:
    """``(name, scrub)``: the safety layer's scrubber then the regex pass; the regex alone when it is absent."""
    try:
        module = importlib.import_module("chatdoctor.safety.pii")
        scrub = module.scrub
    except (ImportError, AttributeError):
        return "fallback-regex", fallback_scrub
    # the regex pass runs after it too: a miss in either is caught by the other (fail closed)
    return "chatdoctor.safety.pii+regex", lambda text: fallback_scrub(_as_text(scrub(text)))
