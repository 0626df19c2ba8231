"""Run the transfer-learning experiments and write their tables into docs/experiments.md.

    python experiments/run.py                    # every row, seeds 0 and 1 (about 45 min on
                                                 # 2 cores)
    python experiments/run.py --only pooling     # one table
    python experiments/run.py --tables-only      # rewrite the tables from the results so far
    python experiments/run.py --jobs 2           # two rows at a time, one thread each

Each row is one `train.py` command (MiniLM start, real data from ../shared/data, a random
subsample of each training file so that a row takes a minute or two on a laptop CPU). Results go
to experiments/results.jsonl, one line per (row, seed); rows already there are not run again,
so an interrupted run continues where it stopped. The tables (mean and spread over seeds, the
trainable parameters and the training time per epoch) replace the part of docs/experiments.md
between the two marker lines; the text around them is written by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results.jsonl"
RUNS = ROOT / "experiments" / "runs"
DOC = ROOT / "docs" / "experiments.md"
START, END = "<!-- tables: start (written by experiments/run.py) -->", "<!-- tables: end -->"

TWO_TASKS = ["--config", "configs/sst3_agnews.json", "--max-train", "1500", "--epochs", "1"]
SIMILARITY = ["--config", "configs/stsb_sst2.json", "--max-train", "1500", "--epochs", "2"]


@dataclass(frozen=True)
class Row:
    table: str
    label: str
    args: tuple[str, ...]

    @property
    def key(self) -> str:  # the same command in two tables runs once
        return " ".join(self.args)


def rows() -> list[Row]:
    table = []

    def add(name, label, *args):
        table.append(Row(name, label, tuple(args)))

    for pooling in ("cls", "mean", "max"):
        add("pooling", f"{pooling}, encoder frozen", *SIMILARITY, "--freeze", "backbone",
            "--pooling", pooling)
    for label, args in [("none (everything trains)", []),
                        ("all but the heads (backbone frozen)", ["--freeze", "backbone"]),
                        ("one head frozen (sst3)", ["--freeze", "head:sst3"]),
                        ("embeddings", ["--freeze", "embeddings"]),
                        ("embeddings + layers 1-3", ["--freeze", "layers:3"]),
                        ("gradual unfreezing, a depth every 12 steps",
                         ["--unfreeze-every", "12steps"])]:  # params: all, at the end
        add("freezing", label, *TWO_TASKS, *args)
    for decay in ("1.1", "1.0", "0.95", "0.9", "0.8"):  # d > 1: lower layers faster
        add("layer decay", f"d = {decay}", *TWO_TASKS, *([] if decay == "1.0" else
                                                         ["--layer-decay", decay]))
    add("single vs multi-task", "multi-task: sst3 + agnews", *TWO_TASKS)
    add("single vs multi-task", "single task: sst3", *TWO_TASKS, "--tasks", "sst3")
    add("single vs multi-task", "single task: agnews", *TWO_TASKS, "--tasks", "agnews")
    add("sampler", "proportional", *TWO_TASKS)
    add("sampler", "round robin", *TWO_TASKS, "--sampler", "round_robin")
    add("sampler", "temperature, T = 2", *TWO_TASKS, "--sampler", "temperature")
    add("loss weighting", "static, equal weights", *TWO_TASKS)
    add("loss weighting", "uncertainty (Kendall et al.)", *TWO_TASKS,
        "--loss-weighting", "uncertainty")
    add("pretraining", "MiniLM start, 1 epoch", *TWO_TASKS, "--tasks", "agnews")
    add("pretraining", "from scratch (small preset, own WordPiece), 3 epochs", *TWO_TASKS,
        "--tasks", "agnews", "--init", "scratch", "--epochs", "3", "--lr", "1e-3")
    return table


def run_row(row: Row, seed: int, threads: int | None = None) -> dict:
    slug = f"{hashlib.sha1(row.key.encode()).hexdigest()[:10]}-seed{seed}"
    command = [sys.executable, "train.py", *row.args, "--seed", str(seed),
               "--run-dir", str(RUNS / slug)]
    environment = dict(os.environ)
    if threads:  # torch's intra-op threads; jobs side by side must not fight over the cores
        environment["OMP_NUM_THREADS"] = str(threads)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    description = json.loads((RUNS / slug / "last" / "config.json").read_text())
    final = description["history"][-1]
    epochs = final["epoch"]
    row_result = {"key": row.key, "seed": seed, "metrics": final["metrics"],
                  "train_seconds_per_epoch": final["train_seconds"] / max(1, epochs),
                  "trainable_parameters": final["trainable_parameters"],
                  "wall_seconds": round(time.perf_counter() - started, 1)}
    shutil.rmtree(RUNS / slug)  # a checkpoint of MiniLM with its Adam state is ~350 MB
    return row_result


def load_results() -> dict[tuple[str, int], dict]:
    if not RESULTS.exists():
        return {}
    lines = RESULTS.read_text().splitlines()
    return {(r["key"], r["seed"]): r for r in map(json.loads, lines) if r}


def main_metrics(metrics: dict) -> list[tuple[str, float]]:
    """(task metric name, value) for each task: accuracy, entity F1 or Spearman."""
    values = []
    for task, scores in metrics.items():
        name = next(m for m in ("accuracy", "entity_f1", "spearman") if m in scores)
        values.append((f"{task} {name}", scores[name]))
    return values


def spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    if len(values) == 1:
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {(max(values) - min(values)) / 2:.3f}"


def format_tables(results: dict) -> str:
    parts = []
    tables: dict[str, list[Row]] = {}
    for row in rows():
        tables.setdefault(row.table, []).append(row)
    for name, table_rows in tables.items():
        if not any(key == row.key for row in table_rows for key, _ in results):
            continue  # nothing measured yet
        columns = []
        for row in table_rows:
            for seed_result in [r for (k, _), r in results.items() if k == row.key]:
                for column, _ in main_metrics(seed_result["metrics"]):
                    if column not in columns:
                        columns.append(column)
        lines = [f"### {name}", "",
                 "| setting | " + " | ".join(columns) + " | seeds | trainable params | "
                 "train s / epoch | command |",
                 "|---|" + "---|" * (len(columns) + 4)]
        for row in table_rows:
            found = sorted((r for (k, _), r in results.items() if k == row.key),
                           key=lambda r: r["seed"])
            if not found:
                continue
            cells = []
            for column in columns:
                values = [dict(main_metrics(r["metrics"])).get(column) for r in found]
                values = [v for v in values if v is not None]
                cells.append(spread(values) if values else "")
            seconds = statistics.mean(r["train_seconds_per_epoch"] for r in found)
            command = "python train.py " + " ".join(row.args)
            lines.append(f"| {row.label} | " + " | ".join(cells) +
                         f" | {','.join(str(r['seed']) for r in found)} | "
                         f"{found[-1]['trainable_parameters']:,} | {seconds:.0f} | `{command}` |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def write_doc(results: dict) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Experiments\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the marker lines {START!r} and {END!r}")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    DOC.write_text(f"{before}{START}\n\n{format_tables(results)}\n\n{END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--only", help="run only the rows of this table (e.g. pooling)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="rows run side by side, each with cores/jobs threads (default 1)")
    parser.add_argument("--tables-only", action="store_true",
                        help="do not train; rewrite the tables from experiments/results.jsonl")
    args = parser.parse_args()
    results = load_results()
    if not args.tables_only:
        todo = [(row, seed) for row in rows() for seed in args.seeds
                if (args.only is None or row.table == args.only)]
        unique = {}  # the same command in two tables runs once; measured rows not again
        for row, seed in todo:
            if (row.key, seed) not in results:
                unique.setdefault((row.key, seed), (row, seed))
        threads = max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else None
        with ThreadPoolExecutor(args.jobs) as pool:  # threads only wait on subprocesses
            futures = {pool.submit(run_row, row, seed, threads): (row, seed)
                       for row, seed in unique.values()}
            for number, future in enumerate(as_completed(futures), 1):
                row, seed = futures[future]
                result = future.result()
                results[(row.key, seed)] = result
                with RESULTS.open("a") as file:
                    file.write(json.dumps(result) + "\n")
                print(f"[{number}/{len(unique)}] {row.table}: {row.label}, seed {seed}: "
                      f"{dict(main_metrics(result['metrics']))}, {result['wall_seconds']} s",
                      flush=True)
                write_doc(results)
    write_doc(results)
    print(f"tables written to {DOC}")


if __name__ == "__main__":
    main()
