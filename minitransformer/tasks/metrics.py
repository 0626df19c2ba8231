"""Evaluation metrics of the task kinds, written with numpy only.

* classification: `accuracy`, `macro_f1`
* BIO sequence tagging (NER): `bio_spans`, `entity_f1`, following the CoNLL-2000 `conlleval` script
* sentence similarity (STS-B): `pearson`, `spearman` (with `rankdata` for tied values)
* masked-language modelling: `masked_accuracy`, `masked_lm_loss`, `perplexity` over the masked
  pieces, each prediction a (predicted id, log-probability of the gold id) pair

Every metric takes Python sequences or numpy arrays and returns a plain Python float. Empty or
mismatched inputs raise ValueError rather than give a number that means nothing. A correlation
with one side constant (a single pair, or every gold score the same) is 0 / 0, undefined: the
correlations return None for it, so a caller can report "undefined" instead of crashing.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# A masked-LM prediction: (the most likely id, the log-probability of the gold id).
MaskedPiece = tuple[int, float]


def _same_length_arrays(first, second, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """`first`, `second` as 1-D arrays of the same non-zero length; `metric` names the caller
    in the error."""
    first, second = np.asarray(first), np.asarray(second)
    if first.ndim != 1 or second.ndim != 1:
        raise ValueError(f"{metric}: expected 1-D inputs, got shapes {first.shape} and "
                         f"{second.shape}")
    if len(first) != len(second):
        raise ValueError(f"{metric}: length mismatch, {len(first)} vs {len(second)}")
    if len(first) == 0:
        raise ValueError(f"{metric}: empty input")
    return first, second


# ---- classification ------------------------------------------------------------------------
def accuracy(predictions: Sequence, labels: Sequence) -> float:
    """Fraction of positions where the prediction equals the label."""
    predictions, labels = _same_length_arrays(predictions, labels, "accuracy")
    return float(np.mean(predictions == labels))


def macro_f1(predictions: Sequence, labels: Sequence, labels_set: Sequence | None = None) -> float:
    """Unweighted mean of per-class F1.

    The classes are those in `labels` or `predictions`, or exactly `labels_set` when given
    (predictions of classes outside it then only count as misses for the true class). A class with
    no true and no predicted items is left out; a class with true items that is never predicted
    (or the reverse) counts with F1 = 0, which is what makes macro-F1 punish ignoring rare classes.
    """
    predictions, labels = _same_length_arrays(predictions, labels, "macro_f1")
    classes = (np.unique(np.concatenate([labels, predictions])) if labels_set is None
               else labels_set)
    class_scores = []
    for label in classes:
        true_positives = np.sum((predictions == label) & (labels == label))
        false_positives = np.sum((predictions == label) & (labels != label))
        false_negatives = np.sum((predictions != label) & (labels == label))
        if true_positives + false_positives + false_negatives == 0:
            continue  # the class never occurs: its F1 would be 0/0
        # 2PR / (P + R) simplifies to 2tp / (2tp + fp + fn); it is 0 when tp = 0 (P = R = 0).
        class_scores.append(2 * true_positives /
                            (2 * true_positives + false_positives + false_negatives))
    if not class_scores:
        raise ValueError("macro_f1: none of the classes occurs in labels or predictions")
    return float(np.mean(class_scores))


# ---- BIO tagging ---------------------------------------------------------------------------
def bio_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entity spans in one sentence's BIO tags, as a set of (type, start, end) with end exclusive.

    "B-X" always starts an X entity and "I-X" continues an open X entity. Like conlleval, an "I-X"
    that continues nothing (at the start, after "O", or after an entity of another type) starts a
    new X entity instead of being dropped, so ["O", "I-PER", "I-PER"] gives {("PER", 1, 3)}.
    """
    spans = set()
    open_type, start = None, 0
    # A trailing "O" closes an entity that runs to the end of the sentence.
    for position, tag in enumerate(list(tags) + ["O"]):
        prefix, entity_type = "O", None
        if tag != "O":
            prefix, _, entity_type = tag.partition("-")
            if prefix not in ("B", "I") or not entity_type:
                raise ValueError(f"bio_spans: tag {tag!r} at position {position} is not O, B-X "
                                 f"or I-X")
        continues = prefix == "I" and entity_type == open_type
        if open_type is not None and not continues:
            spans.add((open_type, start, position))
            open_type = None
        if entity_type is not None and not continues:
            open_type, start = entity_type, position
    return spans


