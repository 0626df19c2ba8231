"""Self-describing training checkpoints, written atomically.

A checkpoint is a directory:

    config.json          format, encoder config, pooling, max length, task specs + label maps,
                         training options, progress (epoch, step), metrics history
    model.safetensors    every weight of the MultiTaskModel (encoder.* and heads.*)
    tokenizer.json, vocab.txt
    training_state.pt    in RUN/last only: optimizer, loss-weighting and random-number-generator
                         states and the losses so far, read back with torch.load(weights_only=True)
                         (tensors and plain data). No scheduler state: the learning rate is a
                         function of the step (optim.warmup_linear_factor).

It loads back without the arguments of the script that trained it: config.json is read here
and only here (`read_checkpoint_description`), its format version checked. Writing goes to a
temporary directory that replaces the old checkpoint only once complete, so a crash or a full
disk leaves the previous checkpoint intact.

An exported run (python -m minitransformer.export) is a BERT directory with the trained heads
beside it, in HEADS_DIRECTORY: config.json (task specs, label maps, pooling) and
model.safetensors (the heads' tensors, named TASK.*); `load_checkpoint` reads that too.
"""

from __future__ import annotations

import pickle
import shutil
import uuid
from pathlib import Path

import torch

from ..config import EncoderConfig
from ..encoder import Encoder
from ..errors import InputError, about, read_format_file, write_json
from ..pretrained import load_bert_sentence_encoder, read_mlm_head_weights
from ..sentence import SentenceEncoder
from ..storage.safetensors_io import load_weights, read_safetensors, write_safetensors
from ..tasks.data import TaskSpec
from ..tasks.heads import MaskedLanguageModelHead, MultiTaskModel, build_head
from ..tokenizer import Tokenizer

FORMAT_NAME = "minitransformer.Checkpoint"
FORMAT_VERSION = 1
TRAINING_STATE = "training_state.pt"
HEADS_DIRECTORY = "heads"
HEADS_FORMAT = "minitransformer.Heads"


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
        write_json(temporary / "config.json", description)
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
    """The checkpoint's config.json, checked to be one of ours in a format we can read."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise InputError(f"{directory}: no checkpoint here (no config.json)")
    return read_format_file(path, FORMAT_NAME, FORMAT_VERSION,
                            ("encoder", "pooling", "max_length", "tasks"), "training checkpoint")


def load_checkpoint(directory: str | Path):
    """(MultiTaskModel, Tokenizer, description) from a checkpoint directory, or from an exported
    run (a BERT directory with its heads in HEADS_DIRECTORY)."""
    directory = Path(directory)
    if (directory / HEADS_DIRECTORY / "config.json").is_file():
        return load_exported_run(directory)
    description = read_checkpoint_description(directory)
    tokenizer = Tokenizer.load(directory, max_length=description["max_length"])
    with about(directory / "config.json"):
        config = EncoderConfig.from_dict(description["encoder"])
        heads = {}
        for task in description["tasks"]:
            spec = TaskSpec.from_dict(task["spec"])  # validates the saved definition
            labels = task.get("label_map")
            heads[spec.name] = build_head(spec.kind, config, tokenizer, labels,
                                          hidden=spec.head_hidden)
        model = MultiTaskModel(Encoder(config), heads, pooling=description["pooling"])
    load_weights(model, directory / "model.safetensors")
    return model.eval(), tokenizer, description


def save_heads(directory: str | Path, model: MultiTaskModel, description: dict) -> None:
    """The heads of a trained model, with the task specs and label maps of its checkpoint's
    `description`, into `directory` (beside an exported encoder)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    heads = {name: tensor.detach().cpu() for name, tensor in model.heads.state_dict().items()}
    write_safetensors(directory / "model.safetensors", heads)  # named TASK.*, as in model.heads
    write_json(directory / "config.json", {
        "format": HEADS_FORMAT, "format_version": FORMAT_VERSION, "pooling": model.pooling_name,
        "tasks": description["tasks"]})


def load_exported_run(directory: Path):
    """(MultiTaskModel, Tokenizer, description) of an exported run: the encoder from the BERT
    files, the heads from HEADS_DIRECTORY."""
    heads_directory = directory / HEADS_DIRECTORY
    heads_description = read_format_file(heads_directory / "config.json", HEADS_FORMAT,
                                         FORMAT_VERSION, ("pooling", "tasks"), "exported heads")
    sentence_encoder = load_bert_sentence_encoder(directory)
    config = sentence_encoder.encoder.config
    with about(heads_directory / "config.json"):
        heads = {}
        for task in heads_description["tasks"]:
            spec = TaskSpec.from_dict(task["spec"])
            labels = task.get("label_map")
            heads[spec.name] = build_head(spec.kind, config, sentence_encoder.tokenizer, labels,
                                          hidden=spec.head_hidden)
    model = MultiTaskModel(sentence_encoder.encoder, heads, pooling=heads_description["pooling"])
    load_weights(model.heads, heads_directory / "model.safetensors")
    # A masked-LM head reads the token table, which the export may have rescaled (sinusoidal
    # positions): the BERT files hold the head in the exported table's terms, so take it there.
    mlm_heads = [head for head in model.heads.values() if isinstance(head, MaskedLanguageModelHead)]
    bert_mlm_head = read_mlm_head_weights(directory)
    if len(mlm_heads) == 1 and bert_mlm_head is not None:
        mlm_heads[0].load_state_dict(bert_mlm_head)
    description = {**heads_description, "encoder": config.to_dict(),
                   "max_length": sentence_encoder.tokenizer.max_length}
    return model.eval(), sentence_encoder.tokenizer, description


def load_training_state(directory: str | Path, device: torch.device | str = "cpu") -> dict:
    """The optimizer and random states of RUN/last, tensors placed on `device`."""
    path = Path(directory) / TRAINING_STATE
    if not path.is_file():
        raise InputError(f"{directory}: no {TRAINING_STATE}, so nothing to resume")
    try:
        # weights_only: tensors and plain containers only; a pickle that would run code fails.
        return torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise InputError(f"{path}: not a training state this version can read "
                         f"({str(error).splitlines()[0]})") from None


def sentence_encoder_from_checkpoint(directory: str | Path) -> SentenceEncoder:
    """The shared encoder of a training checkpoint as a SentenceEncoder (heads dropped)."""
    model, tokenizer, _ = load_checkpoint(directory)
    return SentenceEncoder(tokenizer, model.encoder, pooling=model.pooling_name)
