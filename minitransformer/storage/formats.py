"""What a model directory holds: the one place that tells the project's formats apart.

Every command that takes a model or a run (`--model`, `--init`, `train.py evaluate`, `export`)
asks `identify`, which reads only the directory's names and its config.json's "format" (or
BERT's "model_type"); each format's own loader then reads and checks the rest.

    format             config.json says                       what it is
    SENTENCE_ENCODER   "format": "minitransformer.SentenceEncoder"   SentenceEncoder.save
    CHECKPOINT         "format": "minitransformer.Checkpoint"        a training checkpoint:
                                                                     encoder + heads
    EXPORTED_RUN       BERT's config, and heads/config.json          `export` of a run
    BERT               "model_type": "bert" (or BERT's sizes alone)  HF / sentence-transformers

A training run's directory (RUN/run.json, RUN/best/, RUN/last/) stands for its best checkpoint.
Only this file reads the "format" field; `read_description` checks it and the version for a
format's reader.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError, shown
from .text import read_json

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
SENTENCE_ENCODER_FORMAT = "minitransformer.SentenceEncoder"
CHECKPOINT_FORMAT = "minitransformer.Checkpoint"
HEADS_FORMAT = "minitransformer.Heads"
HEADS_DIRECTORY = "heads"  # beside an exported encoder: the run's trained heads
# The newest version of each of our formats that this code writes and reads.
SAVED_MODEL_VERSION = 1
# 2: "progress" holds the loop's times and its window of losses since the last record, and
# "options" always names the batching (version 1 left them out when they had their defaults).
CHECKPOINT_VERSION = 2
HEADS_VERSION = 2  # an export's heads/ (written with the checkpoint's version number)
BEST, LAST = "best", "last"  # a run's best checkpoint, and its latest (resumable) one
TEACHERS = "teachers"  # a run's teacher stage: RUN/teachers/NAME (training/teacher_stage.py)
# The sizes a BERT config.json must give (the rest have BERT's defaults). An older or
# hand-written one may carry only these, without "model_type".
BERT_CONFIG_KEYS = ("vocab_size", "hidden_size", "num_attention_heads", "num_hidden_layers",
                    "intermediate_size", "max_position_embeddings")


class Format(enum.Enum):
    SENTENCE_ENCODER = "a saved minitransformer model"
    CHECKPOINT = "a training checkpoint"
    EXPORTED_RUN = "an exported run (BERT files and heads/)"
    BERT = "a BERT checkpoint"


@dataclass(frozen=True)
class ModelDirectory:
    path: Path  # the directory whose config.json was read (RUN/best for a run)
    format: Format
    run: Path | None = None  # the run directory, when a run was named

    @property
    def has_heads(self) -> bool:
        """A multi-task model (encoder and trained heads), not an encoder alone."""
        return self.format in (Format.CHECKPOINT, Format.EXPORTED_RUN)


def is_run_directory(path: Path) -> bool:
    """A training run's directory: its best checkpoint in best/, no config.json of its own."""
    return (path / BEST / CONFIG_FILE).is_file() and not (path / CONFIG_FILE).is_file()


def identify(path: str | Path) -> ModelDirectory:
    """The format of the model or run at `path`, or an InputError that names the path and says
    what is missing."""
    path = Path(path)
    run = None
    if is_run_directory(path):
        run, path = path, path / BEST
    if not path.is_dir():
        raise InputError(f"{shown(str(path))}: "
                         + ("no such directory" if not path.exists() else "is a file")
                         + ", so neither a training run nor a model directory")
    if not (path / CONFIG_FILE).is_file():
        raise InputError(f"{shown(str(path))}: holds no {CONFIG_FILE} (nor {BEST}/{CONFIG_FILE}), "
                         f"so it is neither a model directory nor a training run")
    config = read_json(path / CONFIG_FILE)
    declared = config.get("format")
    if declared == SENTENCE_ENCODER_FORMAT:
        return ModelDirectory(path, Format.SENTENCE_ENCODER, run)
    if declared == CHECKPOINT_FORMAT:
        return ModelDirectory(path, Format.CHECKPOINT, run)
    if declared is None and (config.get("model_type") == "bert"
                             or all(key in config for key in BERT_CONFIG_KEYS)):
        exported = (path / HEADS_DIRECTORY / CONFIG_FILE).is_file()
        return ModelDirectory(path, Format.EXPORTED_RUN if exported else Format.BERT, run)
    raise InputError(f"{shown(str(path / CONFIG_FILE))}: neither a minitransformer model nor a "
                     f"BERT checkpoint (format {declared!r}, model_type "
                     f"{config.get('model_type')!r})")


def read_description(path: Path, format_name: str, max_version: int, keys: tuple[str, ...],
                     what: str) -> dict:
    """A config.json of one of our formats: {"format": format_name, "format_version":
    v <= max_version, and every key in `keys`}; `what` names the format for people."""
    description = read_json(path)
    if description.get("format") != format_name:
        raise InputError(f"{shown(str(path))}: not a minitransformer {what} "
                         f"(format {description.get('format')!r})")
    version = description.get("format_version")
    if not isinstance(version, int) or version > max_version:
        raise InputError(f"{shown(str(path))}: format_version {version!r}; this minitransformer "
                         f"reads versions up to {max_version}")
    missing = [key for key in keys if key not in description]
    if missing:
        raise InputError(f"{shown(str(path))}: missing key(s) {', '.join(missing)}")
    return description


# A schema: {field: (what its value must be, for the message; the test of a value)}.
Schema = dict[str, tuple[str, Callable[[object], bool]]]


def whole_number(low: int) -> tuple[str, Callable[[object], bool]]:
    """A schema entry: an integer >= low (JSON's true and 512.0 are not integers)."""
    return (f"an integer >= {low}",
            lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= low)


BOOLEAN = ("true or false", lambda value: isinstance(value, bool))
NUMBER = ("a number", lambda value: isinstance(value, (int, float)) and not isinstance(value, bool))
TEXT = ("a string", lambda value: isinstance(value, str))


def check_schema(path: Path, values: dict, schema: Schema, nullable: tuple[str, ...] = ()) -> None:
    """Refuse the first field of `values` (a JSON object read from `path`) whose value the test
    of `schema` refuses: '<path>: <field> must be <what>, got <value>'. A field the schema does
    not name is left alone (another program's files carry many we do not read), and so is an
    absent one, or a null one if it is in `nullable` (the reader then takes its default)."""
    for name, (what, test) in schema.items():
        if name not in values or (values[name] is None and name in nullable):
            continue
        if not test(values[name]):
            raise InputError(f"{shown(str(path))}: {name} must be {what}, got "
                             f"{values[name]!r:.60}")


def holds_only(directory: Path, format: Format) -> bool:
    """Whether `directory` is missing, empty, or a model of `format` (which a save may replace
    without losing anything of a person's)."""
    if not directory.is_dir() or not any(directory.iterdir()):
        return True
    try:
        found = identify(directory)
    except InputError:
        return False
    return found.format is format and found.run is None
