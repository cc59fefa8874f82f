"""``KnowledgeGraph``: typed entities and relations with provenance, held in a networkx MultiDiGraph.

Nodes are keyed ``"kind:name"`` and carry an ``Entity`` under the ``"entity"`` attribute. Edges are
keyed by relation name (at most one edge per subject, relation, object) and carry, under ``"sources"``,
the frozenset of ``Source`` records that state the fact, so merging two datasets keeps every citation.
The frozenset is replaced, never mutated, when a fact gains a source (``add_edge``): loaded graphs share
equal sets between edges.

Merge rules (``resolve``): a new name joins an existing node of the same kind when their
``knowledge.clean.canonical`` forms match (width, case, spaces, punctuation, ``[详细]``, the variant
table), or when it equals an alias of exactly one node that no record *of the same source* named
(inside one dataset two rows are two entities; across datasets an alias is a synonym).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import networkx as nx

from knowledge.clean import canonical
from knowledge.schema import Entity, Kind, Rel, Source, node_key

_REL_VALUE: dict[object, str] = {r: r.value for r in Rel}  # plain-str edge keys (enum .value is slow)


@dataclass(frozen=True)
class Fact:
    subject: str  # node key
    rel: Rel
    object: str  # node key
    sources: frozenset[Source]

    @property
    def subject_name(self) -> str:
        return self.subject.split(":", 1)[1]

    @property
    def object_name(self) -> str:
        return self.object.split(":", 1)[1]


class KnowledgeGraph:
    """A medical knowledge graph; see ``knowledge.schema`` for the kinds and relations."""

    def __init__(self, graph: nx.MultiDiGraph | None = None, *, name: str = "kg") -> None:
        self.g = graph if graph is not None else nx.MultiDiGraph()
        self.name = name
        self._alias_index: dict[str, set[str]] | None = None
        self._canon: dict[tuple[Kind, str], str] = {}  # (kind, canonical name) → node key
        self._canon_alias: dict[tuple[Kind, str], set[str]] = {}  # (kind, canonical alias) → node keys
        self._indexed = self.g.number_of_nodes() == 0  # built on first use: loading stays fast

    def _build_index(self) -> None:
        for key, data in self.g.nodes(data=True):
            ent: Entity = data["entity"]
            self._canon.setdefault((ent.kind, canonical(ent.name)), key)
            for a in ent.aliases:
                self._canon_alias.setdefault((ent.kind, canonical(a)), set()).add(key)
        self._indexed = True

    def resolve(self, kind: Kind | str, name: str, source: str | None = None) -> str | None:
        """The node key ``name`` merges into (see the module docstring), or None for a new entity."""
        kind = kind if isinstance(kind, Kind) else Kind(kind)
        key = node_key(kind, name)
        if key in self.g:
            return key
        if not self._indexed:
            self._build_index()
        c = canonical(name)
        if (kind, c) in self._canon:
            return self._canon[(kind, c)]
        owners = self._canon_alias.get((kind, c), ())
        if len(owners) == 1:
            (owner,) = owners
            if source is None or all(s.name != source for s in self.g.nodes[owner]["entity"].sources):
                return owner
        return None

    # --- building ----------------------------------------------------------------------------

    def add_entity(
        self,
        kind: Kind | str,
        name: str,
        *,
        source: Source,
        aliases: Iterable[str] = (),
        lang: str = "zh",
        names: dict[str, str] | None = None,
        attrs: dict[str, str] | None = None,
    ) -> str:
        """Add or merge an entity; returns its node key. Existing attributes are kept (first source wins)."""
        kind = kind if isinstance(kind, Kind) else Kind(kind)
        key = self.resolve(kind, name, source.name)
        if not self._indexed:
            self._build_index()
        if key is not None:
            ent: Entity = self.g.nodes[key]["entity"]
            if name != ent.name:
                ent.aliases.add(name)
        else:
            key = node_key(kind, name)
            ent = Entity(kind=kind, name=name, lang=lang)
            self.g.add_node(key, entity=ent)
            self._canon.setdefault((kind, canonical(name)), key)
        new = {a for a in aliases if a and a != ent.name} - ent.aliases
        ent.aliases.update(new)
        for a in new:
            self._canon_alias.setdefault((kind, canonical(a)), set()).add(key)
        for lg, nm in (names or {}).items():
            ent.names.setdefault(lg, nm)
        for k, v in (attrs or {}).items():
            if v:
                ent.attrs.setdefault(k, v)
        ent.sources.add(source)
        self._alias_index = None
        return key

    def ensure(self, kind: Kind | str, name: str, *, source: Source, lang: str = "zh") -> str:
        """The node ``name`` resolves to, created (citing ``source``) when new; existing nodes are untouched."""
        return self.resolve(kind, name, source.name) or self.add_entity(kind, name, source=source, lang=lang)

    def add_fact(
        self,
        subject_kind: Kind | str,
        subject: str,
        rel: Rel | str,
        object_kind: Kind | str,
        obj: str,
        *,
        source: Source,
    ) -> None:
        """Add ``subject —rel→ object`` (creating missing nodes); repeated facts gain sources."""
        s = self.resolve(subject_kind, subject, source.name) or self.add_entity(
            subject_kind, subject, source=source
        )
        o = self.resolve(object_kind, obj, source.name) or self.add_entity(object_kind, obj, source=source)
        self.add_edge(s, rel, o, {source})

    def add_edge(self, s: str, rel: Rel | str, o: str, sources: Iterable[Source]) -> None:
        """Add ``s —rel→ o`` between existing node keys, or add ``sources`` to the edge already there."""
        key = _REL_VALUE.get(rel) or Rel(rel).value
        data = self.g.get_edge_data(s, o, key=key)
        if data is not None:
            data["sources"] = data["sources"].union(sources)
        else:
            self.g.add_edge(s, o, key=key, sources=frozenset(sources))

    def merge(self, other: KnowledgeGraph) -> None:
        """Add every entity and fact of ``other`` (its sources kept) with the same merge rules."""
        keymap: dict[str, str] = {}
        for key, data in other.g.nodes(data=True):
            e: Entity = data["entity"]
            srcs = sorted(e.sources, key=lambda x: (x.name, x.record_id or ""))
            first = srcs[0] if srcs else Source(other.name)
            k = self.add_entity(
                e.kind, e.name, source=first, aliases=e.aliases, lang=e.lang, names=e.names, attrs=e.attrs
            )
            self.entity(k).sources.update(srcs)
            keymap[key] = k
        for s, o, rel, data in other.g.edges(keys=True, data=True):
            self.add_edge(keymap[s], rel, keymap[o], data["sources"])

    # --- reading -----------------------------------------------------------------------------

    def __contains__(self, key: str) -> bool:
        return key in self.g

    def __len__(self) -> int:
        return self.g.number_of_nodes()

    def entity(self, key: str) -> Entity:
        return self.g.nodes[key]["entity"]

    def entities(self, kind: Kind | str | None = None) -> Iterator[Entity]:
        want = Kind(kind) if kind is not None else None
        for _, data in self.g.nodes(data=True):
            ent: Entity = data["entity"]
            if want is None or ent.kind == want:
                yield ent

    def facts(self, key: str, rel: Rel | str | None = None, *, incoming: bool = False) -> Iterator[Fact]:
        """Facts leaving ``key`` (or arriving at it with ``incoming=True``), optionally of one relation."""
        want = Rel(rel).value if rel is not None else None
        edges = (
            self.g.in_edges(key, keys=True, data=True)
            if incoming
            else self.g.out_edges(key, keys=True, data=True)
        )
        for s, o, k, data in edges:
            if want is None or k == want:
                yield Fact(s, Rel(k), o, frozenset(data["sources"]))

    def find(self, name: str, kind: Kind | str | None = None) -> list[str]:
        """Node keys whose name or alias equals ``name`` (case-insensitive), optionally of one kind."""
        if self._alias_index is None:
            index: dict[str, set[str]] = {}
            for key, data in self.g.nodes(data=True):
                ent: Entity = data["entity"]
                for n in {ent.name, *ent.aliases, *ent.names.values()}:
                    index.setdefault(n.casefold(), set()).add(key)
            self._alias_index = index
        keys = self._alias_index.get(name.casefold(), set())
        if kind is not None:
            prefix = f"{Kind(kind).value}:"
            keys = {k for k in keys if k.startswith(prefix)}
        return sorted(keys)

    def stats(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ent in self.entities():
            out[f"entities.{ent.kind.value}"] = out.get(f"entities.{ent.kind.value}", 0) + 1
        for _, _, k in self.g.edges(keys=True):
            out[f"facts.{k}"] = out.get(f"facts.{k}", 0) + 1
        out["entities"] = self.g.number_of_nodes()
        out["facts"] = self.g.number_of_edges()
        return dict(sorted(out.items()))
