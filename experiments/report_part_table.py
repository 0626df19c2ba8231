"""Issue 47's table: one model per task against one model for all, on the report part of every
dev set (the part nothing read while choosing: minitransformer/tasks/dev_split.py), from the
runs of experiments/report_part.sh under runs/p47.

    python experiments/report_part_table.py                 # single_T and all
    python experiments/report_part_table.py all_teachers    # + a column per all-tasks setting

For each task: its main metric on the report part, RUN/best (chosen on the select part) and,
in brackets, the final weights, as mean ± half the range over the seeds found; a setting run
with --ema-decay also gives its final average. Then each all-tasks setting's difference to the
single-task runs over the seeds both have, and a line per setting with its command and times.
"""

from __future__ import annotations

import sys
from pathlib import Path

from table_helpers import bare_command, finished_runs, mean, spread

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "p47"
TASKS = [  # (task, main metric), in the order of configs/all_tasks.json
    ("stsb", "spearman"), ("sst2", "accuracy"), ("sst3", "accuracy"), ("agnews", "accuracy"),
    ("ner", "entity_f1"), ("wnut", "entity_f1"), ("domain", "accuracy"), ("sentiment", "accuracy"),
]


def report_scores(name: str, task: str, metric: str, which: str = "best") -> dict[int, float]:
    """{seed: the task's report-part score of `which` weights (best, final or averaged)}."""
    return {record["seed"]: record["parts"][which]["report"][task][metric]
            for _, record in finished_runs(RUNS, name.format(task=task))
            if which in record.get("parts", {}) and task in record["parts"][which]["report"]}


def cell(name: str, task: str, metric: str) -> str:
    best = report_scores(name, task, metric)
    if not best:
        return "-"
    text = spread(list(best.values()))
    final = report_scores(name, task, metric, "final")
    text += f" [{mean(list(final.values())):.4f}]" if final else ""
    averaged = report_scores(name, task, metric, "averaged")
    return text + (f" {{avg {mean(list(averaged.values())):.4f}}}" if averaged else "")


def main(settings: list[str]) -> None:
    columns = ["single_{task}", "all", *settings]
    print("| task | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for task, metric in TASKS:
        print(f"| {task} ({metric}) | " +
              " | ".join(cell(column, task, metric) for column in columns) + " |")
    print("\nreport part, RUN/best minus single_T, over the seeds both have:")
    for setting in columns[1:]:
        gaps = []
        for task, metric in TASKS:
            single, multi = report_scores("single_{task}", task, metric), \
                report_scores(setting, task, metric)
            seeds = sorted(set(single) & set(multi))
            gaps.append(f"{task} {mean([multi[s] - single[s] for s in seeds]):+.4f}"
                        if seeds else f"{task} -")
        print(f"  {setting}: " + ", ".join(gaps))
    print("\nruns (commands without seed and run directory; training-step seconds):")
    for setting in columns:
        for task, _ in TASKS if "{task}" in setting else [(None, None)]:
            for run, record in finished_runs(RUNS, setting.format(task=task)):
                print(f"  {run.name}: {bare_command(record)}  "
                      f"({record['train_seconds']:.0f} s steps, {record['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
