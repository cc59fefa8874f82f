"""Reports: Markdown and HTML tables with confidence intervals, paired comparisons, plots, JSON summary."""

from __future__ import annotations

import html
import json
from pathlib import Path

from chatdoctor.io import atomic_write
from training.eval.config import SuiteConfig
from training.eval.metrics import paired_bootstrap


def _fmt(est: dict) -> str:
    if not est.get("n", 1):
        return "— (n=0)"
    if est["low"] == est["high"] == est["mean"]:
        return f"{est['mean']:.2f}"
    return f"{est['mean']:.2f} [{est['low']:.2f}, {est['high']:.2f}]"


def compare(results: dict[str, dict], suite: SuiteConfig) -> dict[str, dict]:
    """Each system against the first, per metric, on the items both answered (paired bootstrap)."""
    systems = list(results)
    out: dict[str, dict] = {}
    if len(systems) < 2:
        return out
    base = results[systems[0]]
    base_pos = {i: k for k, i in enumerate(base["ids"])}
    for name in systems[1:]:
        other = results[name]
        common = [(base_pos[i], k) for k, i in enumerate(other["ids"]) if i in base_pos]
        for metric, values in other["scores"].items():
            if metric not in base["scores"]:
                continue
            a = [base["scores"][metric][i] for i, _ in common]
            b = [values[k] for _, k in common]
            d = paired_bootstrap(a, b, n_boot=suite.n_boot, seed=suite.seed)
            out.setdefault(f"{name} vs {systems[0]}", {})[metric] = {**vars(d.diff), "p_value": d.p_value}
    return out


def _plot(task: str, by_system: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = sorted({m for r in by_system.values() for m in r["summary"]})
    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(metrics) * len(by_system) / 2, 3.2))
    width = 0.8 / max(len(by_system), 1)
    for k, (name, r) in enumerate(by_system.items()):
        xs = [i + k * width for i in range(len(metrics))]
        means = [r["summary"].get(m, {}).get("mean", 0) for m in metrics]
        errs = [
            [means[i] - r["summary"].get(m, {}).get("low", means[i]) for i, m in enumerate(metrics)],
            [r["summary"].get(m, {}).get("high", means[i]) - means[i] for i, m in enumerate(metrics)],
        ]
        ax.bar(xs, means, width, yerr=errs, capsize=3, label=name)
    ax.set_xticks([i + width * (len(by_system) - 1) / 2 for i in range(len(metrics))], metrics)
    ax.set_title(task)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _markdown(suite: SuiteConfig, summary: dict) -> str:
    lines = [
        f"# Evaluation report: {suite.name}",
        "",
        "Decoding: greedy unless configured; scores ×100 with 95% bootstrap CIs.",
        "",
    ]
    for task, t in summary["tasks"].items():
        metrics = sorted({m for r in t["systems"].values() for m in r["summary"]})
        lines += [
            f"## {task}",
            "",
            "| system | " + " | ".join(metrics) + " |",
            "|---" * (len(metrics) + 1) + "|",
        ]
        for name, r in t["systems"].items():
            lines.append(
                f"| {name} | "
                + " | ".join(_fmt(r["summary"][m]) if m in r["summary"] else "—" for m in metrics)
                + " |"
            )
        first = next(iter(t["systems"].values()), {})
        for bname, b in first.get("baselines", {}).items():
            lines.append(
                f"| *baseline: {bname}* | "
                + " | ".join(_fmt(b[m]) if m in b else "—" for m in metrics)
                + " |"
            )
        for pair, diffs in t["comparisons"].items():
            lines += ["", f"**{pair}** (paired bootstrap, difference of means):", ""]
            lines += [
                f"- {m}: {d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}], p = {d['p_value']:.3f}"
                for m, d in diffs.items()
            ]
        for name, r in t["systems"].items():
            lines += [f"- note ({name}): {n}" for n in r.get("notes", [])]
        lines += ["", f"![{task}](plots/{task}.png)", ""]
    return "\n".join(lines) + "\n"


def write_report(suite: SuiteConfig, results: dict[str, dict[str, dict]], out: Path) -> dict:
    """``results[task][system]`` → summary.json, report.md, report.html and plots/ under ``out``."""
    summary: dict = {"suite": suite.name, "tasks": {}}
    for task, by_system in results.items():
        summary["tasks"][task] = {
            "systems": {
                n: {k: v for k, v in r.items() if k not in ("scores", "ids")} for n, r in by_system.items()
            },
            "comparisons": compare(by_system, suite),
        }
        _plot(task, by_system, out / "plots" / f"{task}.png")
    with atomic_write(out / "summary.json") as f:
        json.dump(summary, f, ensure_ascii=False, indent=2)
    md = _markdown(suite, summary)
    with atomic_write(out / "report.md") as f:
        f.write(md)
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(md)
    page = f"<!doctype html><meta charset=utf-8><title>{html.escape(suite.name)}</title>\n<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}</style>\n{body}"
    with atomic_write(out / "report.html") as f:
        f.write(page)
    return summary
