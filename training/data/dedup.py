"""Exact and near-duplicate detection (MinHash + LSH via ``datasketch``) and n-gram decontamination.

Text is normalised (case-folded, punctuation and spaces removed) and cut into 5-character shingles,
which works for Chinese and English alike. Shingle hashes are a fixed polynomial hash (no Python ``hash``),
so results are identical run to run.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from chatdoctor.records import InstructionRecord

_NON_WORD = re.compile(r"[\W_]+", re.U)
_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalise(text: str) -> str:
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def dedup_text(rec: InstructionRecord, key: str = "conversation") -> str:
    """The text compared for duplicates: user turns only (``prompt``) or every turn (``conversation``)."""
    return "\n".join(m.content for m in rec.messages if key == "conversation" or m.role == "user")


def exact_dedup(
    records: Iterable[InstructionRecord], key: str = "prompt"
) -> Iterator[tuple[InstructionRecord, bool]]:
    """Yield ``(record, is_duplicate)``; the first record with a given normalised key wins."""
    seen: set[bytes] = set()
    for rec in records:
        digest = hashlib.blake2b(normalise(dedup_text(rec, key)).encode(), digest_size=16).digest()
        yield rec, digest in seen
        seen.add(digest)


_PRIME = np.uint64(1_000_003)
_LOW32 = np.uint64(0xFFFFFFFF)


def shingle_hashes(text: str, shingle: int = 5) -> np.ndarray:
    """Distinct 32-bit hashes of the normalised text's ``shingle``-character windows (vectorised)."""
    codes = np.frombuffer(normalise(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < shingle:
        codes = np.pad(codes, (0, shingle - len(codes)))
    n = len(codes) - shingle + 1
    h = np.zeros(n, dtype=np.uint64)
    for j in range(shingle):  # polynomial rolling hash, wrapping mod 2**64
        h = h * _PRIME + codes[j : j + n]
    return np.unique((h ^ (h >> np.uint64(32))) & _LOW32)


def _identity(value: int) -> int:
    return value


class NearDuplicates:
    """Incremental near-duplicate index: ``add(id, text)`` returns the ids it duplicates, if any."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 64) -> None:
        self.threshold = threshold
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, prepickle=False)
        # one MinHash reused for every text: building a fresh one (permutation table) costs more than hashing
        self._m = MinHash(num_perm=num_perm, hashfunc=_identity, scheme="affine32")
        self.hashes: dict[bytes, LeanMinHash] = {}

    def signature(self, text: str) -> LeanMinHash:
        self._m.clear()
        self._m.update_batch(shingle_hashes(text).tolist())  # python ints iterate faster than numpy scalars
        return LeanMinHash(self._m)

    def add(self, key: str, text: str, *, insert_duplicates: bool = False) -> list[str]:
        m = self.signature(text)
        found = sorted(k for k in self.lsh.query(m) if m.jaccard(self.hashes[k]) >= self.threshold)
        if not found or insert_duplicates:
            bkey = key.encode()
            self.lsh.insert(bkey, m, check_duplication=False)
            self.hashes[bkey] = m
        return [k.decode() for k in found]


def near_dedup(
    records: Iterable[InstructionRecord], threshold: float = 0.8, key: str = "conversation"
) -> Iterator[tuple[InstructionRecord, str | None]]:
    """Yield ``(record, id of the earlier record it near-duplicates or None)``."""
    index = NearDuplicates(threshold)
    for i, rec in enumerate(records):
        found = index.add(f"{i}", dedup_text(rec, key))
        yield rec, (found[0] if found else None)


def clusters(
    records: list[InstructionRecord], threshold: float = 0.7, key: str = "conversation"
) -> list[int]:
    """Cluster label per record: records linked by near-duplicate chains share a label (union-find)."""
    parent = np.arange(len(records))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    index = NearDuplicates(threshold)
    for i, rec in enumerate(records):
        for other in index.add(str(i), dedup_text(rec, key), insert_duplicates=True):
            a, b = root(i), root(int(other))
            parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(records))]


def ngrams(text: str, n: int, n_cjk: int) -> set[int]:
    """Hashed n-grams of English words (length ``n``) and of CJK characters (length ``n_cjk``)."""
    norm = unicodedata.normalize("NFKC", text).casefold()
    words = _WORD.findall(norm)
    chars = _CJK.findall(norm)
    out = {hash(("w", *words[i : i + n])) for i in range(len(words) - n + 1)}
    out |= {hash("".join(chars[i : i + n_cjk])) for i in range(len(chars) - n_cjk + 1)}
    return out


def content_text(rec: InstructionRecord) -> str:
    """Every turn, with a fixed Alpaca instruction dropped when the record kept its ``input`` apart."""
    kept = rec.meta.get("alpaca_input")
    parts = [m.content for m in rec.messages[:-2]]
    parts.append(kept if kept and rec.prompt.endswith(kept) else rec.prompt)
    parts.append(rec.response)
    return "\n".join(parts)


class Decontaminator:
    """Flags records sharing any n-gram with an evaluation set (13 words / 30 CJK characters by default).

    N-grams found in more than 1% of the evaluation records (and at least 5) are template text, such as
    ChatDoctor's fixed instruction, and are ignored: matching on them would flag every record.
    """

    def __init__(self, eval_texts: Iterable[str], n: int = 13, n_cjk: int = 30) -> None:
        self.n, self.n_cjk = n, n_cjk
        df: Counter[int] = Counter()
        docs = 0
        for text in eval_texts:
            df.update(ngrams(text, n, n_cjk))
            docs += 1
        limit = max(5, docs // 100)
        self.grams: set[int] = {g for g, c in df.items() if c <= limit}
        self.template_grams = len(df) - len(self.grams)

    def contaminated(self, rec: InstructionRecord) -> bool:
        return not self.grams.isdisjoint(ngrams(content_text(rec), self.n, self.n_cjk))
