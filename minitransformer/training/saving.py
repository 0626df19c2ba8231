"""Self-describing training checkpoints, written atomically.

A checkpoint is a directory:

    config.json          format and version, encoder config, pooling, max length, task specs +
                         label maps, training options, the loop's progress (epoch, step, times,
                         best score, evaluation history)
    model.safetensors    every weight of the MultiTaskModel (encoder.* and heads.*)
    tokenizer.json, vocab.txt
    training_state.pt    in RUN/last only: the optimizer's and the loss weighting's states and
                         the losses so far, read back with torch.load(weights_only=True) (tensors
                         and plain data only). No random-number state and no scheduler state:
                         both are functions of the seed and the step (training/seeds.py,
                         optimizer.py).

It loads back without the arguments of the script that trained it, through loading.py like
every model (load_model, load_model_with_heads); there config.json is read in one place
(`read_checkpoint_description`) and an older format version is brought up to date (`upgrade`).
Writing goes through storage/atomic.py: a crash or a full disk leaves the previous checkpoint
as it was.

An exported run (python -m minitransformer.export) is a BERT directory with the trained heads
beside it, in heads/ (save_heads here; loading.read_exported_run reads it).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import InputError
from ..model.tokenizer import Tokenizer
from ..storage.atomic import atomic_directory, write_json
from ..storage.formats import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CONFIG_FILE,
    HEADS_FORMAT,
    HEADS_VERSION,
    WEIGHTS_FILE,
)
from ..storage.pickles import load_plain_pickle
from ..storage.safetensors_io import write_safetensors
from ..tasks.heads import MultiTaskModel

TRAINING_STATE = "training_state.pt"


def save_checkpoint(directory: str | Path, model: MultiTaskModel, tokenizer: Tokenizer,
                    tasks: list[dict], extra: dict, training_state: dict | None = None) -> None:
    """Write a checkpoint atomically, replacing one that is there. tasks: [{'spec': TaskSpec
    dict, 'label_map': [...]}, ...]; extra: JSON-able details (options, progress, metrics)."""
    description = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
                   "encoder": model.encoder.config.to_dict(), "pooling": model.pooling_name,
                   "max_length": tokenizer.max_length, "tasks": tasks, **extra}
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    with atomic_directory(directory) as temporary:
        write_safetensors(temporary / WEIGHTS_FILE, state)
        tokenizer.save(temporary)
        if training_state is not None:
            torch.save(training_state, temporary / TRAINING_STATE)
        write_json(temporary / CONFIG_FILE, description)


def save_heads(directory: str | Path, model: MultiTaskModel, description: dict) -> None:
    """The heads of a trained model, with the task specs and label maps of its checkpoint's
    `description`, into `directory` (beside an exported encoder, inside the export's own
    temporary directory)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    heads = {name: tensor.detach().cpu() for name, tensor in model.heads.state_dict().items()}
    write_safetensors(directory / WEIGHTS_FILE, heads)  # named TASK.*, as in model.heads
    write_json(directory / CONFIG_FILE, {
        "format": HEADS_FORMAT, "format_version": HEADS_VERSION, "pooling": model.pooling_name,
        "tasks": description["tasks"]})


def load_training_state(directory: str | Path, device: torch.device | str = "cpu") -> dict:
    """The optimizer and loss-weighting states and the losses of RUN/last, tensors on `device`."""
    path = Path(directory) / TRAINING_STATE
    if not path.is_file():
        raise InputError(f"{directory}: no {TRAINING_STATE}, so nothing to resume")
    state = load_plain_pickle(path, device)  # tensors and plain data only: never runs code
    if not isinstance(state, dict) or not {"optimizer", "weighting", "losses"} <= set(state):
        raise InputError(f"{path}: not a training state this version can read (it lacks the "
                         f"optimizer, weighting or losses)")
    return state
