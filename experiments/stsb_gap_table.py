"""The table of docs/experiments.md "The STS-B gap", from the runs of experiments/stsb_gap.sh.

    python experiments/stsb_gap_table.py            # every seed found under runs/ablation
    python experiments/stsb_gap_table.py --levers   # issue 30's levers, against `pair`

For each setting: STS-B dev Spearman and SST-2 dev accuracy of the checkpoint the run kept (its
best mean score), the best STS-B Spearman any of its evaluations reached (and after which epoch),
and the command, read back from each run's run.json and metrics.jsonl. (No times: other work
shared the machine during some of these runs.) The levers' table adds what each run cost: its
steps, seconds of training per step and peak resident memory (metrics.jsonl's peak_rss_mib);
short test runs shared the machine with some of them, so the times are rough.
"""

from __future__ import annotations

import sys
from pathlib import Path

from table_helpers import finished_runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from minitransformer.training.progress import read_metrics  # noqa: E402

RUNS = ROOT / "runs" / "ablation"
SETTINGS = [  # (run name, what changes), in the order of experiments/stsb_gap.sh
    ("stsb_alone", "STS-B alone (the single-task recipe)"),
    ("pair", "+ SST-2 (proportional sampler, weights 1:1, head lr 10x)"),
    ("pair_head_lr_1x", "pair, SST-2 head at the encoder's rate"),
    ("pair_sst2_weight_0.2", "pair, SST-2 loss weight 0.2"),
    ("pair_round_robin", "pair, round-robin sampler"),
    ("pair_uncertainty", "pair, uncertainty weighting"),
    ("pair_mlp_head", "pair, MLP heads (d -> 128 -> ReLU -> classes)"),
    ("pair_sst2_weight_0.1", "pair, SST-2 loss weight 0.1"),
    ("pair_sst2_weight_0.05", "pair, SST-2 loss weight 0.05"),
    ("pair_mlp_head_sst2_weight_0.2", "pair, MLP heads and SST-2 loss weight 0.2"),
    ("pair_mlp_head_hidden_lr_3x", "pair, MLP heads, hidden layer at 3x the head's rate"),
    ("pair_mlp_head_hidden_lr_3x_sst2_weight_0.2", "pair, MLP heads, hidden layer at 3x, "
     "SST-2 loss weight 0.2"),
    ("pair_mlp_head_hidden_lr_3x_layer_decay_1.1", "pair, MLP heads, hidden layer at 3x, "
     "layer decay d = 1.1 (lower layers faster)"),
    ("pair_mlp_head_hidden_lr_3x_layer_decay_0.95", "pair, MLP heads, hidden layer at 3x, "
     "layer decay d = 0.95"),
]

LEVERS = [  # issue 30: levers that act under clipping, each against `pair`
    ("stsb_alone", "STS-B alone"),
    ("pair", "pair (linear heads, weights 1:1)"),
    ("pair_step_scale_sst2_0.5", "pair, SST-2 steps at step scale 0.5"),
    ("pair_distill_1", "pair, distillation toward the start, weight 1"),
    ("pair_distill_from_stsb_alone_1", "pair, distillation toward STS-B alone, weight 1"),
    ("pair_distill_from_stsb_alone_10", "pair, distillation toward STS-B alone, weight 10"),
    ("pair_distill_10", "pair, distillation toward the start, weight 10"),
    ("pair_mixed_stsb_weight_0.02", "pair, mixed steps, STS-B loss weight 0.02"),
    ("pair_step_scale_stsb_2", "pair, STS-B steps at step scale 2"),
    ("pair_mixed_pcgrad_stsb_weight_0.02", "pair, mixed steps, PCGrad, STS-B loss weight 0.02"),
    ("pair_mixed", "pair, mixed steps"),
    ("pair_mixed_pcgrad", "pair, mixed steps, PCGrad"),
]


def rows(settings: list[tuple[str, str]]):
    """For every finished seed of each setting: (setting, run directory, run.json, the kept
    checkpoint's metrics, its SST-2 accuracy as a cell, the command without its run directory)."""
    for name, setting in settings:
        for run, record in finished_runs(RUNS, name):
            kept = record["best"]["metrics"]
            sst2 = f"{kept['sst2']['accuracy']:.4f}" if "sst2" in kept else ""
            yield setting, run, record, kept, sst2, record["command"].split(" --run-dir")[0]


def levers_table() -> None:
    print("| setting | seed | STS-B Spearman (kept) | SST-2 acc (kept) | steps | s / step | "
          "peak MiB | command |")
    print("|---|---|---|---|---|---|---|---|")
    for setting, run, record, kept, sst2, command in rows(LEVERS):
        peak = max(r.get("peak_rss_mib", 0) for r in read_metrics(run / "metrics.jsonl"))
        print(f"| {setting} | {record['seed']} | {kept['stsb']['spearman']:.4f} | {sst2} | "
              f"{record['steps']} | {record['train_seconds'] / record['steps']:.2f} | "
              f"{peak:,.0f} | `{command}` |")


def main() -> None:
    if "--levers" in sys.argv[1:]:
        return levers_table()
    print("| setting | seed | STS-B Spearman (kept) | SST-2 acc (kept) | best STS-B (epoch) | "
          "command |")
    print("|---|---|---|---|---|---|")
    for setting, run, record, kept, sst2, command in rows(SETTINGS):
        evals = [r for r in read_metrics(run / "metrics.jsonl") if r["type"] == "eval"]
        best = max(evals, key=lambda r: r["metrics"]["stsb"]["spearman"])
        print(f"| {setting} | {record['seed']} | {kept['stsb']['spearman']:.4f} | {sst2} | "
              f"{best['metrics']['stsb']['spearman']:.4f} ({best['epoch']}) | `{command}` |")


if __name__ == "__main__":
    main()
