"""``chatdoctor kg ...``: import, fetch, stats, export (query and ask live below them).

chatdoctor kg import ../shared/data/kg39_medicalgraph/disease.csv --out var/kg/graph.cdkg
chatdoctor kg import format_dataset.csv --format chatdoctor --merge-into var/kg/graph.cdkg
chatdoctor kg fetch --list ; chatdoctor kg fetch kg39
chatdoctor kg stats ; chatdoctor kg export --format jsonl --out kg.jsonl
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Knowledge graph: import, fetch, stats, query, ask, export.")

GraphOpt = Annotated[
    Path | None,
    typer.Option(
        "--graph", "--kg", "-g", help="graph file (default $CHATDOCTOR_KG_PATH or ./var/kg/graph.cdkg)"
    ),
]


def _graph_path(path: Path | None) -> Path:
    from knowledge.store import default_graph_path

    return path or default_graph_path()


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="files or folders to import")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="auto, or: kg39 qasystem chatdoctor hsdn kaggle cmekg wordlist jsonl"
        ),
    ] = "auto",
    out: Annotated[
        Path | None, typer.Option(help="graph file to write (default: --merge-into, else the default graph)")
    ] = None,
    merge_into: Annotated[
        Path | None, typer.Option(help="start from this graph file and merge into it")
    ] = None,
    source: Annotated[str | None, typer.Option(help="citation name for the imported facts")] = None,
    encoding: Annotated[str | None, typer.Option(help="force a text encoding (default: detect)")] = None,
    compress: Annotated[bool, typer.Option(help="gzip the graph file")] = False,
    with_starter: Annotated[
        bool,
        typer.Option(help="start from the bundled starter graph (bilingual names, red flags, self-care)"),
    ] = False,
    report_json: Annotated[
        Path | None, typer.Option(help="also write the import reports as JSON here")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Import public KG files (merged into one graph) and save it; nothing is written if any input is bad."""
    from knowledge import store
    from knowledge.graph import KnowledgeGraph
    from knowledge.importers import import_file

    kg = store.load(merge_into) if merge_into else KnowledgeGraph()
    if with_starter:
        from knowledge.starter import load_starter

        kg.merge(load_starter())
    reports = [import_file(kg, p, fmt, source=source, encoding=encoding, progress=progress) for p in paths]
    target = out or merge_into or _graph_path(None)
    size = store.save(kg, target, compress=compress)
    if report_json:
        from chatdoctor.io import atomic_write

        with atomic_write(report_json) as f:
            json.dump([r.to_dict() for r in reports], f, ensure_ascii=False, indent=1)
    for r in reports:
        _print_report(r)
    stats = kg.stats()
    typer.echo(f"wrote {target} ({size / 1e6:.1f} MB): {stats['entities']} entities, {stats['facts']} facts")
    if not os.environ.get("CHATDOCTOR_KG_PATH"):
        typer.echo(
            f"use it with: export CHATDOCTOR_KG_PATH={target.resolve()}  (or `kg_path` in the chat config)"
        )


def _print_report(r) -> None:
    """One summary line per file, then one line per skip/clean rule with up to three examples."""
    typer.echo(
        f"{r.path} [{r.format}, {r.encoding or 'n/a'}, source {r.source}]: "
        f"{r.read} records read, {r.imported} imported"
    )
    for kind, counter in (("skipped", r.skipped), ("cleaned", r.cleaned)):
        for reason, n in counter.most_common():
            examples = "; ".join(r.examples.get(reason, []))
            typer.echo(f"  {kind} {n:>6}  {reason}" + (f"  (e.g. {examples})" if examples else ""))


