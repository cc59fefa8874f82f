"""Save and load a ``KnowledgeGraph`` fast (``.cdkg``), and export it as JSON Lines or GraphML.

``.cdkg`` layout (version 1)::

    line 1   JSON header: {"format": "chatdoctor-kg", "version": 1, "compression": "none"|"gzip",
             "entities": N, "facts": M, "sources": S, "name": ..., "created": ...}
    rest     pickle (protocol 5) of one tuple of plain tables (str/int/float/None/tuple only):
             (strings, source_rows, source_sets, node_rows, adjacency)

Short repeated strings (kinds, languages, attribute and relation names) are interned in one table and
referred to by index; every ``Source`` and every distinct set of sources is stored once. Loading uses a
restricted unpickler that refuses any class or function, so a ``.cdkg`` file cannot run code. A header
from a newer version or another format is refused by name.
"""

from __future__ import annotations

import datetime as _dt
import gc
import gzip
import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import networkx as nx

from chatdoctor.errors import DataError
from chatdoctor.io import atomic_write
from knowledge.graph import KnowledgeGraph
from knowledge.schema import Entity, Kind, Source

FORMAT = "chatdoctor-kg"
VERSION = 1
SUFFIX = ".cdkg"


def default_graph_path() -> Path:
    """``$CHATDOCTOR_KG_PATH``, else ``$CHATDOCTOR_DATA_DIR/kg/graph.cdkg`` (data dir default ``./var``)."""
    explicit = os.environ.get("CHATDOCTOR_KG_PATH")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("CHATDOCTOR_DATA_DIR", "./var")) / "kg" / f"graph{SUFFIX}"


class _Strings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.table: list[str] = []

    def __call__(self, s: str) -> int:
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.table)
            self.table.append(s)
        return i


def _tables(kg: KnowledgeGraph) -> tuple:
    st = _Strings()
    sources: dict[Source, int] = {}
    sets: dict[frozenset[Source], int] = {}  # each distinct source set once (edges share them)
    order = {key: i for i, key in enumerate(kg.g.nodes)}

    def set_id(items: frozenset[Source] | set[Source]) -> int:
        fs = items if isinstance(items, frozenset) else frozenset(items)
        i = sets.get(fs)
        if i is None:
            i = sets[fs] = len(sets)
            for src in fs:
                sources.setdefault(src, len(sources))
        return i

    nodes = []
    for key, data in kg.g.nodes(data=True):
        e: Entity = data["entity"]
        nodes.append((
            key, st(e.kind.value), e.name, st(e.lang), tuple(sorted(e.aliases)),
            tuple(e.names.items()), tuple((st(k), v) for k, v in e.attrs.items()), set_id(e.sources),
        ))  # fmt: skip
    # adjacency: per subject node, (object node, ((relation, source-set id), ...)) pairs
    adjacency = [
        (order[u], tuple((order[v], tuple((st(r), set_id(d["sources"])) for r, d in kd.items())) for v, kd in nbrs.items()))
        for u, nbrs in kg.g.adjacency()
        if nbrs
    ]  # fmt: skip
    source_rows = [(st(s.name), s.record_id, s.weight) for s in sources]
    source_sets = [tuple(sources[src] for src in fs) for fs in sets]
    return tuple(st.table), source_rows, source_sets, nodes, adjacency


def save(kg: KnowledgeGraph, path: str | Path, *, compress: bool = False) -> int:
    """Write ``kg`` atomically to ``path``; returns the file size in bytes."""
    path = Path(path)
    enabled = gc.isenabled()
    gc.disable()
    try:
        tables = _tables(kg)
    finally:
        if enabled:
            gc.enable()
    header = {
        "format": FORMAT,
        "version": VERSION,
        "compression": "gzip" if compress else "none",
        "name": kg.name,
        "entities": kg.g.number_of_nodes(),
        "facts": kg.g.number_of_edges(),
        "sources": sorted({tables[0][row[0]] for row in tables[1]}),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    payload = pickle.dumps(tables, protocol=5)
    if compress:
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    with atomic_write(path, "wb") as f:
        f.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
        f.write(payload)
    return path.stat().st_size


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON header of a ``.cdkg`` file; DataError for another format or an unknown version."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such knowledge-graph file (build one with `chatdoctor kg import`)", path=path)
    with open(path, "rb") as f:
        first = f.readline(65536)
    try:
        header = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DataError(f"not a {FORMAT} file (the first line is not its header)", path=path)
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise DataError(
            f"{FORMAT} version {version!r} is not supported (this ChatDoctor reads versions 1..{VERSION}); "
            "upgrade ChatDoctor or re-import the graph",
            path=path,
        )
    return header


