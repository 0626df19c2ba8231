"""Self-describing training checkpoints, written atomically.

A checkpoint is a directory:

    config.json          format, encoder config, pooling, max length, task specs + label maps,
                         training options, progress (epoch, step), metrics history
    model.safetensors    every weight of the MultiTaskModel (encoder.* and heads.*)
    tokenizer.json, vocab.txt
    training_state.pt    optional: optimizer, scheduler and random-number-generator states,
                         read back with torch.load(weights_only=True) (tensors and plain data)

It loads back without the arguments of the script that trained it. Writing goes to a temporary
directory that replaces the old checkpoint only once complete, so a crash or a full disk
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import torch

from .config import EncoderConfig
from .data import TaskSpec
from .encoder import Encoder
from .heads import (MultiTaskModel, SentenceClassificationHead, SimilarityObjective,
                    TokenClassificationHead)
from .readers import SENTENCE_CLASSIFICATION, SENTENCE_SIMILARITY, TOKEN_CLASSIFICATION
from .safetensors_io import read_safetensors, write_safetensors
from .sentence import SentenceEncoder
from .tokenizer import Tokenizer

FORMAT_NAME = "minitransformer.Checkpoint"
FORMAT_VERSION = 1
TRAINING_STATE = "training_state.pt"


def build_head(kind: str, hidden_size: int, num_labels: int | None, dropout: float = 0.1):
    if kind == SENTENCE_CLASSIFICATION:
        return SentenceClassificationHead(hidden_size, num_labels, dropout)
    if kind == TOKEN_CLASSIFICATION:
        return TokenClassificationHead(hidden_size, num_labels, dropout)
    if kind == SENTENCE_SIMILARITY:
        return SimilarityObjective()
    raise ValueError(f"unknown task kind {kind!r}")


def save_checkpoint(directory: str | Path, model: MultiTaskModel, tokenizer: Tokenizer,
                    tasks: list[dict], extra: dict, training_state: dict | None = None) -> None:
    """Write a checkpoint atomically. tasks: [{'spec': TaskSpec dict, 'label_map': [...]}, ...];
    extra: JSON-able details (options, progress, metrics)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary = directory.parent / f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        temporary.mkdir()
        description = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                       "encoder": model.encoder.config.to_dict(), "pooling": model.pooling_name,
                       "max_length": tokenizer.max_length, "tasks": tasks, **extra}
        state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
        write_safetensors(temporary / "model.safetensors", state)
        tokenizer.save(temporary)
        if training_state is not None:
            torch.save(training_state, temporary / TRAINING_STATE)
        (temporary / "config.json").write_text(json.dumps(description, indent=2) + "\n")
        # Swap: old -> .old, new -> final, then drop .old. At every moment one complete
        # checkpoint exists under a known name.
        old = directory.parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
        if directory.exists():
            directory.rename(old)
        temporary.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def read_checkpoint_description(directory: str | Path) -> dict:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {directory} (no config.json)")
    description = json.loads(path.read_text(encoding="utf-8"))
    if description.get("format") != FORMAT_NAME:
        raise ValueError(f"{path} is not a minitransformer training checkpoint")
    return description


def load_checkpoint(directory: str | Path):
    """(MultiTaskModel, Tokenizer, description) from a checkpoint directory."""
    directory = Path(directory)
    description = read_checkpoint_description(directory)
    config = EncoderConfig.from_dict(description["encoder"])
    heads = {}
    for task in description["tasks"]:
        spec = TaskSpec.from_dict(task["spec"])  # validates the saved definition
        labels = task.get("label_map")
        heads[spec.name] = build_head(spec.kind, config.hidden_size,
                                         len(labels) if labels else None)
    model = MultiTaskModel(Encoder(config), heads, pooling=description["pooling"])
    model.load_state_dict(read_safetensors(directory / "model.safetensors"), strict=True)
    tokenizer = Tokenizer.load(directory, max_length=description["max_length"])
    return model.eval(), tokenizer, description


def load_training_state(directory: str | Path) -> dict:
    path = Path(directory) / TRAINING_STATE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no {TRAINING_STATE}: it cannot be resumed")
    return torch.load(path, weights_only=True)


def sentence_encoder_from_checkpoint(directory: str | Path) -> SentenceEncoder:
    """The shared encoder of a training checkpoint as a SentenceEncoder (heads dropped)."""
    model, tokenizer, _ = load_checkpoint(directory)
    return SentenceEncoder(tokenizer, model.encoder, pooling=model.pooling_name)
