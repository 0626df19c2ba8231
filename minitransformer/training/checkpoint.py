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
                         both are functions of the seed and the step (training/seeds.py, optim.py).

It loads back without the arguments of the script that trained it: config.json is read here
and only here (`read_checkpoint_description`), and an older format version is brought up to
date in one place (`upgrade`). Writing goes through storage/atomic.py: a crash or a full disk
leaves the previous checkpoint as it was.

An exported run (python -m minitransformer.export) is a BERT directory with the trained heads
beside it, in heads/: config.json (task specs, label maps, pooling) and model.safetensors (the
heads' tensors, named TASK.*); `load_checkpoint` reads that too.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import EncoderConfig
from ..encoder import Encoder
from ..errors import InputError, about, read_format_file
from ..pretrained import load_bert_sentence_encoder, read_mlm_head_weights
from ..sentence import SentenceEncoder
from ..storage.atomic import atomic_directory, write_json
from ..storage.formats import (
    CHECKPOINT_FORMAT,
    CONFIG_FILE,
    HEADS_DIRECTORY,
    HEADS_FORMAT,
    WEIGHTS_FILE,
    Format,
    identify,
)
from ..storage.pickles import load_plain_pickle
from ..storage.safetensors_io import build_to_fit, load_weights, write_safetensors
from ..tasks.data import TaskSpec
from ..tasks.heads import MaskedLanguageModelHead, MultiTaskModel, build_head
from ..tokenizer import Tokenizer

# 2: "progress" holds the loop's times and its window of losses since the last record, and
# "options" always names the batching (version 1 left them out when they had their defaults).
FORMAT_VERSION = 2
TRAINING_STATE = "training_state.pt"


def save_checkpoint(directory: str | Path, model: MultiTaskModel, tokenizer: Tokenizer,
                    tasks: list[dict], extra: dict, training_state: dict | None = None) -> None:
    """Write a checkpoint atomically, replacing one that is there. tasks: [{'spec': TaskSpec
    dict, 'label_map': [...]}, ...]; extra: JSON-able details (options, progress, metrics)."""
    description = {"format": CHECKPOINT_FORMAT, "format_version": FORMAT_VERSION,
                   "encoder": model.encoder.config.to_dict(), "pooling": model.pooling_name,
                   "max_length": tokenizer.max_length, "tasks": tasks, **extra}
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    with atomic_directory(directory) as temporary:
        write_safetensors(temporary / WEIGHTS_FILE, state)
        tokenizer.save(temporary)
        if training_state is not None:
            torch.save(training_state, temporary / TRAINING_STATE)
        write_json(temporary / CONFIG_FILE, description)


def read_checkpoint_description(directory: str | Path) -> dict:
    """The checkpoint's config.json, checked to be one of ours, in the current format version."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"{directory}: no checkpoint here (no {CONFIG_FILE})")
    description = read_format_file(path, CHECKPOINT_FORMAT, FORMAT_VERSION,
                                   ("encoder", "pooling", "max_length", "tasks"),
                                   "training checkpoint")
    return upgrade(description)


def upgrade(description: dict) -> dict:
    """A version-1 description in version 2's terms: the defaults version 1 left out, written
    in. Every other place reads the current version only."""
    if description["format_version"] == 1:
        # Runs of version 1 without a recorded batching trained with padded random batches.
        description.setdefault("options", {}).setdefault("batching", "random")
        progress = description.get("progress")
        if progress is not None:
            history = description.get("history") or [{}]
            progress.setdefault("train_seconds", history[-1].get("train_seconds", 0.0))
            progress.setdefault("elapsed_s", 0.0)
            progress.setdefault("window", {"losses": {}, "examples": 0, "seconds": 0.0})
        description["format_version"] = 2
    return description


def build_heads(tasks: list[dict], config: EncoderConfig,
                tokenizer: Tokenizer) -> dict[str, torch.nn.Module]:
    """New heads for saved task descriptions ({"spec", "label_map"}), to load weights into."""
    heads = {}
    for task in tasks:
        spec = TaskSpec.from_dict(task["spec"])  # validates the saved definition
        heads[spec.name] = build_head(spec.kind, config, tokenizer, task.get("label_map"),
                                      hidden=spec.head_hidden)
    return heads


def load_checkpoint(path: str | Path) -> tuple[MultiTaskModel, Tokenizer, dict]:
    """(MultiTaskModel in eval mode, Tokenizer, description) of a training run (its best
    checkpoint), a checkpoint directory or an exported run."""
    found = identify(path)
    if found.format is Format.EXPORTED_RUN:
        return load_exported_run(found.path)
    if found.format is not Format.CHECKPOINT:
        raise InputError(f"{path}: {found.format.value}, not a training run or checkpoint (it "
                         f"has no task heads)")
    directory = found.path
    description = read_checkpoint_description(directory)
    tokenizer = Tokenizer.load(directory, max_length=description["max_length"])
    with about(directory / CONFIG_FILE):
        config = EncoderConfig.from_dict(description["encoder"])
    with about(directory):  # the sizes are checked against the weights before they are built
        model = build_to_fit(lambda: MultiTaskModel(
            Encoder(config), build_heads(description["tasks"], config, tokenizer),
            pooling=description["pooling"]), directory / WEIGHTS_FILE)
    return model.eval(), tokenizer, description


def save_heads(directory: str | Path, model: MultiTaskModel, description: dict) -> None:
    """The heads of a trained model, with the task specs and label maps of its checkpoint's
    `description`, into `directory` (beside an exported encoder, inside the export's own
    temporary directory)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    heads = {name: tensor.detach().cpu() for name, tensor in model.heads.state_dict().items()}
    write_safetensors(directory / WEIGHTS_FILE, heads)  # named TASK.*, as in model.heads
    write_json(directory / CONFIG_FILE, {
        "format": HEADS_FORMAT, "format_version": FORMAT_VERSION, "pooling": model.pooling_name,
        "tasks": description["tasks"]})


def load_exported_run(directory: Path) -> tuple[MultiTaskModel, Tokenizer, dict]:
    """(MultiTaskModel, Tokenizer, description) of an exported run: the encoder from the BERT
    files, the heads from heads/."""
    heads_directory = directory / HEADS_DIRECTORY
    heads_description = read_format_file(heads_directory / CONFIG_FILE, HEADS_FORMAT,
                                         FORMAT_VERSION, ("pooling", "tasks"), "exported heads")
    sentence_encoder = load_bert_sentence_encoder(directory)
    config = sentence_encoder.encoder.config
    with about(heads_directory / CONFIG_FILE):
        heads = build_heads(heads_description["tasks"], config, sentence_encoder.tokenizer)
    model = MultiTaskModel(sentence_encoder.encoder, heads, pooling=heads_description["pooling"])
    load_weights(model.heads, heads_directory / WEIGHTS_FILE)
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
    """The optimizer and loss-weighting states and the losses of RUN/last, tensors on `device`."""
    path = Path(directory) / TRAINING_STATE
    if not path.is_file():
        raise InputError(f"{directory}: no {TRAINING_STATE}, so nothing to resume")
    state = load_plain_pickle(path, device)  # tensors and plain data only: never runs code
    if not isinstance(state, dict) or not {"optimizer", "weighting", "losses"} <= set(state):
        raise InputError(f"{path}: not a training state this version can read (it lacks the "
                         f"optimizer, weighting or losses)")
    return state


def sentence_encoder_from_checkpoint(directory: str | Path) -> SentenceEncoder:
    """The shared encoder of a training checkpoint as a SentenceEncoder (heads dropped)."""
    model, tokenizer, _ = load_checkpoint(directory)
    return SentenceEncoder(tokenizer, model.encoder, pooling=model.pooling_name)