class _TablesOnly(pickle.Unpickler):
    """Refuses every global: a .cdkg payload holds plain tuples, lists, str, int, float and None."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"forbidden object {module}.{name}")


def load(path: str | Path) -> KnowledgeGraph:
    """Read a ``.cdkg`` file written by ``save``."""
    path = Path(path)
    header = read_header(path)
    with open(path, "rb") as f:
        f.readline(65536)
        payload = f.read()
    enabled = gc.isenabled()
    gc.disable()  # building ~10^5 small containers: the cyclic GC would rescan them again and again
    try:
        if header.get("compression") == "gzip":
            payload = gzip.decompress(payload)
        strings, source_rows, source_sets, nodes, adjacency = _TablesOnly(io.BytesIO(payload)).load()
        return _build(header, strings, source_rows, source_sets, nodes, adjacency)
    except (pickle.UnpicklingError, EOFError, ValueError, OSError, TypeError, IndexError) as exc:
        raise DataError(f"corrupt {FORMAT} payload ({exc}); re-import the graph", path=path) from None
    finally:
        if enabled:
            gc.enable()


def _build(header: dict, strings, source_rows, source_sets, nodes, adjacency) -> KnowledgeGraph:
    sources = [Source(strings[n], rid, w) for n, rid, w in source_rows]
    fsets = [frozenset([sources[i] for i in ids]) for ids in source_sets]  # shared by the edges (immutable)
    kinds = {i: Kind(v) for i, v in enumerate(strings) if v in Kind._value2member_map_}
    g = nx.MultiDiGraph()
    keys = []
    node_attr = g._node
    for key, kind, name, lang, aliases, names, attrs, sid in nodes:
        ent = Entity(kinds[kind], name, set(aliases), strings[lang], dict(names),
                     {strings[k]: v for k, v in attrs}, set(fsets[sid]))  # fmt: skip
        node_attr[key] = {"entity": ent}
        keys.append(key)
    # Fill networkx's adjacency dicts directly (the documented MultiDiGraph layout: succ[u][v][key] = data,
    # pred[v][u] is the same key dict): several times faster than add_edges_from.
    succ, pred = g._succ, g._pred
    for key in keys:
        succ[key] = {}
        pred[key] = {}
    for u, pairs in adjacency:
        ku = keys[u]
        su = succ[ku]
        for v, rels in pairs:
            kv = keys[v]
            su[kv] = pred[kv][ku] = {strings[r]: {"sources": fsets[sid]} for r, sid in rels}
    return KnowledgeGraph(g, name=header.get("name") or "kg")


def _sources_json(sources: set[Source] | frozenset[Source]) -> list[dict[str, Any]]:
    rows = sorted(sources, key=lambda s: (s.name, s.record_id or "", s.weight or 0.0))
    return [
        {
            k: v
            for k, v in (("name", s.name), ("record_id", s.record_id), ("weight", s.weight))
            if v is not None
        }
        for s in rows
    ]


def export_jsonl(kg: KnowledgeGraph, path: str | Path) -> int:
    """One JSON object per line: ``{"type": "entity", ...}`` for every node, then ``{"type": "fact", ...}``."""
    n = 0
    with atomic_write(path, "w") as f:
        for key, data in kg.g.nodes(data=True):
            e: Entity = data["entity"]
            row = {
                "type": "entity",
                "key": key,
                "kind": e.kind.value,
                "name": e.name,
                "lang": e.lang,
                "aliases": sorted(e.aliases),
                "names": e.names,
                "attrs": e.attrs,
                "sources": _sources_json(e.sources),
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        for s, o, k, data in kg.g.edges(keys=True, data=True):
            row = {
                "type": "fact",
                "subject": s,
                "rel": k,
                "object": o,
                "sources": _sources_json(data["sources"]),
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def export_graphml(kg: KnowledgeGraph, path: str | Path) -> int:
    """GraphML (networkx): scalar attributes only; lists/dicts as JSON text, sources as ``name#record`` lists."""
    out = nx.MultiDiGraph(name=kg.name)
    for key, data in kg.g.nodes(data=True):
        e: Entity = data["entity"]
        out.add_node(
            key,
            kind=e.kind.value,
            name=e.name,
            lang=e.lang,
            aliases=json.dumps(sorted(e.aliases), ensure_ascii=False),
            attrs=json.dumps(e.attrs, ensure_ascii=False),
            sources=" ".join(sorted(s.cite() for s in e.sources)),
        )
    for s, o, k, data in kg.g.edges(keys=True, data=True):
        weights = [x.weight for x in data["sources"] if x.weight is not None]
        extra = {"weight": max(weights)} if weights else {}
        out.add_edge(s, o, key=k, rel=k, sources=" ".join(sorted(x.cite() for x in data["sources"])), **extra)
    with atomic_write(path, "wb") as f:
        nx.write_graphml(out, f, encoding="utf-8")
    return out.number_of_nodes() + out.number_of_edges()


EXPORTERS = {"jsonl": export_jsonl, "graphml": export_graphml}
