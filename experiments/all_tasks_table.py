"""The single-vs-all table of docs/experiments.md, from the runs of experiments/all_tasks.sh.

    python experiments/all_tasks_table.py           # every seed found under runs/all_tasks
    python experiments/all_tasks_table.py all_distill_from_single_stsb_1   # + columns for the
                                        # all-tasks runs with a lever (all_tasks.sh SEED levers)
    python experiments/all_tasks_table.py all_without_ner all_without_sst   # leave-one-out
    python experiments/all_tasks_table.py 'mtdnn_distill_from_single_stsb_1_{task}'  # {task}: a
                                        # run per task

For each task, its dev score (the task's main metric, from the checkpoint each run kept) as
mean ± half the range over the seeds found: trained alone from MiniLM (single_T), inside the
all-tasks model (all), and MT-DNN, one more epoch of T alone from the all-tasks run (mtdnn_T);
then the differences to the single-task run over the seeds both have. A second table counts the
training steps each task had alone and inside the all-tasks run, where the sampler draws each
step's task at random. The last lines give the commands and times. The MT-DNN rows start from
the all-tasks run's best checkpoint (best mean score over the tasks), their heads at the usual
head rate (10 x lr).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from table_helpers import bare_command, finished_runs, mean, spread

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "all_tasks"
TASKS = [  # (task, main metric), in the order of configs/all_tasks.json
    ("stsb", "spearman"), ("sst2", "accuracy"), ("sst3", "accuracy"), ("agnews", "accuracy"),
    ("ner", "entity_f1"), ("wnut", "entity_f1"), ("domain", "accuracy"), ("sentiment", "accuracy"),
]


def scores(name: str, task: str, metric: str) -> dict[int, float]:
    """{seed: the task's dev score} over the finished runs of one setting that trained the task
    (a leave-one-out run lacks one). `name` may hold {task}: then the runs of that task."""
    return {record["seed"]: record["best"]["metrics"][task][metric]
            for _, record in finished_runs(RUNS, name.format(task=task))
            if task in record["best"]["metrics"]}


def steps_inside(run: Path) -> dict[str, int]:
    """{task: training steps it had} in a multi-task run, from the training records of its
    metrics.jsonl (each counts the steps of its task since the record before)."""
    steps: dict[str, int] = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "train":
            steps[record["task"]] = steps.get(record["task"], 0) + record["steps"]
    return steps


def cell(values: dict[int, float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        (seed, value), = values.items()
        return f"{value:.4f} (seed {seed})"
    return f"{spread(list(values.values()))} (seeds {', '.join(map(str, sorted(values)))})"


def difference(values: dict[int, float], reference: dict[int, float]) -> str:
    """Mean difference over the seeds both settings have."""
    seeds = sorted(set(values) & set(reference))
    if not seeds:
        return "-"
    return f"{mean([values[s] - reference[s] for s in seeds]):+.4f}"


def main() -> None:
    levers = sys.argv[1:]  # more all-tasks settings (run names without _sSEED), as columns
    header = "".join(f" {name} | {name} - single |" for name in levers)
    print("| task (metric) | single task | all tasks | all - single | MT-DNN | MT-DNN - single |"
          + header)
    print("|---|---|---|---|---|---|" + "---|---|" * len(levers))
    for task, metric in TASKS:
        single, together = scores(f"single_{task}", task, metric), scores("all", task, metric)
        mtdnn = scores(f"mtdnn_{task}", task, metric)
        cells = [cell(single), cell(together), difference(together, single), cell(mtdnn),
                 difference(mtdnn, single)]
        for name in levers:
            values = scores(name, task, metric)
            cells += [cell(values), difference(values, single)]
        print(f"| {task} ({metric}) | " + " | ".join(cells) + " |")
    print()
    inside = {record["seed"]: steps_inside(run) for run, record in finished_runs(RUNS, "all")}
    total = {seed: sum(steps.values()) for seed, steps in inside.items()}
    print("| task | steps alone | steps inside the all-tasks run (share) |")
    print("|---|---|---|")
    for task, _ in TASKS:
        alone = sorted({record["steps"] for _, record in finished_runs(RUNS, f"single_{task}")})
        shares = [f"{steps[task]} ({100 * steps[task] / total[seed]:.1f} %, seed {seed})"
                  for seed, steps in sorted(inside.items())]
        print(f"| {task} | {', '.join(map(str, alone)) or '-'} | {'; '.join(shares) or '-'} |")
    print()
    per_task = ["single_{task}", "mtdnn_{task}"] + [name for name in levers if "{task}" in name]
    whole = [name for name in levers if "{task}" not in name]
    for name in ["all", *whole] + [kind.format(task=task) for kind in per_task
                                   for task, _ in TASKS]:
        runs = finished_runs(RUNS, name)
        if runs:
            minutes = mean([record["train_seconds"] for _, record in runs]) / 60
            print(f"- {name}: `{bare_command(runs[0][1])}`, {minutes:.1f} min of training "
                  f"({len(runs)} seed(s))")


if __name__ == "__main__":
    sys.exit(main())
