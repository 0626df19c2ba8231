"""How far one step of each task moves the shared encoder: the gradient norm of the first
batches of each task of a config, from all-MiniLM-L6-v2, before clipping.

    python experiments/gradient_norms.py                     # STS-B (CoSENT) and SST-2
    python experiments/gradient_norms.py configs/all_tasks.json
    (needs ../shared/data and the MiniLM package)

Each task's heads start as in a run with seed 0 (start.new_head, head_hidden included), and the
dropout masks are seeded afresh for each task, so a task's numbers do not depend on which other
tasks the config holds. Batches of 32, max length 128, whatever the config says.

The trainer clips every step's gradient to norm 1.0 (--max-grad-norm), and each step trains one
task: a task whose gradients are far above 1 is clipped to 1 every step, and then its loss
weight changes nothing (docs/experiments.md, "The STS-B gap").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from minitransformer.loading import load_model  # noqa: E402
from minitransformer.tasks.data import TaskSpec, iterate_batches, load_task  # noqa: E402
from minitransformer.tasks.heads import MultiTaskModel  # noqa: E402
from minitransformer.training.run_config import read_config_file  # noqa: E402
from minitransformer.training.start import new_head  # noqa: E402

BATCHES, BATCH_SIZE = 3, 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", default=ROOT / "configs" / "stsb_sst2.json",
                        type=Path, help="a train.py config (default: %(default)s)")
    config = read_config_file(parser.parse_args().config)
    torch.manual_seed(0)
    start = load_model("minilm", "cpu")
    start.tokenizer.set_max_length(128)
    specs = [TaskSpec.from_dict(task) for task in config["tasks"]]
    tasks = [load_task(spec, start.tokenizer, max_train=BATCHES * BATCH_SIZE * 4, seed=0)
             for spec in specs]
    heads = {t.spec.name: new_head(t, start.encoder.config, start.tokenizer, seed=0) for t in tasks}
    model = MultiTaskModel(start.encoder, heads).train()
    for task in tasks:
        torch.manual_seed(0)  # the same dropout masks whichever tasks come before
        norms = []
        for index, batch in enumerate(iterate_batches(task.train, BATCH_SIZE, 0)):
            if index == BATCHES:
                break
            model.zero_grad()
            model(task.spec.name, batch).loss.backward()
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")).item())
        print(f"{task.spec.name}: gradient norm of the first {BATCHES} batches of {BATCH_SIZE}: "
              + ", ".join(f"{norm:.2f}" for norm in norms))


if __name__ == "__main__":
    main()
