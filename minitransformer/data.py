"""Tasks and data for multi-task learning: what a task is, its label map, its encoded examples,
and batches with dynamic padding.

The path from a file to a batch:

    TaskSpec --read_examples--> examples --build_label_map--> label map (sorted label strings)
             --encode_examples--> EncodedDataset (token ids once, label ids)
             --iterate_batches / collate--> tensors padded to the longest sequence of the batch

Across tasks a sampler (samplers.py) picks the task of each step. Reading the files is in
`readers.py`. The batches (B = batch size, T = longest sequence in it):

    sentence_classification  input_ids, attention_mask (B, T) long; labels (B,) long
    token_classification     input_ids, attention_mask (B, T) long; labels (B, T) long,
                             -100 everywhere except the first sub-word of each word
    sentence_similarity      input_ids_a, attention_mask_a (B, Ta); input_ids_b,
                             attention_mask_b (B, Tb) long; scores (B,) float32

Masks use 1 = token, 0 = padding, as everywhere in minitransformer.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

from .config import check_fields
from .readers import (KINDS, SENTENCE_CLASSIFICATION, SENTENCE_SIMILARITY, TOKEN_CLASSIFICATION,
                      DataError, Example, SentenceExample, TokenExample,
                      check_format, read_examples)
from .tokenizer import Tokenizer

# The position label that torch.nn.functional.cross_entropy skips (its default ignore_index).
IGNORE_INDEX = -100

# The metrics of each kind, by their names in metrics.py; the first is the one to select models by.
METRICS = {
    SENTENCE_CLASSIFICATION: ("accuracy", "macro_f1"),
    TOKEN_CLASSIFICATION: ("entity_f1",),
    SENTENCE_SIMILARITY: ("spearman", "pearson"),
}


# ---- what a task is -----------------------------------------------------------------------------
@dataclass
class TaskSpec:
    """One task: its name, kind, files and the field names of its records.

    The field defaults depend on the kind: text/label for sentence classification,
    sentence1/sentence2/score for similarity, and none for token classification (CoNLL files
    have no field names).
    """

    name: str  # unique among the tasks of a model; names its head and its metrics
    kind: str  # one of KINDS
    train: str  # path of the training file (.jsonl, .csv, .tsv; .conll for token tasks)
    dev: str | None = None  # path of the dev file, same format rules; None = no evaluation
    text_field: str | None = None  # the text (the first text for similarity)
    label_field: str | None = None  # the class label, or the similarity score
    second_text_field: str | None = None  # similarity only: the second text

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("TaskSpec.name must not be empty")
        if self.kind not in KINDS:
            raise ValueError(f"TaskSpec {self.name!r}: unknown kind {self.kind!r}; "
                             f"choose one of {', '.join(KINDS)}")
        # Plain strings, so that to_dict() is JSON-able even when Paths were given.
        self.train = str(self.train)
        self.dev = None if self.dev is None else str(self.dev)
        for path in (self.train, self.dev):
            if path is not None:
                check_format(path, self.kind)  # fail now, not after the tokenizer has run
        fields = (self.text_field, self.label_field, self.second_text_field)
        if self.kind == TOKEN_CLASSIFICATION and any(f is not None for f in fields):
            raise ValueError(f"TaskSpec {self.name!r}: token classification reads CoNLL files, "
                             "which have no field names; leave the *_field options unset")
        if self.kind == SENTENCE_CLASSIFICATION:
            if self.second_text_field is not None:
                raise ValueError(f"TaskSpec {self.name!r}: second_text_field is for "
                                 "sentence_similarity only")
            self.text_field = self.text_field or "text"
            self.label_field = self.label_field or "label"
        if self.kind == SENTENCE_SIMILARITY:
            self.text_field = self.text_field or "sentence1"
            self.second_text_field = self.second_text_field or "sentence2"
            self.label_field = self.label_field or "score"

    @property
    def metrics(self) -> tuple[str, ...]:
        """Names of the metrics (functions in metrics.py) this task is evaluated with."""
        return METRICS[self.kind]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TaskSpec":
        """Build a spec from a dict (a task file, a checkpoint); unknown keys are an error."""
        check_fields(cls, values)
        missing = [name for name in ("name", "kind", "train") if name not in values]
        if missing:
            raise ValueError(f"missing TaskSpec field(s): {', '.join(missing)}")
        return cls(**values)

    def read(self, split: str = "train") -> list[Example]:
        """The examples of the 'train' or 'dev' file."""
        path = {"train": self.train, "dev": self.dev}[split]
        if path is None:
            raise ValueError(f"task {self.name!r} has no {split} file")
        return read_examples(path, self.kind, self.text_field, self.label_field,
                             self.second_text_field)


# ---- label maps ---------------------------------------------------------------------------------
def build_label_map(train_examples: Sequence[Example]) -> list[str]:
    """The sorted list of labels (or tags) seen in training; a label's id is its index.

    Sorted rather than in order of appearance, so the same labels give the same ids whatever the
    order of the file. A plain list of strings, so it goes into a checkpoint's JSON as it is.
    """
    labels: set[str] = set()
    for example in train_examples:
        if isinstance(example, SentenceExample):
            labels.add(example.label)
        elif isinstance(example, TokenExample):
            labels.update(example.tags)
        else:
            raise ValueError(f"{type(example).__name__} has no class labels (similarity tasks "
                             "regress a score)")
    if not labels:
        raise ValueError("no examples to build a label map from")
    return sorted(labels)


def check_labels(examples: Sequence[Example], label_map: Sequence[str],
                 source: str | Path = "<examples>") -> None:
    """Raise DataError at the first label that is not in the label map (built from training).

    A dev label never seen in training has no output unit to predict it; training on or
    scoring it would silently be wrong, so it is an error that names the file, line and label.
    """
    known = set(label_map)
    for example in examples:
        if isinstance(example, SentenceExample):
            pairs = [(example.line, example.label)]
        elif isinstance(example, TokenExample):
            pairs = [(example.line + i, tag) for i, tag in enumerate(example.tags)]
        else:
            continue  # similarity scores have no label map
        for line, label in pairs:
            if label not in known:
                raise DataError(source, line or None, f"label {label!r} is not in the label map "
                                f"of the training data ({', '.join(label_map)})")


# ---- token-label alignment ----------------------------------------------------------------------
def align_labels(word_ids: Sequence[int | None], word_label_ids: Sequence[int]) -> list[int]:
    """One label per token position: the word's label on its first sub-word, -100 elsewhere.

    `word_ids[t]` is the index of the word that token t came from, None for [CLS] / [SEP]
    (`tokenizers`' Encoding.word_ids). With words ["New", "Yorkers"] -> [CLS] new york ##ers
    [SEP], word ids [None, 0, 1, 1, None] and word labels [B, I] give [-100, B, I, -100, -100].
    Labelling only the first sub-word (as in BERT's NER set-up, Devlin et al. 2019, 5.3) keeps
    one prediction per word, so entity F1 is computed over the words of the file.

    A word with no token here loses its label: a word cut off by truncation, or one that the
    normaliser reduces to nothing (a lone control or zero-width character).
    """
    labels = []
    previous = None
    for word in word_ids:
        first_piece = word is not None and word != previous
        labels.append(word_label_ids[word] if first_piece else IGNORE_INDEX)
        previous = word
    return labels


# ---- encoded datasets ---------------------------------------------------------------------------
class EncodedDataset:
    """One task's examples, tokenized once; item i is a dict of Python lists and numbers.

        sentence_classification  {"input_ids": [...], "label": int}
        token_classification     {"input_ids": [...], "labels": [...] (same length, -100s)}
        sentence_similarity      {"input_ids_a": [...], "input_ids_b": [...], "score": float}

    It has `__len__` and `__getitem__`, so torch's DataLoader takes it as a map-style dataset,
    with `collate_fn=dataset.collate`.
    """

    def __init__(self, kind: str, items: list[dict], tokenizer: Tokenizer,
                 examples: Sequence[Example] = (), words_without_label: int = 0):
        self.kind = kind
        self.items = items
        self.tokenizer = tokenizer
        self.examples = list(examples)  # the source examples, e.g. to print mistakes
        # Token tasks only: words whose label no token carries (truncated or normalised away).
        self.words_without_label = words_without_label

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]

    def collate(self, items: Sequence[dict]) -> dict[str, torch.Tensor]:
        return collate(items, self.kind, self.tokenizer)


def encode_examples(examples: Sequence[Example], kind: str, tokenizer: Tokenizer,
                    label_map: Sequence[str] | None = None,
                    source: str | Path = "<examples>") -> EncodedDataset:
    """Tokenize a task's examples once (truncated to tokenizer.max_length, not padded).

    Classification kinds need the label map; a label outside it raises DataError naming
    `source` (the file), the line and the label.
    """
    if kind in (SENTENCE_CLASSIFICATION, TOKEN_CLASSIFICATION):
        if label_map is None:
            raise ValueError(f"a {kind} task needs a label map")
        check_labels(examples, label_map, source)
        label_id = {label: index for index, label in enumerate(label_map)}
    if kind == SENTENCE_CLASSIFICATION:
        ids = tokenizer.tokenize([example.text for example in examples])
        items = [{"input_ids": row, "label": label_id[example.label]}
                 for row, example in zip(ids, examples)]
        return EncodedDataset(kind, items, tokenizer, examples)
    if kind == SENTENCE_SIMILARITY:
        # A bi-encoder: each sentence is encoded alone, never as a [SEP]-joined pair.
        ids_a = tokenizer.tokenize([example.text_a for example in examples])
        ids_b = tokenizer.tokenize([example.text_b for example in examples])
        items = [{"input_ids_a": a, "input_ids_b": b, "score": float(example.score)}
                 for a, b, example in zip(ids_a, ids_b, examples)]
        return EncodedDataset(kind, items, tokenizer, examples)
    if kind == TOKEN_CLASSIFICATION:
        # is_pretokenized: the words are the file's, each may still split into several pieces.
        encodings = tokenizer.backend.encode_batch([example.tokens for example in examples],
                                                   is_pretokenized=True)
        items, lost = [], 0
        for encoding, example in zip(encodings, examples):
            labels = align_labels(encoding.word_ids, [label_id[tag] for tag in example.tags])
            lost += len(example.tokens) - sum(label != IGNORE_INDEX for label in labels)
            items.append({"input_ids": encoding.ids, "labels": labels})
        return EncodedDataset(kind, items, tokenizer, examples, words_without_label=lost)
    raise ValueError(f"unknown task kind {kind!r}; choose one of {', '.join(KINDS)}")


def collate(items: Sequence[dict], kind: str, tokenizer: Tokenizer) -> dict[str, torch.Tensor]:
    """Stack encoded items into tensors padded to the longest sequence of *this* batch.

    Shapes are in the module docstring. Padding positions of token labels are -100, so the
    loss ignores them just as it ignores [CLS], [SEP] and later sub-words.
    """
    if kind == SENTENCE_CLASSIFICATION:
        batch = tokenizer.pad([item["input_ids"] for item in items])
        batch["labels"] = torch.tensor([item["label"] for item in items], dtype=torch.long)
        return batch
    if kind == TOKEN_CLASSIFICATION:
        batch = tokenizer.pad([item["input_ids"] for item in items])
        labels = torch.full(batch["input_ids"].shape, IGNORE_INDEX, dtype=torch.long)  # (B, T)
        for row, item in enumerate(items):
            labels[row, : len(item["labels"])] = torch.tensor(item["labels"], dtype=torch.long)
        batch["labels"] = labels
        return batch
    if kind == SENTENCE_SIMILARITY:
        a = tokenizer.pad([item["input_ids_a"] for item in items])  # (B, Ta)
        b = tokenizer.pad([item["input_ids_b"] for item in items])  # (B, Tb)
        return {"input_ids_a": a["input_ids"], "attention_mask_a": a["attention_mask"],
                "input_ids_b": b["input_ids"], "attention_mask_b": b["attention_mask"],
                "scores": torch.tensor([item["score"] for item in items], dtype=torch.float32)}
    raise ValueError(f"unknown task kind {kind!r}; choose one of {', '.join(KINDS)}")


@dataclass
class TaskData:
    """A task ready to train: its spec, label map (None for similarity), train and dev data."""

    spec: TaskSpec
    label_map: list[str] | None
    train: EncodedDataset
    dev: EncodedDataset | None


def load_task(spec: TaskSpec, tokenizer: Tokenizer, label_map: Sequence[str] | None = None,
              max_train: int | None = None, seed: int = 0) -> TaskData:
    """Read, check and encode a task's train and dev files.

    The label map is built from the training file unless one is given: a model resumed from a
    checkpoint must keep the ids its head was trained with, so it passes the saved map.
    max_train: keep a random subsample (fixed by `seed`) of at most this many training examples.
    """
    train = spec.read("train")
    if max_train is not None and len(train) > max_train:
        train = random.Random(seed).sample(train, max_train)
    if spec.kind != SENTENCE_SIMILARITY:
        label_map = list(label_map) if label_map is not None else build_label_map(train)
    else:
        label_map = None
    dev = None
    if spec.dev is not None:
        dev = encode_examples(spec.read("dev"), spec.kind, tokenizer, label_map, spec.dev)
    return TaskData(spec, label_map, encode_examples(train, spec.kind, tokenizer, label_map,
                                                     spec.train), dev)


# ---- batches ------------------------------------------------------------------------------------
def _as_generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    return generator


def epoch_order(size: int, generator: torch.Generator | int | None = None, rank: int = 0,
                world_size: int = 1) -> list[int]:
    """The example indices one rank visits in one epoch.

    generator: None keeps file order (evaluation); a seed or a torch.Generator shuffles (a
    generator advances, so calling again gives the next epoch's order). For data parallel
    training every rank passes the same seed, so all ranks see the same permutation, and rank r
    takes positions r, r + world_size, ...: the shards are disjoint, together they cover every
    example once, and their sizes differ by at most one.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    generator = _as_generator(generator)
    if generator is None:
        order = list(range(size))
    else:
        order = torch.randperm(size, generator=generator).tolist()
    return order[rank::world_size]


def iterate_batches(dataset: EncodedDataset, batch_size: int,
                    generator: torch.Generator | int | None = None, rank: int = 0,
                    world_size: int = 1) -> Iterator[dict[str, torch.Tensor]]:
    """One epoch of collated batches of `batch_size` examples (the last one may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = epoch_order(len(dataset), generator, rank, world_size)
    for start in range(0, len(order), batch_size):
        yield dataset.collate([dataset[index] for index in order[start: start + batch_size]])


def endless_batches(dataset: EncodedDataset, batch_size: int,
                    generator: torch.Generator | int | None = 0, rank: int = 0,
                    world_size: int = 1) -> Iterator[dict[str, torch.Tensor]]:
    """Epoch after epoch, each in a new order: what a multi-task loop draws a task's batches from.

    An int seed becomes one generator here, so epochs differ from each other but the whole stream
    is the same on every run (and on every rank, before sharding).
    """
    generator = _as_generator(generator)
    while True:
        yield from iterate_batches(dataset, batch_size, generator, rank, world_size)
