"""Entity linking from free text, Chinese and English: dictionary match, typo tolerance, negation.

1. Text and every entity name/alias go through one normaliser (``tokens``): NFKC + casefold, English
   words Snowball-stemmed ("headaches" → "headach", "coughing" → "cough"), each CJK character its own
   token, 疼→痛 folded. Punctuation that ends a clause is kept as a token; other symbols are dropped.
2. An Aho-Corasick automaton (pyahocorasick) over the space-joined token strings finds every
   dictionary surface in one pass; padding with spaces keeps matches on token boundaries. Longest match
   wins, left to right; one surface can name several entities (e.g. a symptom and a disease).
3. English words left unmatched are compared with rapidfuzz against the English surfaces ("feaver" →
   fever, "diarhea" → diarrhea); same first letter, a length-dependent cutoff and a stop list keep
   precision.
4. Negation (NegEx-style): a cue ("no", "without", "denies", "n't", 没有, 不, 无, 否认, 不要...) negates the
   mentions that follow it within a small window, skipping list glue ("and", "、", "或") and stopping at
   clause breaks ("but", "。", "但", "I", and commas: "no fever, cough" negates only the fever). A cue inside a matched surface ("睡不着") is not a cue.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick
import snowballstemmer
from rapidfuzz import fuzz, process

from knowledge.graph import KnowledgeGraph
from knowledge.schema import Kind

_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]|[.,;:!?，。；：！？、]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_FOLD = str.maketrans({"疼": "痛"})
_STEM = snowballstemmer.stemmer("english")  # Porter2; light to import (nltk takes seconds)

DEFAULT_KINDS = frozenset(k for k in Kind if k not in (Kind.PRODUCER, Kind.CAUSE))

_ZH_CUES = (
    "没有",
    "没",
    "无",
    "不",
    "未",
    "否认",
    "并无",
    "未见",
    "不要",
    "不能",
    "别",
    "忌",
    "勿",
    "非",
    "不用",
)
_EN_CUES = ("no", "not", "without", "deny", "denies", "denied", "never", "none", "nor", "negative", "free")
_NT_PREFIXES = ("don", "doesn", "didn", "haven", "hasn", "hadn", "isn", "aren", "wasn", "weren", "won", "can")
# Clause breaks end a cue's scope; glue words between a cue and a mention do not count toward its window.
_BREAKS = ". ; ! ? 。 ； ！ ？ ， : ： but however although though except apart yet i my she he it there 但 却 还 而"
_GLUE = "and or 、 和 或 及 与 也 a an the any of signs symptoms has had have feel felt experienced"
_COMMON_WORDS = (
    "a an the and or but if of to in on at by for with from as is are was were be been am do does did "
    "have has had it its he she we you they me my us our your i no not so up out all any can may will "
    "one two hi ok oh re im ive id ill go get got see saw say said day days well"
)
_COMMON = set(_COMMON_WORDS.split())  # never link these as names ("BE" = Barrett's oesophagus elsewhere)
_STOP = set(
    [
        "about",
        "after",
        "again",
        "also",
        "been",
        "before",
        "being",
        "could",
        "does",
        "doing",
        "during",
        "every",
        "from",
        "have",
        "having",
        "into",
        "later",
        "little",
        "maybe",
        "might",
        "much",
        "night",
        "other",
        "really",
        "since",
        "some",
        "still",
        "their",
        "there",
        "these",
        "thing",
        "think",
        "those",
        "three",
        "today",
        "until",
        "very",
        "week",
        "weeks",
        "which",
        "while",
        "would",
        "should",
        "whole",
        "years",
        "yesterday",
        "morning",
        "pain",
    ]
)


def _too_common(surface: str, is_name: bool) -> bool:
    """Surfaces that would match ordinary words: one-letter ones, English stop words ("BE" for Barrett's
    oesophagus), and one-character Chinese aliases (肿, 吐); a one-character Chinese *name* stays."""
    if surface in _COMMON or (len(surface) == 1 and surface.isascii()):
        return True
    return len(surface) == 1 and bool(_CJK.match(surface)) and not is_name


def _char(ch: str) -> str:
    n = unicodedata.normalize("NFKC", ch)
    return (n if len(n) == 1 else ch).casefold()


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _STEM.stemWord(word) if word.isalpha() and len(word) > 3 else word


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Normalised tokens of ``text`` with their character spans in the original."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if len(folded) != len(text):  # NFKC/casefold changed a length (ß → ss, ㎏ → kg): fold char by char
        folded = "".join(_char(c) for c in text)
        if len(folded) != len(text):
            folded = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    folded = folded.translate(_FOLD)
    return [(_stem(m.group()), m.start(), m.end()) for m in _TOKEN.finditer(folded)]


def normalize(text: str) -> str:
    """The matching form of a name or phrase: normalised tokens joined by single spaces."""
    return " ".join(t for t, _, _ in tokens(text))


_ZH_CUE_SET = {normalize(c) for c in _ZH_CUES}
_EN_CUE_SET = {normalize(c) for c in _EN_CUES}
_BREAK_SET = {normalize(w) for w in _BREAKS.split()}
_GLUE_SET = {normalize(w) for w in _GLUE.split()}


@dataclass(frozen=True)
class Mention:
    """An entity named in a text span: ``text[start:end]``."""

    start: int
    end: int
    text: str
    key: str  # graph node key, e.g. "symptom:发热"
    kind: Kind
    score: float  # 1.0 exact name, 0.95 alias, lower for fuzzy matches
    negated: bool = False
    method: str = "exact"  # exact | fuzzy

    @property
    def name(self) -> str:
        return self.key.split(":", 1)[1]


@dataclass
class _Hit:
    i: int  # first token index
    j: int  # last token index (inclusive)
    surface: str
    score: float = 1.0
    method: str = "exact"


class Linker:
    """Finds graph entities in free text; build once per graph (it indexes every name and alias)."""

    def __init__(self, kg: KnowledgeGraph, kinds: Iterable[Kind | str] | None = None, *, fuzzy: bool = True):
        self.kg = kg
        self.kinds = frozenset(Kind(k) for k in kinds) if kinds is not None else DEFAULT_KINDS
        self.fuzzy = fuzzy
        self.surfaces: dict[str, list[tuple[str, Kind, float]]] = {}
        for ent in kg.entities():
            if ent.kind not in self.kinds:
                continue
            for surface, score in self._surfaces(ent.name, ent.names.values(), ent.aliases):
                entries = self.surfaces.setdefault(surface, [])
                if all(k != ent.key for k, _, _ in entries):
                    entries.append((ent.key, ent.kind, score))
        self.automaton = ahocorasick.Automaton()
        for surface in self.surfaces:
            self.automaton.add_word(f" {surface} ", surface)
        if self.surfaces:
            self.automaton.make_automaton()
        self._english: dict[str, list[str]] = {}  # fuzzy candidates by first letter (typos keep it)
        for surface in sorted(self.surfaces):
            if surface[:1].isascii() and surface[:1].isalpha():
                self._english.setdefault(surface[0], []).append(surface)

    @staticmethod
    def _surfaces(name: str, names: Iterable[str], aliases: Iterable[str]) -> Iterable[tuple[str, float]]:
        seen: set[str] = set()
        for raw, score in [(name, 1.0), *((n, 1.0) for n in names), *((a, 0.95) for a in aliases)]:
            s = normalize(raw)
            if s and s not in seen and not _too_common(s, is_name=score == 1.0):
                seen.add(s)
                yield s, score

    def link(self, text: str, kinds: Iterable[Kind | str] | None = None) -> list[Mention]:
        """Mentions in ``text`` ordered by position; negated ones carry ``negated=True``."""
        toks = tokens(text)
        if not toks or not self.surfaces:
            return []
        want = frozenset(Kind(k) for k in kinds) if kinds is not None else self.kinds
        hits = self._exact(toks, want)
        if self.fuzzy:
            hits += self._fuzzy(toks, hits, want)
        hits.sort(key=lambda h: h.i)
        negated = self._negated(toks, hits)
        out: list[Mention] = []
        for h, neg in zip(hits, negated, strict=True):
            start, end = toks[h.i][1], toks[h.j][2]
            for key, kind, score in self.surfaces[h.surface]:
                if kind in want:
                    out.append(
                        Mention(
                            start, end, text[start:end], key, kind, round(score * h.score, 3), neg, h.method
                        )
                    )
        return out

    def _exact(self, toks: list[tuple[str, int, int]], want: frozenset[Kind]) -> list[_Hit]:
        joined, starts, ends = " ", {}, {}
        for idx, (t, _, _) in enumerate(toks):
            starts[len(joined)] = idx
            joined += t
            ends[len(joined) - 1] = idx
            joined += " "
        found = []
        for end, surface in self.automaton.iter(joined):
            if not any(kind in want for _, kind, _ in self.surfaces[surface]):
                continue
            first = end - len(surface)  # pattern " surface " ends at `end`; its first character
            found.append(_Hit(starts[first], ends[end - 1], surface))
        found.sort(key=lambda h: (-(h.j - h.i), h.i))
        taken: set[int] = set()
        chosen = []
        for h in found:  # longest first, then leftmost; no overlaps
            span = set(range(h.i, h.j + 1))
            if not span & taken:
                taken |= span
                chosen.append(h)
        return chosen

    def _fuzzy(self, toks: list[tuple[str, int, int]], hits: list[_Hit], want: frozenset[Kind]) -> list[_Hit]:
        taken = {i for h in hits for i in range(h.i, h.j + 1)}
        out: list[_Hit] = []
        for n in (3, 2, 1):
            for i in range(len(toks) - n + 1):
                span = range(i, i + n)
                words = [toks[k][0] for k in span]
                if any(k in taken for k in span) or not all(w.isascii() and w.isalpha() for w in words):
                    continue
                if n == 1 and (len(words[0]) < 5 or words[0] in _STOP):
                    continue
                query = " ".join(words)
                cutoff = 90 if len(query) <= 6 else 85
                choices = self._english.get(query[0], [])
                best = process.extractOne(query, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
                if best and best[0] != query and any(k in want for _, k, _ in self.surfaces[best[0]]):
                    out.append(_Hit(i, i + n - 1, best[0], round(best[1] / 100 * 0.9, 3), "fuzzy"))
                    taken.update(span)
        return out

    @staticmethod
    def _negated(toks: list[tuple[str, int, int]], hits: list[_Hit]) -> list[bool]:
        inside = {i for h in hits for i in range(h.i, h.j + 1)}
        cues: list[tuple[int, int]] = []  # (last token index of the cue, window)
        for idx, (t, _, _) in enumerate(toks):
            if idx in inside:
                continue
            nxt = idx + 1 < len(toks) and idx + 1 not in inside and _CJK.match(t)
            two = t + toks[idx + 1][0] if nxt else ""
            if two and two in _ZH_CUE_SET:
                cues.append((idx + 1, 4))
            elif t in _ZH_CUE_SET and _CJK.match(t):
                if not (idx > 0 and toks[idx - 1][0] + t in _ZH_CUE_SET):  # second char of a 2-char cue
                    cues.append((idx, 2))
            elif t in _EN_CUE_SET or (t == "t" and idx > 0 and toks[idx - 1][0] in _NT_PREFIXES):
                cues.append((idx, 4))
        result = []
        for h in hits:
            neg = False
            for cue_end, window in cues:
                if cue_end >= h.i:
                    break
                gap = 0
                for k in range(cue_end + 1, h.i):
                    t = toks[k][0]
                    if t in _BREAK_SET:
                        gap = window + 1
                        break
                    if k not in inside and t not in _GLUE_SET:
                        gap += 1
                neg = gap <= window
            result.append(neg)
        return result
