"""The reference run of the training loop: what the Trainer wrote before it was split into a
loop and callbacks, kept so that later loops can be compared with it (test_callbacks.py).

    git worktree add /tmp/before e89f8bd          # the last commit before the split
    cp tests/trainer_reference.py /tmp/before/tests/
    cd /tmp/before && PYTHONPATH=.:tests python tests/trainer_reference.py OUT.json e89f8bd

wrote the fixture (that commit's package and test_trainer.py; run here, with today's, the same
command gives the same file on the same machine).
Only what a run writes to its files is kept (metrics.jsonl, RUN/last, RUN/best), so any version
of the loop can be summarised the same way.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

from minitransformer.storage.safetensors_io import read_safetensors
from minitransformer.training.progress import read_metrics

REFERENCE = Path(__file__).parent / "fixtures" / "trainer_reference.json"
CLOCK_FIELDS = {"elapsed_s", "examples_per_s", "train_seconds", "rss_mib", "peak_rss_mib"}
# Two runs that reach every callback: dropout, an evaluation at the start and every 3 steps,
# records every 2 steps and gradual unfreezing; then the levers inside the step.
RUNS = {"plain": dict(dropout=0.1, epochs=3, eval_every=3, eval_start=True, log_every=2,
                      unfreeze_every=2, unfreeze_unit="steps"),
        "levers": dict(dropout=0.1, epochs=2, tasks_per_step=2, gradient_surgery="pcgrad",
                       distill_weight=0.5, loss_weighting="uncertainty", log_every=1)}


def weight_sums(path: Path) -> dict[str, list[float]]:
    """Each tensor of a checkpoint as (sum, sum of absolute values): a fingerprint that a
    tolerance can compare."""
    return {name: [float(t.double().sum()), float(t.double().abs().sum())]
            for name, t in read_safetensors(path).items()}


def run_summary(run_dir: Path) -> dict:
    """What a run wrote, without the clock and memory readings."""
    records = [{k: v for k, v in r.items() if k not in CLOCK_FIELDS}
               for r in read_metrics(run_dir / "metrics.jsonl")]
    state = torch.load(run_dir / "last" / "training_state.pt", weights_only=False)
    return {"records": records, "losses": state["losses"],
            "last": weight_sums(run_dir / "last" / "model.safetensors"),
            "best": weight_sums(run_dir / "best" / "model.safetensors")}


def reference_runs(make_trainer, tokenizer, task_files, directory: Path) -> dict:
    summaries = {}
    for name, options in RUNS.items():
        make_trainer(tokenizer, task_files, directory / name, **options).train()
        summaries[name] = run_summary(directory / name)
    return summaries


if __name__ == "__main__":  # test_trainer.py's fixtures, as that commit's tests have them
    from test_trainer import ROWS, make_trainer

    try:
        from minitransformer.model.tokenizer import Tokenizer
    except ImportError:  # that commit's layout: the model files at the package's top
        from minitransformer.tokenizer import Tokenizer
    from minitransformer.tasks.data import TaskSpec

    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory) / "data.jsonl"
        data.write_text("".join(json.dumps({"text": t, "topic": a, "sentiment": b}) + "\n"
                                for t, a, b in ROWS))
        specs = [TaskSpec(name, "sentence_classification", data, data, label_field=name)
                 for name in ("topic", "sentiment")]
        tokens = Tokenizer.train([text for text, _, _ in ROWS], vocab_size=200, min_frequency=1)
        runs = reference_runs(make_trainer, tokens, specs, Path(directory))
    Path(sys.argv[1]).write_text(json.dumps({"made_with_commit": sys.argv[2], "runs": runs}) +
                                 "\n")
