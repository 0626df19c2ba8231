"""Tasks and data for multi-task learning: what a task is, its label map, its encoded examples,
and batches with dynamic padding.

The path from a file to a batch:

    TaskSpec --read--> examples --build_label_map--> label map (sorted label strings)
             --encode_examples--> EncodedDataset (token ids once, label ids)
             --iterate_batches / collate--> tensors padded to the longest sequence of the batch

What differs between kinds of task (fields, encoding, the batch layout) is in kinds.py; reading
the files is in readers.py; across tasks a sampler (samplers.py) picks the task of each step.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

from ..errors import InputError
from ..model.config import MAX_SIZES, check_fields
from ..model.tokenizer import Tokenizer
from ..values import is_integer_at_least
from .dev_split import REPORT, SELECT, split_parts
from .kinds import IGNORE_INDEX, KINDS, TaskKind, get_kind, read_examples
from .readers import DataError, Example, TokenExample

TASK_NAME = re.compile(r"[A-Za-z0-9_-]+")


# ---- what a task is -----------------------------------------------------------------------------
@dataclass
class TaskSpec:
    """One task: its name, kind, files and the field names of its records.

    The field defaults depend on the kind (kinds.py): text/label for sentence classification,
    sentence1/sentence2/score for similarity, and none for token classification (CoNLL files
    have no field names).
    """

    name: str  # unique among the tasks of a model; names its head and its metrics
    kind: str  # a name of kinds.KINDS
    train: str  # path of the training file (.jsonl, .csv, .tsv; .conll for token tasks)
    dev: str | None = None  # path of the dev file, same format rules; None = no evaluation
    text_field: str | None = None  # the text (the first text for similarity)
    label_field: str | None = None  # the class label, or the similarity score
    second_text_field: str | None = None  # similarity only: the second text
    head_hidden: int | None = None  # classifier heads: d -> head_hidden -> ReLU -> classes
    max_train: int | None = None  # train on a random subsample of at most this many examples

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not TASK_NAME.fullmatch(self.name):
            raise InputError(f"TaskSpec.name must be letters, digits, _ or - (it names a head, "
                             f"a --task NAME=FILE and a --freeze head:NAME), got {self.name!r}")
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise InputError(f"TaskSpec {self.name!r}: unknown kind {self.kind!r}; choose one "
                             f"of {', '.join(KINDS)}")
        kind = KINDS[self.kind]
        # Plain strings, so that to_dict() is JSON-able even when Paths were given.
        self.train = str(self.train)
        self.dev = None if self.dev is None else str(self.dev)
        for path in (self.train, self.dev):
            if path is not None:
                kind.check_format(path)  # fail now, not after the tokenizer has run
        for name in ("text_field", "label_field", "second_text_field"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise InputError(f"TaskSpec {self.name!r}: {name} must be a field name, got "
                                 f"{value!r}")
            if name in kind.fields:
                setattr(self, name, getattr(self, name) or kind.fields[name])
            elif getattr(self, name) is not None:
                uses = ", ".join(kind.fields) or "none: its files have no field names"
                raise InputError(f"TaskSpec {self.name!r}: a {self.kind} task has no "
                                 f"{name} (the fields it uses: {uses})")

        if self.max_train is not None and not is_integer_at_least(self.max_train, 1):
            raise InputError(f"TaskSpec {self.name!r}: max_train must be an integer >= 1 (the "
                             f"size of the training subsample), got {self.max_train!r}")
        if self.head_hidden is not None:
            largest = MAX_SIZES["ff_size"]  # a hidden layer as wide as the widest feed-forward
            if not is_integer_at_least(self.head_hidden, 1) or self.head_hidden > largest:
                raise InputError(f"TaskSpec {self.name!r}: head_hidden must be an integer from 1 "
                                 f"to {largest:,} (the width of the head's hidden layer), got "
                                 f"{self.head_hidden!r}")
            if not kind.head_can_have_hidden_layer:
                raise InputError(f"TaskSpec {self.name!r}: a {self.kind} head has no hidden "
                                 "layer to size (head_hidden is for classification heads)")

    @property
    def task_kind(self) -> TaskKind:
        return get_kind(self.kind)

    @property
    def metrics(self) -> tuple[str, ...]:
        """Names of the metrics this task is evaluated with (its kind holds the functions)."""
        return tuple(self.task_kind.metrics)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TaskSpec":
        """Build a spec from a dict (a task file, a checkpoint); unknown keys are an error."""
        if not isinstance(values, dict):
            raise InputError(f"a task must be a JSON object, got {values!r:.60}")
        check_fields(cls, values)
        missing = [name for name in ("name", "kind", "train") if name not in values]
        if missing:
            raise InputError(f"missing TaskSpec field(s): {', '.join(missing)}")
        return cls(**values)

    def read(self, split: str = "train") -> list[Example]:
        """The examples of the 'train' or 'dev' file."""
        path = {"train": self.train, "dev": self.dev}[split]
        if path is None:
            raise InputError(f"task {self.name!r} has no {split} file")
        return read_examples(path, self.kind, self.text_field, self.label_field,
                             self.second_text_field)


# ---- label maps ---------------------------------------------------------------------------------
def build_label_map(examples: Sequence[Example], kind: str) -> list[str]:
    """The sorted list of labels (or tags) seen in training; a label's id is its index.

    Sorted rather than in order of appearance, so the same labels give the same ids whatever the
    order of the file. A plain list of strings, so it goes into a checkpoint's JSON as it is.
    """
    task_kind = get_kind(kind)
    if not task_kind.has_label_map:
        raise ValueError(f"{kind} tasks have no class labels (they regress a score)")
    labels = {label for example in examples for _, label in task_kind.labels(example)}
    if not labels:
        raise ValueError("no examples to build a label map from")
    return sorted(labels)


def check_labels(examples: Sequence[Example], label_map: Sequence[str], kind: str,
                 source: str | Path = "<examples>") -> None:
    """Raise DataError at the first label that is not in the label map (built from training).

    A dev label never seen in training has no output unit to predict it; training on or
    scoring it would silently be wrong, so it is an error that names the file, line and label.
    """
    known = set(label_map)
    task_kind = get_kind(kind)
    for example in examples:
        for line, label in task_kind.labels(example):
            if label not in known:
                raise DataError(source, line or None, f"label {label!r} is not in the label map "
                                f"of the training data ({', '.join(label_map)})")


# ---- encoded datasets ---------------------------------------------------------------------------
class EncodedDataset:
    """One task's examples, tokenized once; item i is a dict of Python lists and numbers.

        sentence_classification  {"input_ids": [...], "label": int}
        token_classification     {"input_ids": [...], "labels": [...] (same length, -100s)}
        sentence_similarity      {"input_ids_a": [...], "input_ids_b": [...], "score": float}
        masked_lm                {"input_ids": [...]}

    It has `__len__` and `__getitem__`, so torch's DataLoader takes it as a map-style dataset,
    with `collate_fn=dataset.collate`.
    """

    def __init__(self, kind: str, items: list[dict], tokenizer: Tokenizer,
                 examples: Sequence[Example] = ()):
        self.kind = get_kind(kind)
        self.items = items
        self.tokenizer = tokenizer
        self.examples = list(examples)  # the source examples, e.g. to print mistakes

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]

    @functools.cached_property
    def lengths(self) -> list[int]:
        """Each item's padded length in a batch: its longest list of token ids."""
        return [max(len(value) for value in item.values() if isinstance(value, list))
                for item in self.items]

    def collate(self, items: Sequence[dict]) -> dict[str, torch.Tensor]:
        """Batch tensors padded to the longest sequence of these items (layout: kinds.py)."""
        return self.kind.collate(items, self.tokenizer)

    @property
    def words_without_label(self) -> int:
        """Token tasks: words whose label no token carries (cut by truncation, or a word the
        normaliser reduces to nothing); 0 for other tasks."""
        return sum(len(example.tokens) - sum(label != IGNORE_INDEX for label in item["labels"])
                   for example, item in zip(self.examples, self.items)
                   if isinstance(example, TokenExample))


