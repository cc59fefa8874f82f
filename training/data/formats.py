"""Reading and writing record files: JSON arrays, JSON Lines (whatever the suffix), Parquet, HF datasets.

``iter_rows(path)`` yields ``(line, row)`` pairs, so every error can name the file and the line of the
record; the container is detected from the content, not the name (Huatuo's ``.json`` is JSON Lines).
Writers go through ``chatdoctor.io.atomic_write``: a failed write leaves no file behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from chatdoctor.errors import DataError
from chatdoctor.io import atomic_write
from chatdoctor.records import InstructionRecord, RecordError

STYLES: dict[str, Callable[[InstructionRecord], dict[str, Any]]] = {
    "messages": InstructionRecord.to_dict,
    "alpaca": InstructionRecord.to_alpaca,
    "sharegpt": InstructionRecord.to_sharegpt,
}


def iter_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each record of a JSON array, JSON Lines or Parquet file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    if path.suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    with path.open("r", encoding="utf-8-sig", newline=None) as f:
        first = _first_char(f)
        f.seek(0)
        if first == "[":
            yield from _array_rows(path, f.read())
        elif first in ("{", ""):
            yield from _jsonl_rows(path, f)
        else:
            raise DataError(
                f"expected a JSON array or JSON Lines, file starts with {first!r}", path=path, line=1
            )


def _first_char(f: Any) -> str:
    for line in f:
        stripped = line.lstrip()
        if stripped:
            return stripped[0]
    return ""


def _jsonl_rows(path: Path, f: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            hint = (
                " (a pretty-printed JSON object? JSON Lines needs one object per line)" if lineno == 1 else ""
            )
            raise DataError(
                f"invalid JSON: {exc.msg} at column {exc.colno}{hint}", path=path, line=lineno
            ) from None
        if not isinstance(row, dict):
            raise DataError(f"expected a JSON object, got {type(row).__name__}", path=path, line=lineno)
        yield lineno, row


def _array_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Decode the array one element at a time so each record knows its line (and errors say where)."""
    decoder = json.JSONDecoder()
    pos, line, n = text.index("[") + 1, 1, len(text)
    line += text.count("\n", 0, pos)
    while True:
        start = pos
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", start, pos)
        if pos >= n:
            raise DataError("unexpected end of file: the JSON array is not closed", path=path, line=line)
        if text[pos] == "]":
            if text[pos + 1 :].strip():
                raise DataError("extra data after the JSON array", path=path, line=line)
            return
        try:
            row, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"invalid JSON: {exc.msg} at column {exc.colno}", path=path, line=exc.lineno
            ) from None
        if not isinstance(row, dict):
            raise DataError(f"expected a JSON object, got {type(row).__name__}", path=path, line=line)
        yield line, row
        line += text.count("\n", pos, end)
        pos = end


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", path=path) from None
    i = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            i += 1
            yield i, row


def write_records(path: str | Path, records: Iterable[InstructionRecord], style: str = "messages") -> int:
    """Write records as ``.jsonl``, ``.json`` (array) or ``.parquet`` in ``style``; returns the count."""
    path = Path(path)
    if style not in STYLES:
        raise DataError(f"unknown output style {style!r}; use one of {', '.join(STYLES)}", path=path)
    convert = STYLES[style]
    if path.suffix == ".parquet":
        return _write_parquet(path, (convert(r) for r in records))
    count = 0
    with atomic_write(path) as f:
        if path.suffix == ".json":
            f.write("[\n")
            for r in records:
                f.write((",\n" if count else "") + json.dumps(convert(r), ensure_ascii=False))
                count += 1
            f.write("\n]\n")
        else:
            for r in records:
                f.write(json.dumps(convert(r), ensure_ascii=False) + "\n")
                count += 1
    publish_mode(path)
    return count


def publish_mode(path: Path) -> None:
    """Temp files are created private (0600/0700); give the output the usual umask-based mode."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _write_parquet(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    items = [_parquet_safe(r) for r in rows]
    table = pa.Table.from_pylist(items) if items else pa.table({})
    with atomic_write(path, "wb") as f:
        pq.write_table(table, f)
    publish_mode(path)
    return len(items)


def _parquet_safe(row: dict[str, Any]) -> dict[str, Any]:
    # free-form ``meta`` varies per record; Parquet needs one schema, so it travels as JSON text
    return {k: json.dumps(v, ensure_ascii=False) if k == "meta" else v for k, v in row.items()}


def read_records(path: str | Path) -> Iterator[InstructionRecord]:
    """Read our own ``messages`` schema (JSON, JSONL or Parquet)."""
    for line, row in iter_rows(path):
        if isinstance(row.get("meta"), str):
            row = {**row, "meta": json.loads(row["meta"] or "{}")}
        try:
            yield InstructionRecord.from_dict(row)
        except RecordError as exc:
            raise DataError(str(exc), path=path, line=line, field=exc.field) from None


def to_hf_dataset(records: Iterable[InstructionRecord]) -> Any:
    """A ``datasets.Dataset`` with our schema (``meta`` as JSON text so rows share one schema)."""
    from datasets import Dataset

    return Dataset.from_list([_parquet_safe(r.to_dict()) for r in records])


def from_hf_dataset(ds: Any) -> Iterator[InstructionRecord]:
    """Records from a ``datasets.Dataset`` built by ``to_hf_dataset`` (or any with a ``messages`` column)."""
    for i, row in enumerate(ds):
        if isinstance(row.get("meta"), str):
            row = {**row, "meta": json.loads(row["meta"] or "{}")}
        try:
            yield InstructionRecord.from_dict(row)
        except RecordError as exc:
            raise DataError(str(exc), line=i + 1, field=exc.field) from None