@app.command()
def fetch(
    name: Annotated[str | None, typer.Argument(help="dataset name (see --list)")] = None,
    dest: Annotated[Path | None, typer.Option(help="download folder (default ./var/kg/downloads)")] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the known public KGs")] = False,
    allow_unverified: Annotated[bool, typer.Option(help="accept files with no recorded checksum")] = False,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Download a public KG by name (pinned URL, checksum verified), then print the import command."""
    from knowledge.fetch import datasets
    from knowledge.fetch import fetch as do_fetch
    from knowledge.store import default_graph_path

    if list_ or name is None:
        for ds in datasets().values():
            typer.echo(f"{ds.name:24} {ds.format:11} {ds.description}  [license: {ds.license}]")
        return
    folder = dest or default_graph_path().parent / "downloads"
    path = do_fetch(name, folder, allow_unverified=allow_unverified, progress=progress)
    fmt = datasets()[name].format
    typer.echo(f"downloaded {name} to {path}\nimport it with: chatdoctor kg import {path} --format {fmt}")


@app.command()
def stats(
    graph: GraphOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Entity and fact counts by kind and relation, and the sources in the graph."""
    from knowledge import store

    path = _graph_path(graph)
    header = store.read_header(path)
    counts = store.load(path).stats()
    if as_json:
        typer.echo(
            json.dumps({"file": str(path), "header": header, "stats": counts}, ensure_ascii=False, indent=2)
        )
        return
    typer.echo(f"{path}: {header['format']} v{header['version']}, created {header.get('created', '?')}")
    typer.echo(f"sources: {', '.join(header.get('sources', []))}")
    for key, n in counts.items():
        typer.echo(f"{n:>9}  {key}")


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or graphml")] = "jsonl",
    graph: GraphOpt = None,
) -> None:
    """Write the graph as JSON Lines (one entity/fact per line) or GraphML."""
    from chatdoctor.errors import ConfigError
    from knowledge import store

    if fmt not in store.EXPORTERS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(store.EXPORTERS)}")
    n = store.EXPORTERS[fmt](store.load(_graph_path(graph)), out)
    typer.echo(f"wrote {out}: {n} {'lines' if fmt == 'jsonl' else 'nodes + edges'}")


# --- query / ask (KG lookups and question answering) follow below ---------------------------------