def entity_f1(predicted_tag_sequences: Sequence[Sequence[str]],
              gold_tag_sequences: Sequence[Sequence[str]]) -> float:
    """Micro-averaged entity-level F1 over all sentences, as reported by conlleval.

    An entity counts as correct only if its type, start and end all match a gold entity. Each span
    is keyed by its sentence index so equal spans in different sentences stay distinct. Following
    conlleval, precision (recall) is 0 when nothing is predicted (nothing is gold), and F1 is 0
    when both are 0, so all-"O" predictions against all-"O" gold score 0.0, not 1.0.
    """
    if len(predicted_tag_sequences) != len(gold_tag_sequences):
        raise ValueError(f"entity_f1: {len(predicted_tag_sequences)} predicted sentences "
                         f"vs {len(gold_tag_sequences)} gold sentences")
    if len(gold_tag_sequences) == 0:
        raise ValueError("entity_f1: empty input")
    predicted, gold = set(), set()
    for sentence, (predicted_tags, gold_tags) in enumerate(zip(predicted_tag_sequences,
                                                                gold_tag_sequences)):
        if len(predicted_tags) != len(gold_tags):
            raise ValueError(f"entity_f1: sentence {sentence} has {len(predicted_tags)} "
                             f"predicted tags vs {len(gold_tags)} gold tags")
        predicted |= {(sentence, *span) for span in bio_spans(predicted_tags)}
        gold |= {(sentence, *span) for span in bio_spans(gold_tags)}
    correct = len(predicted & gold)
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(gold) if gold else 0.0
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


# ---- correlation ---------------------------------------------------------------------------
def rankdata(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n of `values` (smallest gets 1); tied values all get the mean of their ranks.

    Example: [10, 20, 20, 5] -> [2.0, 3.5, 3.5, 1.0] (the two 20s share ranks 3 and 4).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"rankdata: expected a non-empty 1-D input, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("rankdata: input contains NaN or infinity")
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # Sorting puts equal values next to each other; each run of equal values is one tie group.
    starts_group = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    group = np.cumsum(starts_group) - 1              # tie group of each sorted position
    first = np.flatnonzero(starts_group)             # 0-based first sorted position of each group
    last = np.append(first[1:], len(values)) - 1     # 0-based last sorted position of each group
    # The group holds the 1-based ranks first+1 .. last+1, whose mean is (first + last) / 2 + 1.
    mean_rank = (first + last) / 2 + 1
    ranks = np.empty(len(values))
    ranks[order] = mean_rank[group]                  # undo the sort
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation: covariance of x and y over the product of their standard deviations.

    None when x or y is constant (a single pair, say): its standard deviation is 0, and the
    correlation 0 / 0 is undefined.
    """
    return _pearson(*_same_length_arrays(x, y, "pearson"), "pearson")


def _pearson(x: np.ndarray, y: np.ndarray, metric: str) -> float | None:
    """Pearson correlation of two checked 1-D arrays; `metric` names the caller in errors."""
    x, y = x.astype(float), y.astype(float)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{metric}: input contains NaN or infinity")
    # Test equality of the values, not a computed std: the mean of equal floats can be off by
    # one rounding step, which would give a tiny non-zero std and a meaningless correlation.
    if np.all(x == x[0]) or np.all(y == y[0]):
        return None
    deviations_x, deviations_y = x - x.mean(), y - y.mean()
    correlation = np.sum(deviations_x * deviations_y) / np.sqrt(
        np.sum(deviations_x * deviations_x) * np.sum(deviations_y * deviations_y))
    return float(np.clip(correlation, -1.0, 1.0))  # rounding can push |r| a hair past 1


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman rank correlation: Pearson correlation of the (tie-averaged) ranks of x and y.

    It measures how monotonic the relation is, so any increasing function of x scores 1.0.
    None when x or y is constant, as for `pearson` (constant values have constant ranks).
    """
    x, y = _same_length_arrays(x, y, "spearman")
    return _pearson(rankdata(x), rankdata(y), "spearman")


# ---- masked-language modelling -------------------------------------------------------------
def _masked_arrays(predictions: Sequence[MaskedPiece], gold: Sequence[int],
                   metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted ids, log-probabilities of the gold ids, gold ids), each (N,), checked."""
    if len(predictions) != len(gold):
        raise ValueError(f"{metric}: length mismatch, {len(predictions)} vs {len(gold)}")
    if len(gold) == 0:
        raise ValueError(f"{metric}: no masked pieces to score")
    predicted_ids = np.array([predicted_id for predicted_id, _ in predictions])
    log_probabilities = np.array([log_probability for _, log_probability in predictions],
                                 dtype=np.float64)
    return predicted_ids, log_probabilities, np.asarray(gold)


def masked_accuracy(predictions: Sequence[MaskedPiece], gold: Sequence[int]) -> float:
    """Fraction of masked pieces whose most likely id is the original one."""
    predicted_ids, _, gold_ids = _masked_arrays(predictions, gold, "masked_accuracy")
    return float(np.mean(predicted_ids == gold_ids))


def masked_lm_loss(predictions: Sequence[MaskedPiece], gold: Sequence[int]) -> float:
    """Mean negative log-probability of the original pieces (the cross-entropy, in nats)."""
    _, log_probabilities, _ = _masked_arrays(predictions, gold, "masked_lm_loss")
    return float(-np.mean(log_probabilities))


def perplexity(predictions: Sequence[MaskedPiece], gold: Sequence[int]) -> float:
    """exp(masked_lm_loss): as unsure as a uniform choice among that many pieces."""
    return float(np.exp(masked_lm_loss(predictions, gold)))
