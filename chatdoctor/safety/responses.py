"""Fixed safety replies as data (``responses.yaml``): emergency, self-harm, urgent banner, output-check texts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatdoctor.errors import DataError
from chatdoctor.io import load_yaml
from chatdoctor.safety.rules import DATA_DIR

DEFAULT_RESPONSES = DATA_DIR / "responses.yaml"
_REQUIRED = ("version", "emergency_numbers", "crisis_lines", "emergency", "while_waiting", "self_harm", "urgent_banner",
             "failed", "disclaimer", "dosing_redirect", "dosing_clinician_note", "soften")  # fmt: skip


def _country(locale: str | None) -> str | None:
    """``en-US`` → ``us``; ``zh`` → ``cn``; None when unknown."""
    if not locale:
        return None
    loc = locale.lower().replace("_", "-")
    if loc in ("zh", "zh-cn", "zh-hans", "cn"):
        return "cn"
    return loc.split("-")[-1] if "-" in loc else (loc if len(loc) == 2 and loc not in ("en",) else None)


@dataclass
class Responses:
    """Localised safety texts; ``lang`` is ``en`` or ``zh``, ``locale`` picks numbers and crisis lines."""

    data: dict[str, Any]
    path: Path

    @property
    def version(self) -> str:
        return str(self.data["version"])

    def number(self, locale: str | None, lang: str) -> tuple[str, bool]:
        """The emergency number for a locale, and whether it is only a default guess."""
        nums = self.data["emergency_numbers"]
        if locale:
            loc = locale.lower().replace("_", "-")
            for key in (loc, loc.split("-")[0], _country(locale)):
                if key and key in nums:
                    return str(nums[key]), False
        return (str(nums["zh"]), True) if lang == "zh" else (str(nums["default"]), True)

    def _fill(self, text: str, locale: str | None, lang: str) -> str:
        number, guessed = self.number(locale, lang)
        note = self.data["emergency"][lang]["number_note"] if guessed else ""
        lines = self.data["crisis_lines"][lang]
        crisis = lines.get(_country(locale) or "", lines["default"])
        return text.format(number=number, number_note=note, crisis_lines=crisis)

    def emergency(self, category: str | None, lang: str, locale: str | None) -> str:
        """Call-now header, what to do while waiting for this category, footer."""
        e = self.data["emergency"][lang]
        waiting = self.data["while_waiting"][lang]
        body = waiting.get(category or "", waiting["default"])
        return "\n\n".join(self._fill(t, locale, lang) for t in (e["header"], body, e["footer"]))

    def self_harm(self, lang: str, locale: str | None) -> str:
        return self._fill(self.data["self_harm"][lang], locale, lang)

    def text(self, key: str, lang: str, locale: str | None = None, **extra: str) -> str:
        """Any other keyed text (``urgent_banner``, ``failed``, ``disclaimer`` ...), filled in."""
        template = self.data[key][lang]
        if extra:
            template = template.replace("{condition}", extra.get("condition", ""))
        return self._fill(template, locale, lang)


def load_responses(path: str | Path | None = None) -> Responses:
    """Read ``responses.yaml``; a missing key or language raises ``DataError`` naming it."""
    path = Path(path) if path else DEFAULT_RESPONSES
    data = load_yaml(path, "responses")
    if not isinstance(data, dict):
        raise DataError("expected a mapping", path=path)
    for key in _REQUIRED:
        if key not in data:
            raise DataError("missing key", path=path, field=key)
        if key not in ("version", "emergency_numbers") and not all(
            lang in data[key] for lang in ("en", "zh")
        ):
            raise DataError("needs both 'en' and 'zh'", path=path, field=key)
    return Responses(data, path)
