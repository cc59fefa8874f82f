"""Resuming an interrupted stage from its last checkpoint, also with a different number of ranks.

A ZeRO checkpoint holds one optimizer shard per rank. When the rank count changed (two ranks wrote
it, one resumes), rank 0 converts it once to DeepSpeed's universal format (``ds_to_universal``) and
every rank loads that (``checkpoint.load_universal``): weights, optimizer moments and schedule survive.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chatdoctor.errors import ChatDoctorError

log = logging.getLogger("chatdoctor.train")


def last_checkpoint(stage_dir: Path) -> str | None:
    """The newest ``checkpoint-N`` with a trainer state (a half-written one is skipped)."""
    found = []
    for d in stage_dir.glob("checkpoint-*"):
        step = d.name.rsplit("-", 1)[-1]
        if step.isdigit() and (d / "trainer_state.json").is_file():
            found.append((int(step), d))
    return str(max(found)[1]) if found else None


def zero_ranks(checkpoint: str | Path) -> int:
    """How many ranks wrote a ZeRO checkpoint (0 when it is not a DeepSpeed checkpoint)."""
    tag = _latest_tag(Path(checkpoint), "latest")
    return len(list((Path(checkpoint) / tag).glob("*optim_states.pt"))) if tag else 0


def deepspeed_settings(ds_config: str | None, checkpoint: str | None, world_size: int, rank: int) -> Any:
    """The DeepSpeed config for this run: the file, or a dict loading a universal checkpoint."""
    if not ds_config or not checkpoint:
        return ds_config
    ranks = zero_ranks(checkpoint)
    if ranks in (0, world_size):
        return ds_config
    if rank == 0:
        log.info("%s was written by %d ranks; converting it for %d", checkpoint, ranks, world_size)
        to_universal(Path(checkpoint))
    _wait_for(Path(checkpoint) / "latest_universal")
    settings = json.loads(Path(ds_config).read_text(encoding="utf-8"))
    settings.setdefault("checkpoint", {})["load_universal"] = True
    return settings


def to_universal(checkpoint: Path) -> None:
    """Convert ``checkpoint/<latest tag>`` to ``<tag>_universal`` and point ``latest_universal`` at it."""
    if (checkpoint / "latest_universal").is_file():
        return
    tag = _latest_tag(checkpoint, "latest")
    cmd = [
        sys.executable, "-m", "deepspeed.checkpoint.ds_to_universal", "--input_folder", str(checkpoint / tag),
        "--output_folder", str(checkpoint / f"{tag}_universal"), "--inject_missing_state",
    ]  # fmt: skip
    if subprocess.call(cmd) != 0:
        raise ChatDoctorError(f"{checkpoint}: converting to a universal checkpoint failed (see above)")
    tmp = checkpoint / ".latest_universal.tmp"
    tmp.write_text(f"{tag}_universal", encoding="utf-8")
    os.replace(tmp, checkpoint / "latest_universal")


def _latest_tag(checkpoint: Path, name: str) -> str | None:
    path = checkpoint / name
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def _wait_for(path: Path, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise ChatDoctorError(f"timed out waiting for {path} (written by rank 0)")
        time.sleep(1)