def encode_examples(examples: Sequence[Example], kind: str, tokenizer: Tokenizer,
                    label_map: Sequence[str] | None = None,
                    source: str | Path = "<examples>") -> EncodedDataset:
    """Tokenize a task's examples once (truncated to tokenizer.max_length, not padded).

    Classification kinds need the label map; a label outside it raises DataError naming
    `source` (the file), the line and the label.
    """
    label_id = {}
    if get_kind(kind).has_label_map:
        if label_map is None:
            raise ValueError(f"a {kind} task needs a label map")
        check_labels(examples, label_map, kind, source)
        label_id = {label: index for index, label in enumerate(label_map)}
    return EncodedDataset(kind, get_kind(kind).encode(examples, tokenizer, label_id), tokenizer,
                          examples)


@dataclass
class TaskData:
    """A task ready to train: its spec, label map (None for similarity), train data, and its dev
    set's two parts (dev_split.py): `dev`, the select part that training reads, and `report`,
    which nothing reads while choosing."""

    spec: TaskSpec
    label_map: list[str] | None
    train: EncodedDataset
    dev: EncodedDataset | None
    report: EncodedDataset | None = None


def load_task(spec: TaskSpec, tokenizer: Tokenizer, label_map: Sequence[str] | None = None,
              max_train: int | None = None, seed: int = 0) -> TaskData:
    """Read, check and encode a task's train and dev files (the dev file in its select and
    report parts, dev_split.py).

    The label map is built from the training file unless one is given: a model resumed from a
    checkpoint must keep the ids its head was trained with, so it passes the saved map.
    max_train: keep a random subsample (fixed by `seed`) of at most this many training examples;
    the task's own spec.max_train, where smaller, wins.
    """
    train = spec.read("train")
    max_train = min((n for n in (max_train, spec.max_train) if n is not None), default=None)
    if max_train is not None and len(train) > max_train:
        train = random.Random(seed).sample(train, max_train)
    if spec.task_kind.has_label_map:
        label_map = list(label_map) if label_map is not None else build_label_map(train, spec.kind)
    else:
        label_map = None
    parts = {SELECT: None, REPORT: None}
    if spec.dev is not None:
        for part, examples in split_parts(spec.read("dev")).items():
            if examples:
                parts[part] = encode_examples(examples, spec.kind, tokenizer, label_map, spec.dev)
        if parts[SELECT] is None:
            raise InputError(f"{spec.dev}: no example falls in the select part of the dev set "
                             f"(tasks/dev_split.py), so checkpoints cannot be chosen; give a "
                             f"larger dev file")
    train = encode_examples(train, spec.kind, tokenizer, label_map, spec.train)
    return TaskData(spec, label_map, train, parts[SELECT], parts[REPORT])


