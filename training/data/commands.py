"""``chatdoctor data``: fetch, convert, build, generate, stats, export-corrections.

chatdoctor data fetch genmedgpt_5k --dest data/raw
chatdoctor data convert ../shared/data/huatuo/llama_data.json out.jsonl --loader huatuo_llama_data
chatdoctor data build configs/data/tiny.yaml
chatdoctor data generate configs/data/generate.yaml --set base_url=http://127.0.0.1:8000/v1
chatdoctor data stats outputs/data/tiny/train.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Datasets: fetch, convert, build, generate, stats.")

SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a config key: key=value (repeatable).")
]


@app.command()
def fetch(
    name: Annotated[str, typer.Argument(help="Registry name (see --list), e.g. genmedgpt_5k.")] = "",
    dest: Annotated[Path, typer.Option(help="Download folder.")] = Path("data/raw"),
    list_: Annotated[bool, typer.Option("--list", help="List the registry and exit.")] = False,
) -> None:
    """Download a public dataset with progress, resume and checksum."""
    from chatdoctor.io import sha256_file
    from training.data.catalog import fetch as do_fetch
    from training.data.catalog import load_registry

    reg = load_registry()
    if list_ or not name:
        for n in reg:
            info = reg.get(n)
            typer.echo(f"{n:22} {info.lang or '':3} {info.license[:40]:40} {info.description}")
        return
    path = do_fetch(name, dest, registry=reg)
    typer.echo(f"{path}  sha256 {sha256_file(path)}")


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="Input file.")],
    dst: Annotated[Path, typer.Argument(help="Output: .jsonl, .json or .parquet.")],
    loader: Annotated[
        str, typer.Option(help="Loader that reads SRC (alpaca, sharegpt, med_chatglm, ...).")
    ] = "alpaca",
    to: Annotated[str, typer.Option(help="Output style: messages | alpaca | sharegpt.")] = "messages",
) -> None:
    """Convert a dataset file between formats and record styles."""
    from training.data.formats import write_records
    from training.data.loaders import load

    n = write_records(dst, load(loader, src), to)
    typer.echo(f"wrote {n} records to {dst}")


@app.command()
def build(
    config: Annotated[Path, typer.Argument(help="configs/data/<stage>.yaml")], set_: SetOpt = None
) -> None:
    """Build a stage dataset (splits + manifest.json + README.md) from one YAML file."""
    from chatdoctor.config import load_config
    from training.data.build import build as run_build
    from training.data.config import BuildConfig, project_root

    cfg = load_config(BuildConfig, config, set_ or [])
    out = run_build(cfg, project_root(config), config_path=config)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    counts = ", ".join(f"{s} {v['records']}" for s, v in manifest["splits"].items())
    typer.echo(f"{out}: {counts}")


@app.command()
def generate(
    config: Annotated[Path, typer.Argument(help="configs/data/generate.yaml")], set_: SetOpt = None
) -> None:
    """Generate validated dialogues from the KG through an OpenAI-compatible server."""
    from chatdoctor.config import load_config
    from training.data.config import project_root
    from training.data.generate import GenerateConfig, run_generation

    cfg = load_config(GenerateConfig, config, set_ or [])
    report = run_generation(cfg, project_root(config))
    req = report["requests"]
    typer.echo(
        f"accepted {report['accepted']}, rejected {sum(report['rejected'].values())} {report['rejected']}, "
        f"unanswered {report['unanswered']}; requests {req['requests']} (cache hits {req['cache_hits']}, "
        f"retries {req['retries']}); tokens {req['prompt_tokens']}+{req['completion_tokens']}; "
        f"cost ${report['cost_usd']} -> {cfg.output}"
    )
    if report["unanswered"]:
        typer.echo(
            "some requests failed; run the same command again to resume (answers are cached)", err=True
        )


@app.command()
def stats(
    path: Annotated[Path, typer.Argument(help="A dataset file.")],
    loader: Annotated[str, typer.Option(help="Loader that reads PATH.")] = "messages",
) -> None:
    """Counts per source and language, turns, and length percentiles."""
    from training.data.loaders import load
    from training.data.stats import summarize

    typer.echo(json.dumps(summarize(load(loader, path)), ensure_ascii=False, indent=2))


@app.command("export-corrections")
def export_corrections(
    dst: Annotated[Path, typer.Argument(help="Output .jsonl / .json / .parquet.")],
    database_url: Annotated[
        str | None, typer.Option(help="Default: the web app's configured database.")
    ] = None,
) -> None:
    """Export clinicians' corrected answers from the web app's database as an instruction set."""
    from training.data.corrections import export

    n = export(dst, database_url)
    typer.echo(f"wrote {n} corrections to {dst}")
