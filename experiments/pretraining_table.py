"""The table of docs/experiments.md "What pretraining buys", from the runs of
experiments/pretraining.sh.

    python experiments/pretraining_table.py         # every seed found under runs/transfer

For each start and task: the dev score of the checkpoint each run kept, as mean ± half the range
over the seeds found (the seeds' own values after it), the training seconds per run, and the
command, read back from each run's run.json. The first line gives the pretraining run itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from table_helpers import bare_command, finished_runs, spread

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "transfer"
PRETRAINING = ROOT / "runs" / "pretrain_mlm"
SETTINGS = [  # (run name, start, task, metric), grouped by task
    ("scratch_agnews", "from scratch, lr 1e-3", "agnews", "accuracy"),
    ("own_mlm_agnews", "our MLM pretraining, lr 1e-4", "agnews", "accuracy"),
    ("own_mlm_agnews_lr3e-4", "our MLM pretraining, lr 3e-4", "agnews", "accuracy"),
    ("own_mlm_agnews_lr1e-3", "our MLM pretraining, lr 1e-3", "agnews", "accuracy"),
    ("minilm_agnews", "all-MiniLM-L6-v2, lr 1e-4", "agnews", "accuracy"),
    ("minilm_agnews_with_mlm", "all-MiniLM-L6-v2, lr 1e-4, + MLM on the AG News text", "agnews",
     "accuracy"),
    ("scratch_sst2", "from scratch, lr 1e-3", "sst2", "accuracy"),
    ("own_mlm_sst2", "our MLM pretraining, lr 1e-4", "sst2", "accuracy"),
    ("own_mlm_sst2_lr3e-4", "our MLM pretraining, lr 3e-4", "sst2", "accuracy"),
    ("own_mlm_sst2_lr1e-3", "our MLM pretraining, lr 1e-3", "sst2", "accuracy"),
    ("minilm_sst2", "all-MiniLM-L6-v2, lr 1e-4", "sst2", "accuracy"),
]


def main() -> None:
    if (PRETRAINING / "run.json").is_file():
        record = json.loads((PRETRAINING / "run.json").read_text())
        mlm = record["best"]["metrics"]["mlm"]
        print(f"Pretraining ({record['command']}): {record['steps']} steps in "
              f"{record['train_seconds'] / 60:.0f} min of training "
              f"({record['wall_seconds'] / 60:.0f} min "
              f"in all); dev masked accuracy {mlm['masked_accuracy']:.3f}, perplexity "
              f"{mlm['perplexity']:.1f}.\n")
    print("| start | task | dev accuracy | seeds (each) | train s / run | command |")
    print("|---|---|---|---|---|---|")
    for name, start, task, metric in SETTINGS:
        records = [record for _, record in finished_runs(RUNS, name)]
        if not records:
            continue
        scores = [r["best"]["metrics"][task][metric] for r in records]
        seeds = ", ".join(f"{r['seed']}: {s:.4f}" for r, s in zip(records, scores))
        seconds = sum(r["train_seconds"] for r in records) / len(records)
        command = bare_command(records[0])
        print(f"| {start} | {task} | {spread(scores)} | {seeds} | {seconds:.0f} | `{command}` |")


if __name__ == "__main__":
    sys.exit(main())