# ---- batches ------------------------------------------------------------------------------------
def _as_generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    return generator


def grouped_by_length(order: list[int], lengths: Sequence[int], batch_size: int,
                      generator: torch.Generator, chunk_batches: int = 50) -> list[int]:
    """A random order rearranged so that each batch holds texts of similar length, and so
    little padding (the idea of HF's group_by_length): the order is cut into chunks of
    `chunk_batches` batches, each chunk is sorted by length and cut into batches, and the full
    batches are shuffled (a last, smaller batch stays last, so batch boundaries hold)."""
    chunk = batch_size * chunk_batches
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda index: -lengths[index])  # stable
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    last = [batches.pop()] if batches and len(batches[-1]) < batch_size else []
    shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return [index for batch in shuffled + last for index in batch]


def epoch_order(size: int, generator: torch.Generator | int | None = None, rank: int = 0,
                world_size: int = 1, lengths: Sequence[int] | None = None,
                batch_size: int | None = None) -> list[int]:
    """The example indices one rank visits in one epoch.

    generator: None keeps file order (evaluation); a seed or a torch.Generator shuffles (a
    generator advances, so calling again gives the next epoch's order). For data parallel
    training every rank passes the same seed, so all ranks see the same permutation, and rank r
    takes positions r, r + world_size, ...: the shards are disjoint, together they cover every
    example once, and their sizes differ by at most one. With `lengths` (and the global
    `batch_size`), batches are grouped by length (grouped_by_length) before sharding, so each
    rank's share of a batch is of similar length too.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    generator = _as_generator(generator)
    if generator is None:
        order = list(range(size))
    else:
        order = torch.randperm(size, generator=generator).tolist()
        if lengths is not None:
            order = grouped_by_length(order, lengths, batch_size * world_size, generator)
    return order[rank::world_size]


def iterate_batches(dataset: EncodedDataset, batch_size: int,
                    generator: torch.Generator | int | None = None, rank: int = 0,
                    world_size: int = 1,
                    by_length: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """One epoch of collated batches of `batch_size` examples (the last one may be smaller);
    by_length: batches of similar lengths (grouped_by_length), in a random order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    lengths = dataset.lengths if by_length else None
    order = epoch_order(len(dataset), generator, rank, world_size, lengths, batch_size)
    for start in range(0, len(order), batch_size):
        yield dataset.collate([dataset[index] for index in order[start: start + batch_size]])


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device) for key, value in batch.items()}


def endless_batches(dataset: EncodedDataset, batch_size: int,
                    generator: torch.Generator | int | None = 0, rank: int = 0,
                    world_size: int = 1,
                    by_length: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Epoch after epoch, each in a new order: what a multi-task loop draws a task's batches from.

    An int seed becomes one generator here, so epochs differ from each other but the whole stream
    is the same on every run (and on every rank, before sharding).
    """
    generator = _as_generator(generator)
    while True:
        yield from iterate_batches(dataset, batch_size, generator, rank, world_size, by_length)