KgOpt = Annotated[
    Path | None,
    typer.Option("--kg", help="graph file (default: $CHATDOCTOR_KG_PATH, else the bundled starter graph)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _kb(path: Path | None):
    """The knowledge base for a command: --kg, else $CHATDOCTOR_KG_PATH, else the starter graph."""
    import os

    from knowledge.lookup import KnowledgeBase

    return KnowledgeBase.load(path or os.environ.get("CHATDOCTOR_KG_PATH") or None)


def _entity(kb, name: str, kind: str) -> str:
    """The node key for a name or alias of ``kind``; ConfigError naming the closest names otherwise."""
    from rapidfuzz import process

    from chatdoctor.errors import ConfigError
    from knowledge.schema import Kind

    keys = kb.kg.find(name, kind) or [m.key for m in kb.linker.link(name, kinds=[Kind(kind)])][:1]
    if keys:
        return keys[0]
    names = [e.names.get("en", e.name) for e in kb.kg.entities(kind)] + [e.name for e in kb.kg.entities(kind)]
    close = [c for c, _, _ in process.extract(name, names, limit=3)]
    raise ConfigError(f"no {kind} named {name!r} in the graph (closest: {', '.join(close) or 'none'})")


def _disease_report(kb, key: str, lang: str) -> dict:
    from knowledge.lookup import attribute, display_name, facts

    out: dict = {"disease": display_name(kb.kg, key, lang), "key": key, "facts": {}, "attributes": {}}
    for rel, refs in facts(kb.kg, key).items():
        out["facts"][rel.value] = [
            {"object": display_name(kb.kg, r.object, lang), "sources": r.cites()} for r in refs
        ]
    for attr in ("description", "cause", "prevention", "cure_way", "red_flags", "self_care"):
        ref = attribute(kb.kg, key, attr, lang)
        if ref:
            out["attributes"][attr] = {"text": ref.text, "sources": ref.cites()}
    return out


@app.command()
def query(
    symptoms: Annotated[str | None, typer.Option(help='free text, e.g. "fever, cough, no headache"')] = None,
    disease: Annotated[str | None, typer.Option(help="a disease: its facts by type")] = None,
    drug: Annotated[str | None, typer.Option(help="a drug: the diseases it is used for")] = None,
    check: Annotated[str | None, typer.Option(help="a test: the diseases it checks for")] = None,
    food: Annotated[str | None, typer.Option(help="a food: diseases that recommend or avoid it")] = None,
    similar: Annotated[str | None, typer.Option(help="a disease: diseases sharing its symptoms")] = None,
    top: Annotated[int, typer.Option("--top", "-k", help="how many ranked diseases")] = 10,
    lang: Annotated[str, typer.Option(help="zh or en names")] = "zh",
    kg: KgOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lookups with sources: symptoms → ranked diseases (with why), disease → facts, drug/check/food → diseases."""
    from chatdoctor.errors import ConfigError
    from knowledge.lookup import display_name, related_diseases

    kb = _kb(kg)
    if symptoms:
        cands = kb.rank_text(symptoms, k=top) if not similar else []
        result = [_candidate_json(kb, c, lang) for c in cands]
    elif similar:
        result = [
            _candidate_json(kb, c, lang) for c in kb.index.similar(_entity(kb, similar, "disease"), k=top)
        ]
    elif disease:
        result = _disease_report(kb, _entity(kb, disease, "disease"), lang)
    elif drug or check or food:
        kind, name = ("drug", drug) if drug else ("check", check) if check else ("food", food)
        refs = related_diseases(kb.kg, _entity(kb, name, kind))
        result = [
            {"disease": display_name(kb.kg, r.subject, lang), "relation": r.rel, "sources": r.cites()}
            for r in refs
        ]
    else:
        raise ConfigError("give one of --symptoms, --disease, --drug, --check, --food, --similar")
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_result(result)


def _candidate_json(kb, c, lang: str) -> dict:
    from knowledge.lookup import display_name

    def named(pairs):
        return [{"symptom": display_name(kb.kg, s, lang), "weight": w} for s, w in pairs]

    return {
        "disease": display_name(kb.kg, c.key, lang),
        "score": c.score,
        "matched": named(c.matched),
        "denied": named(c.denied),
        "missing": named(c.missing),
        "sources": sorted({s for f in c.evidence for s in f.cites()}),
    }


def _print_result(result) -> None:
    if isinstance(result, dict):  # a disease report
        typer.echo(f"{result['disease']} ({result['key']})")
        for rel, items in result["facts"].items():
            typer.echo(f"  {rel}: {', '.join(i['object'] for i in items)}  [{items[0]['sources'][0]}]")
        for attr, v in result["attributes"].items():
            typer.echo(f"  {attr}: {v['text']}  [{', '.join(v['sources'])}]")
        return
    if not result:
        typer.echo("nothing found in the knowledge graph")
    for i, row in enumerate(result, 1):
        if "score" not in row:
            typer.echo(f"{i:>3}. {row['disease']}  ({row['relation']}; {', '.join(row['sources'])})")
            continue

        def fmt(items):
            return ", ".join(f"{x['symptom']} {x['weight']:.2f}" for x in items) or "-"

        typer.echo(f"{i:>3}. {row['disease']}  score {row['score']:.3f}  [{', '.join(row['sources'])}]")
        typer.echo(
            f"     matched: {fmt(row['matched'])} | denied: {fmt(row['denied'])} | missing: {fmt(row['missing'])}"
        )


@app.command()
def ask(
    question: Annotated[
        str, typer.Argument(help='e.g. "最近老流鼻涕怎么办？" or "I have a fever and a cough"')
    ],
    kg: KgOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the knowledge graph (Chinese or English), with its sources."""
    from knowledge.kgqa import QA

    answer = QA(_kb(kg)).answer(question)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(answer.render())
    for n, line in answer.references():
        cites = ", ".join(dict.fromkeys(c for f in line.facts for c in f.cites()))
        typer.echo(f"  [{n}] {line.intent}: {cites}")
