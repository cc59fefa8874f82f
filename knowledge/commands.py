"""``chatdoctor kg ...``: import, fetch, stats, export (query and ask live below them).

chatdoctor kg import ../shared/data/kg39_medicalgraph/disease.csv --out var/kg/graph.cdkg
chatdoctor kg import format_dataset.csv --format chatdoctor --merge-into var/kg/graph.cdkg
chatdoctor kg fetch --list ; chatdoctor kg fetch kg39
chatdoctor kg stats ; chatdoctor kg export --format jsonl --out kg.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Knowledge graph: import, fetch, stats, query, ask, export.")

GraphOpt = Annotated[
    Path | None,
    typer.Option("--graph", "-g", help="graph file (default $CHATDOCTOR_KG_PATH or ./var/kg/graph.cdkg)"),
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
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Import public KG files (merged into one graph) and save it; nothing is written if any input is bad."""
    from knowledge import store
    from knowledge.graph import KnowledgeGraph
    from knowledge.importers import import_file

    kg = store.load(merge_into) if merge_into else KnowledgeGraph()
    reports = [import_file(kg, p, fmt, source=source, encoding=encoding, progress=progress) for p in paths]
    target = out or merge_into or _graph_path(None)
    size = store.save(kg, target, compress=compress)
    for r in reports:
        _print_report(r)
    stats = kg.stats()
    typer.echo(f"wrote {target} ({size / 1e6:.1f} MB): {stats['entities']} entities, {stats['facts']} facts")


def _print_report(r) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{r.path} [{r.format}, {r.encoding or 'n/a'}, source {r.source}]", show_header=True)
    t.add_column("count", justify="right")
    t.add_column("what")
    t.add_column("examples", overflow="fold")
    t.add_row(str(r.read), "records read", "")
    t.add_row(str(r.imported), "records imported", "")
    for kind, counter in (("skipped", r.skipped), ("cleaned", r.cleaned)):
        for reason, n in counter.most_common():
            t.add_row(str(n), f"{kind}: {reason}", "; ".join(r.examples.get(reason, [])))
    Console().print(t)


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
