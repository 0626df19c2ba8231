"""Scoring a multi-task model: each task's metrics on a dataset, the number that picks the best
checkpoint, the results table, and a few example predictions to read.

    batches (file order) -> MultiTaskModel(task, batch).predictions -> kind.gather -> kind.score

Which metrics a task gets, and how its predictions are read back (a class id, one tag per word,
a cosine), is said by its kind (kinds.py); this file only runs the model and collects. Scoring
leaves the model in the modes it found it in, as SentenceEncoder.encode does. A metric can be
undefined (None: a correlation of constant scores); it is printed as such, and a main score
that depends on it is None too.
"""

from __future__ import annotations

import contextlib
import math
import sys
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..sentence import PROGRESS_MIN_BATCHES
from .data import EncodedDataset, TaskData, iterate_batches, to_device
from .heads import MultiTaskModel
from .kinds import SENTENCE_CLASSIFICATION, TOKEN_CLASSIFICATION, word_tags
from .metrics import bio_spans

Results = dict[str, dict[str, "float | None"]]  # {task: {metric: value}}; None: undefined
UNDEFINED = "undefined"  # how a metric that is None is printed


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd inside the block; afterwards every module is back in the mode
    it had, one by one: a frozen block that was in eval mode during training stays there (see
    MultiTaskModel.train_unfrozen), the others train again."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        for module, training in modes:
            module.training = training


def evaluate_task(model: MultiTaskModel, task: TaskData, batch_size: int = 64,
                  split: str = "dev", progress: bool | None = False,
                  after_batch: Callable[[], object] | None = None) -> dict[str, float | None]:
    """The metrics of one task on its dev set (or on its training set with split='train')."""
    dataset = task.dev if split == "dev" else task.train
    return score_dataset(model, task.spec.name, dataset, task.label_map, batch_size, progress,
                         after_batch)


def score_dataset(model: MultiTaskModel, task: str, dataset: EncodedDataset,
                  label_map: list[str] | None, batch_size: int = 64,
                  progress: bool | None = None,
                  after_batch: Callable[[], object] | None = None) -> dict[str, float | None]:
    """{metric: value} of the head `task` on an encoded dataset, in eval mode, no gradients;
    the model's modes are restored afterwards. None: a metric undefined on this dataset.
    progress: a bar over the batches; None shows it on a terminal for PROGRESS_MIN_BATCHES or more.
    after_batch: called after each batch (the trainer's heap trim: dev batches are padded to
    their own longest sentence, so their sizes vary as packed steps do; training/memory.py)."""
    device = next(model.parameters()).device
    kind = dataset.kind
    predictions, gold = [], []
    batches = math.ceil(len(dataset) / batch_size)
    if progress is None:
        progress = batches >= PROGRESS_MIN_BATCHES and sys.stderr.isatty()
    with evaluating(model):
        for batch in tqdm(iterate_batches(dataset, batch_size), total=batches, unit="batch",
                          desc=f"scoring {task}", disable=not progress, leave=False):  # file order
            output = model(task, to_device(batch, device))
            batch_predictions, batch_gold = kind.gather(output.predictions, batch, label_map)
            predictions.extend(batch_predictions)
            gold.extend(batch_gold)
            del output  # its activations are free before the trim, not after the next batch
            if after_batch is not None:
                after_batch()
    return kind.score(predictions, gold)


def dev_results(model: MultiTaskModel, tasks: list[TaskData], progress: bool | None = False,
                after_batch: Callable[[], object] | None = None) -> Results:
    """{task: {metric: value}} on every task's dev set, its select part (dev_split.py): what
    training reads; after_batch: see score_dataset."""
    return {t.spec.name: evaluate_task(model, t, progress=progress, after_batch=after_batch)
            for t in tasks if t.dev is not None}


def report_results(model: MultiTaskModel, tasks: list[TaskData]) -> Results:
    """{task: {metric: value}} on every task's report part: for the end of a run only, after
    every choice was made on the select part."""
    return {t.spec.name: score_dataset(model, t.spec.name, t.report, t.label_map)
            for t in tasks if t.report is not None}


