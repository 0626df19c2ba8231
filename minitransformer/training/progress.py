"""Seeing a run while it goes: RUN/metrics.jsonl for later, progress for now.

metrics.jsonl holds one JSON object per line, appended and flushed at once, so that it can be
read (or plotted, `python -m minitransformer.plot`) while the run goes on:

    {"type": "train", "step": 50, "epoch": 1, "task": "stsb", "loss": 1.93, "steps": 24,
     "lr": 4.1e-05, "head_lr": 0.00041, "examples_per_s": 41.2, "elapsed_s": 38.5,
     "rss_mib": 912.4, "peak_rss_mib": 1190.0}
    {"type": "eval", "step": 397, "epoch": 1, "metrics": {"stsb": {"spearman": 0.85, ...}, ...},
     "score": 0.86, "elapsed_s": 310.2, "rss_mib": 930.1, "peak_rss_mib": 1190.0}

A training record per task that trained since the last record (its loss averaged over those
`steps`), every `log_every` steps; an evaluation record at each dev evaluation. `lr` is the
rate of the encoder's top layer and `head_lr` the heads' at that step; `elapsed_s` counts wall
time since the run began, resumed runs included; `rss_mib` and `peak_rss_mib` are the process's
resident memory now and at its peak (memory.py; Linux only, left out elsewhere). A resumed run
first drops the records after the step of its checkpoint, then appends: no step is logged twice.
The records are written by the TrainingLog callback (callbacks/training_log.py).

Progress goes to the person watching: a bar on a terminal; otherwise, as when stdout goes to a
file, one plain line every `log_every` steps and at least every LINE_SECONDS seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import InputError
from ..storage.atomic import atomic_file
from ..storage.text import JSONProblem, decode_utf8, parse_json, read_bytes
from ..values import is_integer_at_least

METRICS_FILE = "metrics.jsonl"
LINE_SECONDS = 30.0  # a log shows life at least this often, whatever the step time
PROGRESS_MODES = ("auto", "bar", "lines", "off")


class MetricsLog:
    """Append-only JSON lines, flushed after every record."""

    def __init__(self, path: str | Path, keep_until_step: int | None = None):
        """keep_until_step: None starts a new log; a step keeps the records up to it (resume)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if keep_until_step is not None and self.path.is_file():
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= keep_until_step]
        with atomic_file(self.path) as temporary:  # all of it, or the old one
            temporary.write_text("".join(json.dumps(record) + "\n" for record in kept),
                                 encoding="utf-8")

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a metrics.jsonl, each checked by `check_record`. A half-written last line,
    from a run still going, is skipped; any other line that is not UTF-8, not JSON or not such
    a record raises InputError with the file and line."""
    data = read_bytes(path, "a metrics log")
    complete, _, tail = data.rpartition(b"\n")  # tail: a last line still being written, or b""
    lines = decode_utf8(complete, path).split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            records.append(parse_record(line, f"{path}, line {number}"))
    try:  # the last line may be cut anywhere, even inside a character
        last = parse_json(tail.decode("utf-8"))
    except (UnicodeDecodeError, InputError):
        return records
    # Whole after all (JSON cut short is never JSON): a record, written before its newline.
    return records + [check_record(last, f"{path}, line {len(lines) + 1}")]


def parse_record(line: str, where: str) -> dict:
    """One line of the log as a checked record; `where` names the file and line."""
    try:
        return check_record(parse_json(line), where)
    except JSONProblem as error:
        raise InputError(f"{where}: {error}") from None


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_record(record, where: str) -> dict:
    """`record`, if it is a JSON object with a string "type" and an integer "step" >= 0, and a
    "train" record has a string "task" and numbers "loss" and "lr", an "eval" record "metrics"
    {task: {metric: number or null}}; else an InputError naming `where`. Records of other types
    are kept as they are: a later version may add some."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, got a JSON {type(record).__name__}")
    problem = None
    if not isinstance(record.get("type"), str):
        problem = "no string 'type'"
    elif not is_integer_at_least(record.get("step"), 0):
        problem = "no integer 'step' >= 0"
    elif record["type"] == "train":
        if not isinstance(record.get("task"), str):
            problem = "no string 'task'"
        elif not (is_number(record.get("loss")) and is_number(record.get("lr"))):
            problem = "'loss' and 'lr' must be numbers"
    elif record["type"] == "eval":
        metrics = record.get("metrics")
        if not (isinstance(metrics, dict) and all(
                isinstance(values, dict) and all(value is None or is_number(value)
                                                 for value in values.values())
                for values in metrics.values())):
            problem = "'metrics' must be an object {task: {metric: number}}"
    if problem is not None:
        raise InputError(f"{where}: not a record of a metrics log ({problem})")
    return record


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def resolved_mode(mode: str) -> str:
    """A progress mode with "auto" decided: the bar when stderr is a terminal, else lines."""
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS_MODES)}, got {mode!r}")
    return ("bar" if sys.stderr.isatty() else "lines") if mode == "auto" else mode


class Progress:
    """A bar (mode "bar"), plain lines through `log` ("lines"), or nothing ("off"); "auto" is
    the bar when stderr is a terminal, else lines."""

    def __init__(self, mode: str, total_steps: int, every: int, log=print):
        mode = resolved_mode(mode)
        self.mode, self.total, self.every, self.log = mode, total_steps, max(1, every), log
        self.bar = None
        self.last_line = time.perf_counter()

    def update(self, step: int, epoch: int, epochs: int, losses: dict[str, float],
               examples_per_s: float, elapsed_s: float) -> None:
        """After training step `step` (counted from 1); losses: running loss per task."""
        shown = "  ".join(f"{name} {value:.3f}" for name, value in losses.items())
        if self.mode == "bar":
            if self.bar is None:
                self.bar = tqdm(total=self.total, initial=step - 1, unit="step", dynamic_ncols=True)
            self.bar.set_description(f"epoch {epoch}/{epochs}")
            self.bar.set_postfix_str(f"loss {shown}")
            self.bar.update(1)
        elif self.mode == "lines":
            now = time.perf_counter()
            if step % self.every and now - self.last_line < LINE_SECONDS and step != self.total:
                return
            self.last_line = now
            rate = elapsed_s / max(step, 1)
            self.log(f"step {step}/{self.total} (epoch {epoch}/{epochs})  loss {shown}  "
                     f"{examples_per_s:.1f} ex/s  elapsed {format_duration(elapsed_s)}  "
                     f"ETA {format_duration(rate * (self.total - step))}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
