"""Red flags that need numbers, not just words: fever (≥ 38 °C / 100.4 °F) in an infant under 3 months."""

from __future__ import annotations

import re
from collections.abc import Callable

_ZH_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUM = r"(\d+(?:\.\d+)?|[一二两三四五六七八九十]+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_EN_NUM = {
    w: i + 1
    for i, w in enumerate(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    )
}
_AGE_EN = re.compile(_NUM + r"[\s-]*(day|week|wk|month|mo)s?[\s-]*old")
_AGE_EN2 = re.compile(
    r"(?:baby|infant|son|daughter|newborn)\s+(?:is\s+)?(?:only\s+|just\s+)?" + _NUM + r"\s*(day|week|month)s?"
)
_AGE_ZH = re.compile(
    r"(?:(?:出生|满|新生儿|宝宝|婴儿|孩子)(?:才|刚|只有)?\s*" + _NUM + r"\s*(?:个)?(天|周|星期|个月|月))"
    r"|(?:" + _NUM + r"\s*(?:个)?(天|周|星期|个月|月)(?=大|的|宝宝|婴儿|新生儿))"
)
_BABY_ZH = re.compile(r"宝宝|婴儿|新生儿|孩子|小孩|出生|满月|女儿|儿子|闺女")
_NEWBORN = re.compile(
    r"\bnewborn\b|\bneonat\w*|新生儿|新生宝宝|新生|满月|不到(?:三|3)个月|三个月以(?:内|下)|under (?:3|three) months"
)
_TEMP_C = re.compile(r"(?<![\d.])(3[89]|4[0-2])(?:\.(\d))?\s*(?:°\s*c?|℃|度|c\b|degrees|deg)?")
_TEMP_F = re.compile(r"(?<![\d.])(10[0-7])(?:\.(\d))?\s*(?:°\s*)?(?:f\b|fahrenheit)")
_NORMAL_TEMP = re.compile(r"(?<![\d.])3[5-7]\.\d\b|(?<![\d.])(?:9[5-9]|100)(?:\.[0-3])?\s*°?\s*f\b")
_NEGATED_FEVER = re.compile(r"(?:\bno|\bnot|without|n't have a|不|没有?|无)\s*(?:a\s*)?$")
_FEVER_WORD = re.compile(r"\bfever|\bfebrile|\bhigh temperature|发烧|发热|高烧|烧到")
_TEMP_CONTEXT = re.compile(
    r"temperature|reading|reads|\bhot\b|temp\b|fever|thermometer|°|℃|度|体温|发烧|发热|烧"
)


def _number(token: str) -> float:
    if token in _EN_NUM:
        return float(_EN_NUM[token])
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        return float(token)
    if token == "十":
        return 10.0
    if token.startswith("十"):
        return 10.0 + _ZH_NUM.get(token[1:], 0)
    if "十" in token:
        tens, _, ones = token.partition("十")
        return _ZH_NUM.get(tens, 1) * 10.0 + _ZH_NUM.get(ones, 0)
    return float(sum(_ZH_NUM.get(c, 0) for c in token))


def _age_days(text: str) -> float | None:
    """Youngest age mentioned, in days (None when no age is given)."""
    ages = []
    per_unit = {
        "day": 1,
        "天": 1,
        "week": 7,
        "wk": 7,
        "周": 7,
        "星期": 7,
        "month": 30.4,
        "mo": 30.4,
        "个月": 30.4,
        "月": 30.4,
    }
    for rx in (_AGE_EN, _AGE_EN2):
        ages += [_number(m.group(1)) * per_unit[m.group(2)] for m in rx.finditer(text)]
    if _BABY_ZH.search(text):
        for m in _AGE_ZH.finditer(text):
            num, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            ages.append(_number(num) * per_unit[unit])
    if _NEWBORN.search(text):
        ages.append(28.0)
    return min(ages) if ages else None


def _fever(text: str) -> str | None:
    """The evidence of a fever ≥ 38 °C (or ≥ 100.4 °F), or None."""
    for m in _TEMP_F.finditer(text):
        if float(f"{m.group(1)}.{m.group(2) or 0}") >= 100.4:
            return m.group(0).strip()
    for m in _TEMP_C.finditer(text):
        if m.group(2):  # 38.0-42.9 with a decimal: a temperature even without a unit
            return m.group(0).strip()
    if _TEMP_CONTEXT.search(text):
        for m in _TEMP_C.finditer(text):
            # A bare "38" is a temperature only beside a unit or a temperature word.
            if (
                m.group(0).strip() != m.group(1)
                or m.group(2)
                or _TEMP_CONTEXT.search(text[max(0, m.start() - 20) : m.start()])
            ):
                return m.group(0).strip()
    if _NORMAL_TEMP.search(text):
        return None  # a reading below 38 °C was given: the word "fever" alone does not count
    for found in _FEVER_WORD.finditer(text):
        if not _NEGATED_FEVER.search(text[max(0, found.start() - 8) : found.start()]):
            return found.group(0)
    return None


def infant_fever(text: str) -> list[str] | None:
    """Evidence when a baby under 3 months has a fever, else None."""
    age = _age_days(text)
    if age is None or age >= 90:
        return None
    fever = _fever(text)
    return [f"age ≈ {age:.0f} days", fever] if fever else None


#: name (as used by ``detector:`` in rules.yaml) -> function(normalised text) -> evidence or None
DETECTORS: dict[str, Callable[[str], list[str] | None]] = {"infant_fever": infant_fever}
