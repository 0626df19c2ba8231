"""Evaluation metrics for the downstream tasks, written with numpy only.

* classification: `accuracy`, `macro_f1`
* BIO sequence tagging (NER): `bio_spans`, `entity_f1`, following the CoNLL-2000 `conlleval` script
* sentence similarity (STS-B): `pearson`, `spearman` (with `rankdata` for tied values)
* masked-language modelling: `masked_accuracy`, `masked_lm_loss`, `perplexity` over the masked
  pieces, each prediction a (predicted id, log-probability of the gold id) pair

Every function accepts Python sequences or numpy arrays, returns a plain Python float, and raises
ValueError on empty or mismatched inputs rather than returning a number that means nothing.
"""
import numpy as np


def _pair(a, b, name):
    """Return `a`, `b` as 1-D arrays of the same non-zero length; `name` goes into the error."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"{name}: expected 1-D inputs, got shapes {a.shape} and {b.shape}")
    if len(a) != len(b):
        raise ValueError(f"{name}: length mismatch, {len(a)} vs {len(b)}")
    if len(a) == 0:
        raise ValueError(f"{name}: empty input")
    return a, b


def accuracy(predictions, labels):
    """Fraction of positions where the prediction equals the label."""
    predictions, labels = _pair(predictions, labels, "accuracy")
    return float(np.mean(predictions == labels))


def macro_f1(predictions, labels, labels_set=None):
    """Unweighted mean of per-class F1.

    The classes are those in `labels` or `predictions`, or exactly `labels_set` when given
    (predictions of classes outside it then only count as misses for the true class). A class with
    no true and no predicted items is left out; a class with true items that is never predicted
    (or the reverse) counts with F1 = 0, which is what makes macro-F1 punish ignoring rare classes.
    """
    predictions, labels = _pair(predictions, labels, "macro_f1")
    classes = np.unique(np.concatenate([labels, predictions])) if labels_set is None else labels_set
    scores = []
    for c in classes:
        tp = np.sum((predictions == c) & (labels == c))
        fp = np.sum((predictions == c) & (labels != c))
        fn = np.sum((predictions != c) & (labels == c))
        if tp + fp + fn == 0:
            continue  # the class never occurs: its F1 would be 0/0
        # 2PR / (P + R) simplifies to 2tp / (2tp + fp + fn); it is 0 when tp = 0 (P = R = 0).
        scores.append(2 * tp / (2 * tp + fp + fn))
    if not scores:
        raise ValueError("macro_f1: none of the classes occurs in labels or predictions")
    return float(np.mean(scores))


def bio_spans(tags):
    """Entity spans in one sentence's BIO tags, as a set of (type, start, end) with end exclusive.

    "B-X" always starts an X entity and "I-X" continues an open X entity. Like conlleval, an "I-X"
    that continues nothing (at the start, after "O", or after an entity of another type) starts a
    new X entity instead of being dropped, so ["O", "I-PER", "I-PER"] gives {("PER", 1, 3)}.
    """
    spans = set()
    open_type, start = None, 0
    # A trailing "O" closes an entity that runs to the end of the sentence.
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = "O", None
        if tag != "O":
            prefix, _, kind = tag.partition("-")
            if prefix not in ("B", "I") or not kind:
                raise ValueError(f"bio_spans: tag {tag!r} at position {i} is not O, B-X or I-X")
        continues = prefix == "I" and kind == open_type
        if open_type is not None and not continues:
            spans.add((open_type, start, i))
            open_type = None
        if kind is not None and not continues:
            open_type, start = kind, i
    return spans


def entity_f1(predicted_tag_sequences, gold_tag_sequences):
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
    for s, (pred_tags, gold_tags) in enumerate(zip(predicted_tag_sequences, gold_tag_sequences)):
        if len(pred_tags) != len(gold_tags):
            raise ValueError(f"entity_f1: sentence {s} has {len(pred_tags)} predicted tags "
                             f"vs {len(gold_tags)} gold tags")
        predicted |= {(s, *span) for span in bio_spans(pred_tags)}
        gold |= {(s, *span) for span in bio_spans(gold_tags)}
    correct = len(predicted & gold)
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(gold) if gold else 0.0
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def rankdata(values):
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


def pearson(x, y):
    """Pearson correlation: covariance of x and y over the product of their standard deviations.

    Raises ValueError for a constant input, whose standard deviation is 0 (correlation undefined).
    """
    return _pearson(*_pair(x, y, "pearson"), "pearson")


def _pearson(x, y, name):
    """Pearson correlation of two checked 1-D arrays; `name` is the public function, for errors."""
    x, y = x.astype(float), y.astype(float)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{name}: input contains NaN or infinity")
    for label, v in (("x", x), ("y", y)):
        # Test equality of the values, not a computed std: the mean of equal floats can be off by
        # one rounding step, which would give a tiny non-zero std and a meaningless correlation.
        if np.all(v == v[0]):
            raise ValueError(f"{name}: {label} is constant, so the correlation is undefined")
    dx, dy = x - x.mean(), y - y.mean()
    r = np.sum(dx * dy) / np.sqrt(np.sum(dx * dx) * np.sum(dy * dy))
    return float(np.clip(r, -1.0, 1.0))  # rounding can push |r| a hair past 1


def spearman(x, y):
    """Spearman rank correlation: Pearson correlation of the (tie-averaged) ranks of x and y.

    It measures how monotonic the relation is, so any increasing function of x scores 1.0.
    """
    x, y = _pair(x, y, "spearman")
    # A constant input has constant ranks, so _pearson reports it.
    return _pearson(rankdata(x), rankdata(y), "spearman")


def _masked(predictions, gold, name):
    if len(predictions) != len(gold):
        raise ValueError(f"{name}: length mismatch, {len(predictions)} vs {len(gold)}")
    if len(gold) == 0:
        raise ValueError(f"{name}: no masked pieces to score")
    predicted = np.array([p for p, _ in predictions])
    log_probabilities = np.array([lp for _, lp in predictions], dtype=np.float64)
    return predicted, log_probabilities, np.asarray(gold)


def masked_accuracy(predictions, gold):
    """Fraction of masked pieces whose most likely id is the original one."""
    predicted, _, gold = _masked(predictions, gold, "masked_accuracy")
    return float(np.mean(predicted == gold))


def masked_lm_loss(predictions, gold):
    """Mean negative log-probability of the original pieces (the cross-entropy, in nats)."""
    _, log_probabilities, _ = _masked(predictions, gold, "masked_lm_loss")
    return float(-np.mean(log_probabilities))


def perplexity(predictions, gold):
    """exp(masked_lm_loss): as unsure as a uniform choice among that many pieces."""
    return float(np.exp(masked_lm_loss(predictions, gold)))
