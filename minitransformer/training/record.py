"""RUN/run.json: what a run was, for a person (or a script) reading it later.

    {"command": "python train.py --config configs/stsb_sst2.json", "status": "finished",
     "start": "from the pretrained all-MiniLM-L6-v2", "seed": 0, "options": {...},
     "tasks": [{"name": "stsb", "kind": ..., "train": {"path", "examples", "sha256"}, ...}],
     "versions": {"python", "torch", ...}, "git": {"commit", "dirty"},
     "best": {"step", "epoch", "score", "metrics"}, "wall_seconds", "train_seconds",
     "padding_fraction", ...}

train_seconds counts every session of a resumed run; padding_fraction (the share of the
training batches' token positions that were padding) only the last session's steps.

It is written when training starts (status "running") and again when the run ends
("finished", "interrupted" or "failed"), each time in one piece (storage/atomic.write_json), so
an interrupted run still says what it was.
"""

from __future__ import annotations

import hashlib
import platform
import shlex
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ..storage.atomic import write_json
from ..storage.text import read_json
from .callbacks import PaddingCount

RECORD_FILE = "run.json"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def file_summary(path: str | None, examples: int | None) -> dict | None:
    """{'path', 'examples', 'sha256'} of a data file: enough to tell later whether it changed."""
    if path is None:
        return None
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"path": str(path), "examples": examples, "sha256": digest}


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("minitransformer", "torch", "tokenizers", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed as a package"
    return versions


def git_state(directory: Path = PACKAGE_ROOT) -> dict | None:
    """{'commit', 'dirty'} of the checkout the code runs from; None outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or not a checkout (an installed package)


class RunRecord:
    """Builds and rewrites RUN/run.json over the life of one training command."""

    def __init__(self, run, command: list[str], started: float | None = None) -> None:
        """`run`: a runs.Run, ready to train; `command`: the words of the command line;
        `started`: time.perf_counter() at the command's start (default: now), so that wall
        time includes reading the data."""
        self.path = run.config.run_dir / RECORD_FILE
        self.started = time.perf_counter() if started is None else started
        config = run.config
        self.content = {
            "command": shlex.join(command),
            "working_directory": str(Path.cwd()),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": "running",
            "config_file": None if config.config_file is None else str(config.config_file),
            "start": run.start.description,
            "resumed": config.resume,
            "seed": config.options.seed,
            "options": config.options.to_dict(),
            "max_length": run.start.tokenizer.max_length,
            "max_train": config.max_train,
            "tasks": [{"name": t.spec.name, "kind": t.spec.kind,
                       "labels": t.label_map,
                       "train": file_summary(t.spec.train, len(t.train)),
                       "dev": file_summary(t.spec.dev, len(t.dev) if t.dev else None)}
                      for t in run.tasks],
            "device": str(run.trainer.device),
            "processes": run.trainer.distributed.world_size,
            "versions": library_versions(),
            "git": git_state(),
        }
        if config.resume and self.path.is_file():  # the commands of the earlier sessions
            earlier = read_json(self.path)
            self.content["earlier_commands"] = earlier.get("earlier_commands", []) + \
                [earlier.get("command")]
            self.content["started_at"] = earlier.get("started_at", self.content["started_at"])

    def write(self, status: str, trainer=None) -> None:
        """Rewrite the record with its status, and, given the trainer, the best evaluation."""
        self.content["status"] = status
        self.content["wall_seconds"] = round(time.perf_counter() - self.started, 1)  # this command
        if trainer is not None:
            state = trainer.state
            self.content["elapsed_s"] = round(state.elapsed(), 1)  # all sessions, training
            # and evaluation (a resumed run's earlier sessions included)
            self.content["train_seconds"] = round(state.train_seconds, 1)
            self.content["steps"] = state.global_step
            padding = trainer.find(PaddingCount).fraction()
            self.content["padding_fraction"] = None if padding is None else round(padding, 4)
            scored = [entry for entry in state.history if "score" in entry]
            best = max(scored, key=lambda entry: entry["score"], default=None)
            self.content["best"] = None if best is None else {
                key: best[key] for key in ("step", "epoch", "score", "metrics")}
        if status != "running":
            self.content["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_json(self.path, self.content)