def main_score(results: Results, tasks: list[TaskData]) -> float | None:
    """Mean over tasks of each task's main metric (accuracy, entity F1 or Spearman): the
    number by which the best checkpoint is chosen. None if one of them is undefined (a dev
    set whose similarity scores are all equal): a mean without that task would not compare
    with the means of other evaluations."""
    values = [results[t.spec.name][t.spec.task_kind.main_metric] for t in tasks]
    if any(value is None for value in values):
        return None
    return float(np.mean(values))


def format_results(results: Results, title: str = "dev") -> str:
    """A small table: one row per task, one column per metric; an undefined metric (None) is
    printed as "undefined", with a line that says why."""
    names = sorted({metric for task in results.values() for metric in task})
    widths = [max(11, len(name) + 2) for name in names]
    lines = [f"{title}:",
             f"  {'task':<16}" + "".join(f"{name:>{w}}" for name, w in zip(names, widths))]
    for task, values in results.items():
        lines.append(f"  {task:<16}" + "".join(
            f"{'':>{w}}" if name not in values else
            f"{UNDEFINED:>{w}}" if values[name] is None else f"{values[name]:>{w}.4f}"
            for name, w in zip(names, widths)))
    if any(value is None for values in results.values() for value in values.values()):
        lines.append(f"  ({UNDEFINED}: a correlation needs scores that differ; in this file "
                     "every gold score, or every prediction, is the same)")
    return "\n".join(lines)


# ---- example predictions, for a person to read ------------------------------------------------
def example_predictions(model: MultiTaskModel, tasks: list[TaskData], count: int = 5) -> list[str]:
    """Lines showing a few dev sentences with every sentence head's prediction, and the
    entities each token-classification head finds in a few of its own dev sentences (the
    two kinds whose predictions read as labels on the text). The model's modes are restored."""
    with evaluating(model):
        return sentence_examples(model, tasks, count) + token_examples(model, tasks, count=3)


def sentence_examples(model: MultiTaskModel, tasks: list[TaskData], count: int) -> list[str]:
    sentence_tasks = [t for t in tasks if t.spec.kind == SENTENCE_CLASSIFICATION and t.dev]
    if not sentence_tasks:
        return []
    first = sentence_tasks[0]
    items = [first.dev[i] for i in range(min(count, len(first.dev)))]
    batch = to_device(first.dev.collate(items), next(model.parameters()).device)
    with torch.inference_mode():  # one encoder pass, every sentence head on the same embedding
        pooled = model.embed(batch["input_ids"], batch["attention_mask"])  # (B, d)
        guesses = {t.spec.name: [t.label_map[i] for i in model.heads[t.spec.name](pooled)
                                 .argmax(-1).tolist()] for t in sentence_tasks}
    lines = []
    for row, example in enumerate(first.dev.examples[: len(items)]):
        labels = ", ".join(f"{name}={values[row]}" for name, values in guesses.items())
        lines.append(f"  {example.text[:70]!r}\n      -> {labels}")
    return lines


def token_examples(model: MultiTaskModel, tasks: list[TaskData], count: int) -> list[str]:
    lines = []
    for task in tasks:
        if task.spec.kind != TOKEN_CLASSIFICATION or not task.dev:
            continue
        items = [task.dev[i] for i in range(min(count, len(task.dev)))]
        batch = task.dev.collate(items)
        with torch.inference_mode():
            predicted = model(task.spec.name, to_device(batch, next(model.parameters()).device))
        for row, example in enumerate(task.dev.examples[: len(items)]):
            tags = word_tags(predicted.predictions.tag_ids[row].cpu(), batch["labels"][row],
                             task.label_map)
            words = example.tokens[: len(tags)]  # truncation may cut the last words
            entities = [f"{' '.join(words[start:end])} ({kind})"
                        for kind, start, end in sorted(bio_spans(tags), key=lambda s: s[1])]
            lines.append(f"  {' '.join(example.tokens)[:70]!r}\n      -> {task.spec.name}: "
                         f"{', '.join(entities) or 'no entities'}")
    return lines
