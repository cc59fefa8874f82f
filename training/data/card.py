"""The dataset card (``README.md``) written next to every build, rendered from its manifest."""

from __future__ import annotations

from typing import Any


def render_card(manifest: dict[str, Any], description: str = "") -> str:
    """A short Markdown card: what went in, what each step removed, what came out."""
    lines = [f"# Dataset `{manifest['name']}`", ""]
    if description:
        lines += [description.strip(), ""]
    lines += [
        f"Built {manifest['created_at']} by `chatdoctor data build`; schema `{manifest['schema']}` "
        "(JSON Lines of `{id, source, messages: [{role, content}], lang, license, meta}`, see docs/data.md).",
        "",
        "Generated, model-written and crawled medical text: for research; it informs and does not replace a clinician.",
        "",
        "## Inputs",
        "",
        "| source | loader | records loaded | after cleaning | files (sha256) |",
        "|---|---|---|---|---|",
    ]
    for inp in manifest["inputs"]:
        files = "<br>".join(f"`{f['path'].rsplit('/', 1)[-1]}` {f['sha256'][:12]}…" for f in inp["files"][:3])
        lines.append(
            f"| {inp['name']} | {inp['loader']} | {inp.get('records_loaded', '—')} | "
            f"{inp.get('records_after_cleaning', '—')} | {files} |"
        )
    for skip in manifest.get("skipped_sources", []):
        lines.append(f"| {skip['name']} | — | skipped: {skip['reason']} | — | `{skip['path']}` |")
    lines += ["", "## Steps", "", "| step | in | out | removed | changed |", "|---|---|---|---|---|"]
    for st in manifest["steps"]:
        lines.append(
            f"| {st['step']} | {st['input']} | {st['output']} | {st['removed']} | {st.get('changed', '')} |"
        )
    lines += ["", "## Splits", "", "| split | records | by source | by language |", "|---|---|---|---|"]
    for name, sp in manifest["splits"].items():
        src = ", ".join(f"{k} {v}" for k, v in sp["by_source"].items())
        lang = ", ".join(f"{k} {v}" for k, v in sp["by_lang"].items())
        lines.append(f"| {name} | {sp['records']} | {src} | {lang} |")
    lines += [
        "",
        "Near-duplicates never cross splits (split by MinHash cluster). Full counts: `manifest.json`.",
        "",
    ]
    return "\n".join(lines)
