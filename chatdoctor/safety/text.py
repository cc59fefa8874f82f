"""Text plumbing for the safety layer: normalisation, language, clauses and typo repair."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz.distance import OSA

_CJK = re.compile(r"[\u4e00-\u9fff]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_WORD = re.compile(r"[a-z][a-z']*")
#: Clause boundaries: punctuation in both scripts and contrastive conjunctions (negation/history stop there).
_CLAUSE = re.compile(
    r"[.;!?\n。;!?,,、]+|\b(?:but|however|although|though|except|yet|and now|now)\b|但是|但|不过|可是|现在",
)


def normalise(text: str) -> str:
    """NFKC, one kind of apostrophe, lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    return re.sub(r"\s+", " ", text).strip()


def detect_lang(text: str) -> str:
    """``zh`` when the text holds Chinese characters, else ``en``."""
    return "zh" if _CJK.search(text) else "en"


def clause_starts(text: str) -> list[int]:
    """Offsets at which each clause begins (0 first)."""
    starts = [0]
    for m in _CLAUSE.finditer(text):
        # Punctuation closes a clause; a conjunction ("but", "now", "但是") opens the next one.
        starts.append(m.start() if m.group(0)[0].isalpha() else m.end())
    return starts


def clause_of(starts: list[int], pos: int) -> int:
    """Index of the clause that holds character ``pos``."""
    idx = 0
    for i, s in enumerate(starts):
        if s <= pos:
            idx = i
        else:
            break
    return idx


class TypoFixer:
    """Maps misspelt English words onto key terms (``chset`` → ``chest``) with an edit-distance bound."""

    def __init__(self, lexicon: Iterable[str], protected: Iterable[str] = ()) -> None:
        self.lexicon = sorted({w for w in lexicon if len(w) >= 4})
        self.known = set(self.lexicon) | set(protected)
        self._by_first: dict[str, list[str]] = {}
        for w in self.lexicon:
            self._by_first.setdefault(w[0], []).append(w)

    def fix_word(self, word: str) -> str:
        """The closest key term within 1 edit (2 for long words), or the word itself."""
        if len(word) < 4 or word in self.known:
            return word
        limit = 2 if len(word) >= 8 else 1
        best, best_d = word, limit + 1
        # Typos rarely change the first letter; also try all terms for very short candidate lists.
        candidates = self._by_first.get(word[0], []) + self._by_first.get(word[1], [])
        for term in candidates:
            if abs(len(term) - len(word)) > limit:
                continue
            d = OSA.distance(word, term, score_cutoff=limit)
            if d < best_d:
                best, best_d = term, d
        return best if best_d <= limit else word

    def fix(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """Text with misspelt key terms repaired, and the (typo, fix) pairs applied."""
        fixes: list[tuple[str, str]] = []

        def repl(m: re.Match[str]) -> str:
            w = m.group(0)
            fixed = self.fix_word(w)
            if fixed != w:
                fixes.append((w, fixed))
            return fixed

        return _WORD.sub(repl, text), fixes
