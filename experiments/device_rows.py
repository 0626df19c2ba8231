"""Issue 30's rows side by side on one GPU machine, in the run directories the shell scripts use.

On this project's 2-core CPU the rows below take about 40 hours one after another (an all-tasks
row 50 min, a pair row 14). A GPU runs one of them in a few minutes, and a machine with 16 cores
runs many at once: each row is still one plain `train.py` command, only `--device cuda` is added.

    python experiments/device_rows.py --jobs 14 --deadline 540     # on the GPU machine
    python experiments/device_rows.py --list                         # the commands, in order
    python experiments/device_rows.py --dry-run --jobs 2 --deadline 60  # small rows, on CPU

Rows (seeds 0 and 1 each; written where stsb_gap.sh and all_tasks.sh write theirs, so their table
scripts read them):
- runs/ablation: STS-B alone, the pair, and every lever of `stsb_gap.sh SEED levers`;
- runs/all_tasks: `all`, the single-task rows, `all` with each candidate lever, the leave-one-out
  rows, one row on the full training sets (configs/all_tasks_full.json, seed 0), and MT-DNN's
  second stage from `all` and from the lever whose `all` rows reach the best mean STS-B.

Status: run so far only as `--dry-run` on the 2-core CPU (the small rows finish and pack); no GPU
machine has been lent to a session since it was written, so no row in the docs comes from it.
The longest rows start first, so that the short ones fill the slots at the end. A row still
running at the deadline is stopped and left out. After every finished row, the run records
(run.json, metrics.jsonl and the log; no checkpoints) are packed into --pack.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1)
TASKS = ("stsb", "sst2", "sst3", "agnews", "ner", "wnut", "domain", "sentiment")
PAIR = ("--config", "configs/stsb_sst2.json", "--epochs", "2", "--batch-size", "32", "--lr", "5e-5")
ALL = ("--config", "configs/all_tasks.json")
PAIR_LEVERS = {  # the same rows as experiments/stsb_gap.sh SEED levers
    "stsb_alone": ("--tasks", "stsb"),
    "pair": (),
    "pair_step_scale_sst2_0.5": ("--step-scale", "sst2=0.5"),
    "pair_step_scale_stsb_2": ("--step-scale", "stsb=2"),
    "pair_distill_1": ("--distill-weight", "1"),
    "pair_distill_10": ("--distill-weight", "10"),
    # {seed}: the row's seed; a --distill-from run must have finished first (Row.after)
    "pair_distill_from_stsb_alone_1": ("--distill-weight", "1", "--distill-from",
                                       "runs/ablation/stsb_alone_s{seed}"),
    "pair_distill_from_stsb_alone_10": ("--distill-weight", "10", "--distill-from",
                                        "runs/ablation/stsb_alone_s{seed}"),
    "pair_mixed": ("--tasks-per-step", "2"),
    "pair_mixed_pcgrad": ("--tasks-per-step", "2", "--gradient-surgery", "pcgrad"),
    "pair_mixed_stsb_weight_0.02": ("--tasks-per-step", "2", "--loss-weight", "stsb=0.02"),
    "pair_mixed_pcgrad_stsb_weight_0.02": ("--tasks-per-step", "2", "--gradient-surgery",
                                           "pcgrad", "--loss-weight", "stsb=0.02"),
}
ALL_LEVERS = {  # candidates for the all-tasks run, chosen before the pair rows were known
    "step_scale_stsb_2": ("--step-scale", "stsb=2"),
    "step_scale_stsb_3": ("--step-scale", "stsb=3"),
    "distill_1": ("--distill-weight", "1"),
    "distill_1_step_scale_stsb_2": ("--distill-weight", "1", "--step-scale", "stsb=2"),
    "mixed_2_pcgrad": ("--tasks-per-step", "2", "--gradient-surgery", "pcgrad"),
    # the pair's winner (docs/experiments.md, "Levers under clipping"), as all_tasks.sh SEED levers
    "distill_from_single_stsb_1": ("--distill-weight", "1", "--distill-from",
                                   "runs/all_tasks/single_stsb_s{seed}"),
    # ... with the taggers' batches left free (they lost with the term on every batch)
    "distill_from_single_stsb_1_not_taggers": (
        "--distill-weight", "1", "--distill-from", "runs/all_tasks/single_stsb_s{seed}",
        "--distill-task-weight", "ner=0", "--distill-task-weight", "wnut=0"),
}
LEAVE_ONE_OUT = {  # which task teaches which: `all` without the suspected teacher
    "all_without_ner": tuple(t for t in TASKS if t != "ner"),
    "all_without_sst": tuple(t for t in TASKS if t not in ("sst2", "sst3")),
}


def for_seed(flags: tuple[str, ...], seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the flags with {seed} filled in, the run directories they need finished first)."""
    flags = tuple(flag.format(seed=seed) for flag in flags)
    after = tuple(flags[i + 1] for i, flag in enumerate(flags) if flag == "--distill-from")
    return flags + ("--seed", str(seed)), after


@dataclass
class Row:
    directory: str  # runs/<group>/<name>_s<seed>
    args: tuple[str, ...]
    after: tuple[str, ...] = ()  # directories that must have finished first
    process: subprocess.Popen | None = field(default=None, repr=False)
    started: float = 0.0


