"""Versioned red-flag rules: load and validate ``rules.yaml``, find term hits with their context.

A *hit* is one match of a term pattern; its ``status`` says whether it describes the present
(``current``) or is negated ("no chest pain", "没有胸痛"), historical ("went away last year") or
informational ("signs of a stroke"). Only current hits fire a category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chatdoctor.errors import DataError
from chatdoctor.io import load_yaml
from chatdoctor.safety.text import TypoFixer, clause_starts, normalise

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_RULES = DATA_DIR / "rules.yaml"
LEVELS = ("self-care", "routine", "urgent", "emergency")  # ascending severity
_CONTEXT_KEYS = (
    "negation_en",
    "negation_zh",
    "pseudo_negation",
    "historical",
    "informational_before",
    "informational_after",
    "informational_clause",
    "present",
    "historical_after",
    "idioms",
)


def level_rank(level: str) -> int:
    """Severity order: self-care < routine < urgent < emergency."""
    return LEVELS.index(level)


@dataclass(frozen=True)
class Category:
    """One red-flag category: which terms fire it, alone or in combination, and at what level."""

    name: str
    level: str
    any: tuple[str, ...] = ()
    all: tuple[tuple[str, ...], ...] = ()
    urgent: tuple[str, ...] = ()
    detector: str | None = None


@dataclass
class RuleSet:
    """Compiled rules from one YAML file."""

    version: str
    path: Path
    terms: dict[str, list[re.Pattern[str]]]
    categories: list[Category]
    context: dict[str, re.Pattern[str]]
    windows: dict[str, int]
    typos: TypoFixer


@dataclass(frozen=True)
class Hit:
    """One term match in the normalised text."""

    term: str
    text: str
    start: int
    end: int
    status: str = "current"  # current | negated | historical | informational


@dataclass
class Scan:
    """The normalised text and every term hit found in it."""

    text: str
    hits: list[Hit] = field(default_factory=list)
    typos: list[tuple[str, str]] = field(default_factory=list)

    def current(self, term: str) -> list[Hit]:
        return [h for h in self.hits if h.term == term and h.status == "current"]

    def suppressed(self) -> list[Hit]:
        return [h for h in self.hits if h.status != "current"]


def _line_of(node: yaml.Node | None, *keys: str) -> int | None:
    """1-based line of the YAML node at ``keys`` (for error messages)."""
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    return node.start_mark.line + 1 if node is not None else None


def _compile(pattern: Any, path: Path, root: yaml.Node, *where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise DataError(
            "expected a non-empty regex string",
            path=path,
            line=_line_of(root, *where[:2]),
            field=".".join(where),
        )
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise DataError(
            f"bad regex: {exc}", path=path, line=_line_of(root, *where[:2]), field=".".join(where)
        ) from None


def _category(name: str, spec: Any, terms: dict[str, Any], path: Path, root: yaml.Node) -> Category:
    line = _line_of(root, "categories", name)
    if not isinstance(spec, dict) or spec.get("level") not in LEVELS:
        raise DataError(f"needs 'level' one of {LEVELS}", path=path, line=line, field=f"categories.{name}")
    unknown = set(spec) - {"level", "any", "all", "urgent", "detector"}
    if unknown:
        raise DataError(f"unknown keys {sorted(unknown)}", path=path, line=line, field=f"categories.{name}")
    combos = tuple(tuple(c) for c in spec.get("all", []))
    used = [*spec.get("any", []), *spec.get("urgent", []), *(t for c in combos for t in c)]
    missing = [t for t in used if t not in terms]
    if missing:
        raise DataError(f"unknown terms {missing}", path=path, line=line, field=f"categories.{name}")
    return Category(
        name=name,
        level=spec["level"],
        any=tuple(spec.get("any", [])),
        all=combos,
        urgent=tuple(spec.get("urgent", [])),
        detector=spec.get("detector"),
    )


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Read and compile a rules file; any defect raises ``DataError`` naming the file, line and field."""
    path = Path(path) if path else DEFAULT_RULES
    data = load_yaml(path, "rules")
    root = yaml.compose(path.read_text(encoding="utf-8"))  # parsed above, so this cannot fail: node lines
    if not isinstance(data, dict):
        raise DataError("expected a mapping at the top level", path=path)
    for key in ("version", "terms", "categories", "context"):
        if key not in data:
            raise DataError("missing key", path=path, field=key)
    terms = {
        name: [_compile(p, path, root, "terms", name) for p in (pats or [])]
        for name, pats in data["terms"].items()
    }
    categories = [_category(n, s, terms, path, root) for n, s in data["categories"].items()]
    ctx = data["context"]
    context = {k: _compile(ctx.get(k), path, root, "context", k) for k in _CONTEXT_KEYS}
    windows = {"en": int(ctx.get("negation_window_en", 6)), "zh": int(ctx.get("negation_window_zh", 4))}
    typos = TypoFixer(data.get("key_terms", []), protected=data.get("protected", []))
    return RuleSet(str(data["version"]), path, terms, categories, context, windows, typos)


def _mask(text: str, pattern: re.Pattern[str]) -> str:
    """Replace matches with underscores of the same length (offsets stay valid)."""
    return pattern.sub(lambda m: "_" * len(m.group(0)), text)


def _status(
    rules: RuleSet, text: str, masked: str, starts: list[int], start: int, end: int, present: bool
) -> str:
    ctx = rules.context
    ci = max(i for i, s in enumerate(starts) if s <= start)
    cstart = starts[ci]
    cend = starts[ci + 1] if ci + 1 < len(starts) else len(text)
    before = masked[cstart:start]
    clause = text[cstart:cend]
    cues = list(ctx["negation_en"].finditer(before))
    if cues and len(before[cues[-1].end() :].split()) <= rules.windows["en"]:
        return "negated"
    if ctx["negation_zh"].search(before[-rules.windows["zh"] :]) or ctx["negation_zh"].search(
        masked[start:end]
    ):
        return (
            "negated"  # Chinese patterns have gaps ("喉咙.{0,3}肿"): a cue inside ("喉咙都没肿") negates too
        )
    past = ctx["historical"].search(clause) or ctx["historical_after"].search(text[end:cend])
    if past and not ctx["present"].search(clause):
        return "historical"
    if not present and (
        ctx["informational_before"].search(text[cstart:start])
        or ctx["informational_after"].search(text[end:cend])
        or ctx["informational_clause"].search(text)  # "…, just asking for the future" frames every clause
    ):
        return "informational"
    return "current"


def scan(rules: RuleSet, message: str) -> Scan:
    """Normalise, repair typos, drop idioms, and find every term hit with its status."""
    text, typos = rules.typos.fix(normalise(message))
    text = _mask(text, rules.context["idioms"])
    masked = _mask(text, rules.context["pseudo_negation"])
    starts = clause_starts(text)
    present = bool(rules.context["present"].search(text))
    hits = []
    for term, patterns in rules.terms.items():
        for pattern in patterns:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    status = _status(rules, text, masked, starts, m.start(), m.end(), present)
                    hits.append(Hit(term, m.group(0).strip(), m.start(), m.end(), status))
    return Scan(text, hits, typos)
