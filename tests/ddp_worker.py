"""Trains the tiny two-task model of test_distributed.py; run alone or under torchrun.

    python ddp_worker.py WORKDIR            # one process
    torchrun --nproc_per_node=2 ddp_worker.py WORKDIR

WORKDIR holds data.jsonl and tokenizer files; every rank writes its final parameters to
WORKDIR/out-<world size>-rank<rank>.safetensors and its losses to a .json beside them.
"""

import json
import sys
from pathlib import Path

from conftest import make_encoder

from minitransformer.model.tokenizer import Tokenizer
from minitransformer.storage.safetensors_io import write_safetensors
from minitransformer.tasks.data import TaskSpec, load_task
from minitransformer.tasks.heads import MultiTaskModel, build_head
from minitransformer.training.distributed import init_distributed, shutdown_distributed
from minitransformer.training.trainer import Trainer, TrainingOptions

# Gradual unfreezing (DDP is rebuilt as layers join) and learned loss weights (averaged by
# hand: they live outside the DDP-wrapped model) ride along, so they are checked too.
OPTIONS = dict(epochs=2, batch_size=4, lr=3e-3, warmup=0.0, seed=5, sampler="round_robin",
               unfreeze_every=3, unfreeze_unit="steps", loss_weighting="uncertainty")


def main(workdir: Path) -> None:
    distributed = init_distributed()
    tokenizer = Tokenizer.load(workdir / "tokenizer")
    data = workdir / "data.jsonl"
    specs = [TaskSpec(name, "sentence_classification", data, data, label_field=name)
             for name in ("topic", "sentiment")]
    tasks = [load_task(spec, tokenizer) for spec in specs]
    encoder = make_encoder(tokenizer.vocab_size, seed=1)  # dropout 0: no randomness per rank
    heads = {t.spec.name: build_head(t.spec.kind, encoder.config, tokenizer, t.label_map, 0.0)
             for t in tasks}
    model = MultiTaskModel(encoder, heads)
    run_dir = workdir / f"run-{distributed.world_size}"
    trainer = Trainer(model, tokenizer, tasks, TrainingOptions(**OPTIONS), run_dir,
                      log=lambda *a: None, progress="off", distributed=distributed)
    trainer.train()
    name = f"out-{distributed.world_size}-rank{distributed.rank}"
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state.update({f"weighting.{k}": v.detach().clone()
                  for k, v in trainer.weighting.state_dict().items()})
    write_safetensors(workdir / f"{name}.safetensors", state)
    (workdir / f"{name}.json").write_text(json.dumps({"losses": trainer.state.losses}))
    shutdown_distributed(distributed)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
