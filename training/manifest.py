"""Each stage directory's record: resolved config, data checksums, code version, seeds, metrics, loss curve."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from chatdoctor.config import to_dict
from chatdoctor.io import atomic_write, sha256_file

if TYPE_CHECKING:
    from training.config import PipelineConfig
    from training.pipeline import StagePlan

MANIFEST = "manifest.json"


def git_commit() -> str:
    """The checkout's commit (``+dirty`` when files changed), or ``unknown`` outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def read_manifest(stage_dir: str | Path) -> dict[str, Any] | None:
    """The stage's manifest, or None when it never started."""
    path = Path(stage_dir) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def is_finished(stage_dir: str | Path) -> bool:
    """True when the stage finished (its manifest says so and its model is saved)."""
    m = read_manifest(stage_dir)
    return bool(m and m.get("status") == "finished" and (Path(stage_dir) / "model").is_dir())


@dataclass
class Manifest:
    """Written at the start (status running) and at the end (status finished) of a stage."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    write: bool = True

    @property
    def finished(self) -> bool:
        return self.data.get("status") == "finished"

    @classmethod
    def start(cls, pipe: PipelineConfig, plan: StagePlan, world_size: int, write: bool = True) -> Manifest:
        stage = plan.stage
        old = read_manifest(plan.dir) or {}
        data = {
            "status": "running",
            "stage": stage.name,
            "template": pipe.template,
            "method": pipe.method,
            "base": plan.base,
            "init_adapter": plan.init_adapter,
            "data": {p: sha256_file(p) for p in filter(None, [stage.dataset, stage.eval_dataset])},
            "code": git_commit(),
            "seeds": {"model": pipe.seed, "data": stage.seed},
            "world_size": world_size,
            "started": old.get("started") or _now(),
            "attempts": int(old.get("attempts", 0)) + 1,
        }
        manifest = cls(plan.dir / MANIFEST, data, write)
        if write:
            with atomic_write(plan.dir / "config.yaml") as f:
                yaml.safe_dump(
                    {**to_dict(pipe), "stages": [to_dict(stage)]}, f, sort_keys=False, allow_unicode=True
                )
            manifest.save()
        return manifest

    def finish(self, **results: Any) -> None:
        self.data.update(results, status="finished", finished=_now())
        self.save()

    def save(self) -> None:
        if self.write:
            with atomic_write(self.path) as f:
                json.dump(self.data, f, indent=2, ensure_ascii=False, default=str)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def plot_loss(log_history: list[dict[str, Any]], out: Path) -> None:
    """Training (and eval) loss against step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("loss", "eval_loss"):
        points = [(h["step"], h[key]) for h in log_history if key in h]
        if points:
            ax.plot(*zip(*points, strict=True), label=key, marker="." if len(points) < 50 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    with atomic_write(out, "wb") as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
