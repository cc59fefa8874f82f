"""Our own JSON Lines export (``chatdoctor kg export --format jsonl``) read back: lossless round trip.

Also the easiest format to write a graph by hand: ``{"type": "entity", "kind", "name", "aliases",
"lang", "names", "attrs", "sources"}`` and ``{"type": "fact", "subject", "rel", "object", "sources"}``
with ``"kind:name"`` node keys.
"""

from __future__ import annotations

import json

from knowledge.graph import KnowledgeGraph
from knowledge.importers.base import ImportContext, read_lines, register_importer
from knowledge.schema import Kind, Rel, Source, node_key


@register_importer("jsonl", source="jsonl", lang="zh", help="ChatDoctor KG JSON Lines (our export format)")
def import_jsonl(kg: KnowledgeGraph, ctx: ImportContext) -> None:
    """Entities then facts; a fact naming an entity not defined earlier in the file is an error."""
    keymap: dict[str, str] = {}
    for line, text in read_lines(ctx):
        if not text.strip():
            continue
        ctx.report.read += 1
        try:
            row = json.loads(text)
            kind = row["type"]
            if kind == "entity":
                _entity(kg, ctx, row, line, keymap)
            elif kind == "fact":
                _fact(kg, ctx, row, line, keymap)
            else:
                ctx.report.skip(f"unknown row type {kind!r}", f"line {line}")
                continue
        except json.JSONDecodeError as exc:
            raise ctx.error(f"not valid JSON ({exc.msg} at column {exc.colno})", line=line) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ctx.error(f"bad row: {exc!s}", line=line) from None
        ctx.report.imported += 1


def _sources(ctx: ImportContext, row: dict, line: int) -> list[Source]:
    out = [Source(s["name"], s.get("record_id"), s.get("weight")) for s in row.get("sources") or []]
    return out or [ctx.src(line)]


def _entity(kg: KnowledgeGraph, ctx: ImportContext, row: dict, line: int, keymap: dict[str, str]) -> None:
    kind, name = Kind(row["kind"]), row["name"]
    srcs = _sources(ctx, row, line)
    key = kg.add_entity(
        kind,
        name,
        source=srcs[0],
        aliases=row.get("aliases") or (),
        lang=row.get("lang", "zh"),
        names=row.get("names") or {},
        attrs=row.get("attrs") or {},
    )
    kg.entity(key).sources.update(srcs)
    keymap[row.get("key") or node_key(kind, name)] = key


def _fact(kg: KnowledgeGraph, ctx: ImportContext, row: dict, line: int, keymap: dict[str, str]) -> None:
    ends = []
    for field in ("subject", "object"):
        ref = row[field]
        if ref not in keymap:
            raise ctx.error(f"{ref!r} is not an entity defined above", line=line, field=field)
        ends.append(keymap[ref])
    kg.add_edge(ends[0], Rel(row["rel"]), ends[1], _sources(ctx, row, line))