def base_rows() -> list[Row]:
    """Every row known before any has run, longest first."""
    rows = [Row("runs/all_tasks/all_full_s0", ("--config", "configs/all_tasks_full.json",
                                                "--seed", "0"))]
    for seed in SEEDS:
        rows.append(Row(f"runs/all_tasks/all_s{seed}", ALL + ("--seed", str(seed))))
        for name, flags in ALL_LEVERS.items():
            flags, after = for_seed(flags, seed)
            rows.append(Row(f"runs/all_tasks/all_{name}_s{seed}", ALL + flags, after))
    for seed in SEEDS:
        for name, tasks in LEAVE_ONE_OUT.items():
            rows.append(Row(f"runs/all_tasks/{name}_s{seed}",
                            ALL + ("--tasks", ",".join(tasks), "--seed", str(seed))))
    for seed in SEEDS:
        for name, flags in PAIR_LEVERS.items():
            flags, after = for_seed(flags, seed)
            rows.append(Row(f"runs/ablation/{name}_s{seed}", PAIR + flags, after))
    for seed in SEEDS:
        for task in TASKS:
            rows.append(Row(f"runs/all_tasks/single_{task}_s{seed}",
                            ALL + ("--tasks", task, "--seed", str(seed))))
    return rows


def mtdnn_rows(source: str) -> list[Row]:
    """MT-DNN's second stage: each task alone for one epoch from the `source` all-tasks runs."""
    prefix = "mtdnn" if source == "all" else f"mtdnn_{source.removeprefix('all_')}"
    return [Row(f"runs/all_tasks/{prefix}_{task}_s{seed}",
                ALL + ("--tasks", task, "--init", f"runs/all_tasks/{source}_s{seed}",
                       "--epochs", "1", "--seed", str(seed)),
                after=(f"runs/all_tasks/{source}_s{seed}",))
            for seed in SEEDS for task in TASKS]


def finished(directory: str) -> dict | None:
    path = ROOT / directory / "run.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return record if record.get("status") == "finished" else None


def best_lever() -> str | None:
    """The `all` lever whose rows (both seeds) reach the best mean STS-B, once all have finished."""
    means = {}
    for name in ALL_LEVERS:
        records = [finished(f"runs/all_tasks/all_{name}_s{seed}") for seed in SEEDS]
        if any(r is None for r in records):
            return None
        means[name] = sum(r["best"]["metrics"]["stsb"]["spearman"] for r in records) / len(SEEDS)
    return max(means, key=means.get)


def pack(target: Path) -> None:
    """Run records and logs (not checkpoints) into one archive, replaced whole."""
    partial = target.with_suffix(".part")
    with tarfile.open(partial, "w:gz") as archive:
        for group in ("runs/ablation", "runs/all_tasks"):
            for path in sorted((ROOT / group).glob("*")):
                if path.suffix == ".log":
                    archive.add(path, path.relative_to(ROOT))
                elif path.is_dir():
                    for name in ("run.json", "metrics.jsonl"):
                        if (path / name).is_file():
                            archive.add(path / name, (path / name).relative_to(ROOT))
    os.replace(partial, target)


def command(row: Row, device: str, dry_run: bool) -> list[str]:
    extra = ("--max-train", "400", "--epochs", "1") if dry_run else ()  # 400: every label seen
    return [sys.executable, "train.py", *row.args, *extra, "--device", device,
            "--progress", "lines", "--overwrite", "--run-dir", row.directory]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=14, help="rows at once")
    parser.add_argument("--deadline", type=float, default=540, help="seconds until rows stop")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--pack", type=Path, default=ROOT / "runs" / "device_rows.tgz")
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="small rows (400 examples a task, one epoch)")
    args = parser.parse_args()

    waiting = base_rows() + mtdnn_rows("all")
    if args.list:
        for row in waiting:
            print(" ".join(command(row, args.device, args.dry_run)))
        return
    end = time.monotonic() + args.deadline
    running: list[Row] = []
    done: set[str] = set()
    lever_added = False
    environment = dict(os.environ, OMP_NUM_THREADS="1", RAYON_NUM_THREADS="2",
                       PYTHONUNBUFFERED="1")
    while (waiting or running) and time.monotonic() < end:
        for row in list(running):
            if row.process.poll() is None:
                continue
            running.remove(row)
            ok = finished(row.directory) is not None
            if ok:
                done.add(row.directory)
            print(f"{time.strftime('%T')} {'done' if ok else 'FAILED'} {row.directory} "
                  f"({time.monotonic() - row.started:.0f} s)", flush=True)
            pack(args.pack)
        if not lever_added and (lever := best_lever()) is not None:
            print(f"best all-tasks lever by mean STS-B: {lever}", flush=True)
            waiting += mtdnn_rows(f"all_{lever}")
            lever_added = True
        for row in list(waiting):
            if len(running) >= args.jobs:
                break
            if all(d in done for d in row.after):
                waiting.remove(row)
                (ROOT / row.directory).parent.mkdir(parents=True, exist_ok=True)
                log = open(ROOT / f"{row.directory}.log", "w")
                row.process = subprocess.Popen(command(row, args.device, args.dry_run), cwd=ROOT,
                                               stdout=log, stderr=subprocess.STDOUT,
                                               env=environment)
                row.started = time.monotonic()
                running.append(row)
        time.sleep(1)
    for row in running:
        row.process.terminate()
        print(f"stopped at the deadline: {row.directory}", flush=True)
    for row in running:
        row.process.wait()
    print(f"left: {len(waiting)} not started; {len(done)} finished", flush=True)
    pack(args.pack)


if __name__ == "__main__":
    main()
