"""What every importer shares: the registry, the import report, encoding detection and streaming readers."""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from chatdoctor.errors import DataError
from chatdoctor.registry import Registry
from knowledge.clean import Cleaner
from knowledge.graph import KnowledgeGraph
from knowledge.schema import Source

SAMPLE_BYTES = 1 << 16
_CHINESE_CODECS = {"gb2312", "gbk", "gb18030", "cp936", "hz", "big5", "big5hkscs"}


@dataclass
class ImportReport:
    """Records read / imported / skipped (with reasons) and values cleaned, for one input file."""

    path: str
    format: str
    source: str
    encoding: str = ""
    read: int = 0
    imported: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    cleaned: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, where: str = "") -> None:
        self.skipped[reason] += 1
        self._example(reason, where)

    def clean(self, reason: str, value: str, where: str = "") -> None:
        self.cleaned[reason] += 1
        self._example(reason, f"{where} {value!r}".strip())

    def _example(self, reason: str, text: str) -> None:
        seen = self.examples.setdefault(reason, [])
        if len(seen) < 3 and text:
            seen.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "source": self.source,
            "encoding": self.encoding,
            "read": self.read,
            "imported": self.imported,
            "skipped": dict(self.skipped),
            "cleaned": dict(self.cleaned),
            "examples": self.examples,
        }


@dataclass
class ImportContext:
    """One import run: the file, its citation name, the report and the cleaning rules."""

    path: Path
    source: str
    report: ImportReport
    encoding: str | None = None  # None: detect
    progress: bool = True
    cleaner: Cleaner = field(init=False)

    def __post_init__(self) -> None:
        self.cleaner = Cleaner(self.report)

    def src(self, record_id: object, weight: float | None = None) -> Source:
        return Source(self.source, None if record_id is None else str(record_id), weight)

    def error(self, message: str, line: int | None = None, field: str | None = None) -> DataError:
        return DataError(message, path=self.path, line=line, field=field)


ImportFn = Callable[[KnowledgeGraph, ImportContext], None]


@dataclass(frozen=True)
class Importer:
    """A registered input format."""

    name: str
    fn: ImportFn
    source: str  # default citation name of facts it imports
    lang: str  # language of the names it imports: zh | en
    help: str
    folders: bool = False  # accepts a folder (imports the files it recognises inside)


IMPORTERS: Registry[Importer] = Registry("KG import format")


def register_importer(
    name: str, *, source: str, lang: str, help: str, folders: bool = False
) -> Callable[[ImportFn], ImportFn]:
    """Decorator: register an import function under ``name``."""

    def deco(fn: ImportFn) -> ImportFn:
        IMPORTERS.register(name, Importer(name, fn, source, lang, help, folders))
        return fn

    return deco


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or GB18030 (a superset of GBK/GB2312), from the first 64 KiB."""
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError("UTF-16 files are not supported; re-save the file as UTF-8", path=path)
    if len(sample) == SAMPLE_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # never judge a character cut in half
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and len(sample) == SAMPLE_BYTES:
            return "utf-8"  # only the last character of the sample was cut
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    guess = best.encoding if best is not None else None
    if guess is None or guess.replace("_", "").lower() in _CHINESE_CODECS:
        try:
            sample.decode("gb18030")
            return "gb18030"
        except UnicodeDecodeError:
            pass
    if guess is None:
        raise DataError("cannot detect the text encoding; pass --encoding", path=path)
    return guess


def read_lines(ctx: ImportContext) -> Iterator[tuple[int, str]]:
    """Stream ``(line number, text with its newline)``; a byte that does not decode is a DataError."""
    enc = ctx.encoding or detect_encoding(ctx.path)
    ctx.report.encoding = enc
    decode_as = "utf-8" if enc == "utf-8-sig" else enc
    size = ctx.path.stat().st_size
    with (
        open(ctx.path, "rb") as f,
        tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=f"{ctx.report.format} {ctx.path.name}",
            disable=not ctx.progress,
            leave=False,
        ) as bar,
    ):
        for n, raw in enumerate(f, 1):
            bar.update(len(raw))
            if n == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                yield n, raw.decode(decode_as)
            except UnicodeDecodeError as exc:
                raise ctx.error(
                    f"cannot decode byte 0x{raw[exc.start]:02x} at column {exc.start + 1} as {enc}; "
                    "pass --encoding with the file's real encoding",
                    line=n,
                ) from None


def read_csv(ctx: ImportContext, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """Stream ``(line number, cells)`` of a CSV/TSV file (CRLF, quoted newlines and BOM handled)."""
    lines = read_lines(ctx)
    last = [0]

    def text() -> Iterator[str]:
        for n, line in lines:
            last[0] = n
            yield line

    try:
        for row in csv.reader(text(), delimiter=delimiter):
            yield last[0], row
    except csv.Error as exc:
        raise ctx.error(f"malformed CSV: {exc}", line=last[0]) from None


def header_index(ctx: ImportContext, header: list[str], wanted: dict[str, tuple[str, ...]], line: int = 1):
    """Map each wanted field to its column; ``wanted`` = field → accepted header spellings (case-insensitive)."""
    cols = {h.strip().casefold(): i for i, h in enumerate(header) if h.strip()}
    out: dict[str, int] = {}
    for name, spellings in wanted.items():
        idx = next((cols[s.casefold()] for s in spellings if s.casefold() in cols), None)
        if idx is None:
            have = ", ".join(h for h in header if h.strip()) or "(empty header)"
            raise ctx.error(
                f"missing column (expected one of {', '.join(spellings)}; have: {have})",
                line=line,
                field=spellings[0],
            )
        out[name] = idx
    return out


def open_table(
    ctx: ImportContext,
    required: dict[str, tuple[str, ...]],
    optional: dict[str, tuple[str, ...]] | None = None,
    delimiter: str = ",",
) -> tuple[Iterator[tuple[int, list[str]]], dict[str, int | None], list[str]]:
    """The data rows of a CSV/TSV, each field's column (None: optional and absent), and the header."""
    rows = read_csv(ctx, delimiter=delimiter)
    first = next(rows, None)
    if first is None:
        raise ctx.error("empty file")
    cols: dict[str, int | None] = dict(header_index(ctx, first[1], required, line=first[0]))
    have = {h.strip().casefold(): i for i, h in enumerate(first[1])}
    for name, spellings in (optional or {}).items():
        cols[name] = next((have[s.casefold()] for s in spellings if s.casefold() in have), None)
    return rows, cols, first[1]


def cell(row: list[str], idx: int | None) -> str:
    """The cell at ``idx`` or '' when the row is short or the column optional and absent."""
    return row[idx] if idx is not None and idx < len(row) else ""
