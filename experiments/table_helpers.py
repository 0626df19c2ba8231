"""What the experiment tables share: reading back finished runs, and a score over seeds."""

from __future__ import annotations

import json
import re
from pathlib import Path


def finished_runs(runs: Path, name: str) -> list[tuple[Path, dict]]:
    """(directory, run.json) of every finished seed of one setting (RUNS/NAME_sSEED), by seed."""
    records = []
    for run in sorted(runs.glob(f"{name}_s*")):
        if re.fullmatch(rf"{re.escape(name)}_s\d+", run.name) and (run / "run.json").is_file():
            record = json.loads((run / "run.json").read_text())
            if record.get("status") == "finished":
                records.append((run, record))
    return records


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def spread(values: list[float]) -> str:
    """Mean ± half the range over seeds (the noise the tables quote)."""
    if len(values) == 1:
        return f"{values[0]:.4f} (one seed)"
    return f"{mean(values):.4f} ± {(max(values) - min(values)) / 2:.4f}"


def bare_command(record: dict) -> str:
    """A run's command without its seed, run directory and progress mode."""
    return re.sub(r" --seed \d+| --run-dir \S+| --progress \S+", "", record["command"])
