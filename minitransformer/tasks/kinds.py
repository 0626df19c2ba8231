"""Task kinds: everything that differs between kinds of task, in one place.

A kind says which files it reads and with which field names, which labels an example carries,
how examples become token ids and ids a batch, what its head predicts (a typed structure per
kind, below), how those predictions are read back, and the metric functions that score them.
The head that turns the encoder's output into predictions is the one part that lives elsewhere
(heads.py, `HEADS`), because it is a model part. Adding a kind means one class here, registered
in `KINDS`, its predictions type, and its head.

The batches each kind makes (B = batch size, T = longest sequence in the batch; masks use
1 = token, 0 = padding, as everywhere in minitransformer):

    sentence_classification  input_ids, attention_mask (B, T) long; labels (B,) long
    token_classification     input_ids, attention_mask (B, T) long; labels (B, T) long,
                             -100 everywhere except the first sub-word of each word
    sentence_similarity      input_ids_a, attention_mask_a (B, Ta); input_ids_b,
                             attention_mask_b (B, Tb) long; scores (B,) float32
    masked_lm                input_ids, attention_mask (B, T) long; maskable (B, T) bool
                             (real pieces that are not [CLS]/[SEP]/...). The masking itself is
                             random and happens in the head (heads.py), where the trainer's
                             per-step seed reaches it; the head knows the [MASK] id and the
                             vocabulary size from when it was built, so no batch carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..errors import InputError
from ..model.tokenizer import SPECIAL_TOKENS, Tokenizer
from .masking import IGNORE_INDEX  # the label of positions without loss
from .metrics import (
    accuracy,
    entity_f1,
    macro_f1,
    masked_accuracy,
    masked_lm_loss,
    pearson,
    perplexity,
    spearman,
)
from .readers import (
    RECORD_FORMATS,
    DataError,
    PairExample,
    SentenceExample,
    TextExample,
    get_label,
    get_score,
    get_text,
    read_conll,
    read_records,
    read_text_lines,
)

SENTENCE_CLASSIFICATION = "sentence_classification"
TOKEN_CLASSIFICATION = "token_classification"
SENTENCE_SIMILARITY = "sentence_similarity"
MASKED_LM = "masked_lm"


# ---- what a head predicts for one batch: one type per kind ----------------------------------
@dataclass(frozen=True)
class ClassPredictions:
    """Sentence classification: the most likely class of each text."""

    class_ids: torch.Tensor  # (B,) long


@dataclass(frozen=True)
class TagPredictions:
    """Token classification: the most likely tag at every position; only the positions that
    carry a label (each word's first sub-word) are read back."""

    tag_ids: torch.Tensor  # (B, T) long


@dataclass(frozen=True)
class SimilarityPredictions:
    """Sentence similarity: the cosine of the two sentence embeddings of each pair."""

    cosines: torch.Tensor  # (B,) float


@dataclass(frozen=True)
class MaskedPiecePredictions:
    """Masked-language modelling: one entry per masked piece of the batch, N in all (the
    masks are drawn in the head, so the gold ids come from there too)."""

    predicted_ids: torch.Tensor  # (N,) long: the most likely piece
    gold_ids: torch.Tensor  # (N,) long: the original piece
    gold_log_probabilities: torch.Tensor  # (N,) float: log p(original piece)


Predictions = ClassPredictions | TagPredictions | SimilarityPredictions | MaskedPiecePredictions
# A metric scores a file's predictions against its gold values; None: undefined on these
# examples (a correlation of constant scores).
Metric = Callable[[list, list], "float | None"]


class TaskKind:
    """What every kind defines; the subclasses below fill it in."""

    name: str
    formats: tuple[str, ...]  # file extensions it reads
    fields: dict[str, str]  # the TaskSpec field options it uses, with their defaults
    metrics: dict[str, Metric]  # name -> function; the first is the one to select models by
    has_label_map: bool  # classes or tags with ids (False: a regression target)
    head_can_have_hidden_layer: bool = False  # a classifier head: linear, or an MLP

    @property
    def main_metric(self) -> str:
        """The name of the metric that picks the best checkpoint."""
        return next(iter(self.metrics))

    def read(self, path: Path, fields: dict[str, str]) -> list:
        """The examples of one file; `fields` are the record field names (defaults filled in)."""
        raise NotImplementedError

    def labels(self, example) -> list[tuple[int, str]]:
        """(line, label string) for every label of an example; [] without a label map."""
        return []

    def texts(self, example) -> list[str]:
        """The plain text of an example (to train a vocabulary on)."""
        raise NotImplementedError

    def encode(self, examples: Sequence, tokenizer: Tokenizer,
               label_id: dict[str, int]) -> list[dict]:
        """Tokenize examples once (truncated, not padded): one dict of lists and numbers each."""
        raise NotImplementedError

    def collate(self, items: Sequence[dict], tokenizer: Tokenizer) -> dict[str, torch.Tensor]:
        """Stack encoded items into the batch tensors of the module docstring, padded to the
        longest sequence of *this* batch."""
        raise NotImplementedError

    def count_tokens(self, batch: dict[str, torch.Tensor]) -> tuple[int, int]:
        """(real tokens, token positions the encoder computes, padding included) of a batch:
        what the trainer's padding fraction is made of."""
        mask = batch["attention_mask"]  # (B, T)
        return int(mask.sum()), mask.numel()

    def gather(self, predictions: Predictions, batch: dict[str, torch.Tensor],
               label_map: list[str] | None) -> tuple[list, list]:
        """(predictions, gold) of one batch as Python lists, in the form the metrics take."""
        raise NotImplementedError

    def score(self, predictions: list, gold: list) -> dict[str, float | None]:
        """{metric name: value} of a whole file's gathered predictions and gold values."""
        return {name: metric(predictions, gold) for name, metric in self.metrics.items()}

    def check_format(self, path: str | Path) -> None:
        suffix = Path(path).suffix.lower()
        if suffix not in self.formats:
            raise DataError(path, None, f"a {self.name} task reads {' / '.join(self.formats)} "
                                        f"files, not {suffix or 'files without an extension'}")


class SentenceClassification(TaskKind):
    """One label per text (topic, sentiment): {"text": ..., "label": ...} records."""

    name = SENTENCE_CLASSIFICATION
    formats = RECORD_FORMATS
    fields = {"text_field": "text", "label_field": "label"}
    metrics = {"accuracy": accuracy, "macro_f1": macro_f1}
    has_label_map = True
    head_can_have_hidden_layer = True

    def read(self, path, fields):
        return [SentenceExample(get_text(path, n, record, fields["text_field"]),
                                get_label(path, n, record, fields["label_field"]), n)
                for n, record in read_records(path)]

    def labels(self, example):
        return [(example.line, example.label)]

    def texts(self, example):
        return [example.text]

    def encode(self, examples, tokenizer, label_id):
        ids = tokenizer.tokenize([example.text for example in examples])
        return [{"input_ids": row, "label": label_id[example.label]}
                for row, example in zip(ids, examples)]

    def collate(self, items, tokenizer):
        batch = tokenizer.pad([item["input_ids"] for item in items])
        batch["labels"] = torch.tensor([item["label"] for item in items], dtype=torch.long)
        return batch

    def gather(self, predictions: ClassPredictions, batch, label_map):
        return predictions.class_ids.tolist(), batch["labels"].tolist()


class TokenClassification(TaskKind):
    """One tag per word (NER, BIO tags): CoNLL files, which have no field names."""

    name = TOKEN_CLASSIFICATION
    formats = (".conll",)
    fields: dict[str, str] = {}
    metrics = {"entity_f1": entity_f1}
    has_label_map = True
    head_can_have_hidden_layer = True

    def read(self, path, fields):
        return read_conll(path)

    def labels(self, example):
        return [(example.line + i, tag) for i, tag in enumerate(example.tags)]

    def texts(self, example):
        return [" ".join(example.tokens)]

    def encode(self, examples, tokenizer, label_id):
        # The words are the file's; each may still split into several pieces.
        encodings = tokenizer.tokenize_words([example.tokens for example in examples])
        return [{"input_ids": ids,
                 "labels": align_labels(word_ids, [label_id[t] for t in example.tags])}
                for (ids, word_ids), example in zip(encodings, examples)]

    def collate(self, items, tokenizer):
        batch = tokenizer.pad([item["input_ids"] for item in items])
        labels = torch.full(batch["input_ids"].shape, IGNORE_INDEX, dtype=torch.long)  # (B, T)
        for row, item in enumerate(items):  # padding positions keep -100: no loss there
            labels[row, : len(item["labels"])] = torch.tensor(item["labels"], dtype=torch.long)
        batch["labels"] = labels
        return batch

    def gather(self, predictions: TagPredictions, batch, label_map):
        # One tag string per word, per sentence, for entity F1 over the words of the file.
        tag_ids = predictions.tag_ids.cpu()  # (B, T), read where the CPU batch has labels
        predicted = [word_tags(row, gold, label_map) for row, gold in zip(tag_ids, batch["labels"])]
        gold = [word_tags(row, row, label_map) for row in batch["labels"]]
        return predicted, gold


class SentenceSimilarity(TaskKind):
    """A gold score for a pair of texts (STS-B's 0-5): {"sentence1", "sentence2", "score"}."""

    name = SENTENCE_SIMILARITY
    formats = RECORD_FORMATS
    fields = {"text_field": "sentence1", "second_text_field": "sentence2", "label_field": "score"}
    metrics = {"spearman": spearman, "pearson": pearson}
    has_label_map = False

    def read(self, path, fields):
        return [PairExample(get_text(path, n, record, fields["text_field"]),
                            get_text(path, n, record, fields["second_text_field"]),
                            get_score(path, n, record, fields["label_field"]), n)
                for n, record in read_records(path)]

    def texts(self, example):
        return [example.text_a, example.text_b]

    def encode(self, examples, tokenizer, label_id):
        # A bi-encoder: each sentence is encoded alone, never as a [SEP]-joined pair.
        ids_a = tokenizer.tokenize([example.text_a for example in examples])
        ids_b = tokenizer.tokenize([example.text_b for example in examples])
        return [{"input_ids_a": a, "input_ids_b": b, "score": float(example.score)}
                for a, b, example in zip(ids_a, ids_b, examples)]

    def collate(self, items, tokenizer):
        a = tokenizer.pad([item["input_ids_a"] for item in items])  # (B, Ta)
        b = tokenizer.pad([item["input_ids_b"] for item in items])  # (B, Tb)
        return {"input_ids_a": a["input_ids"], "attention_mask_a": a["attention_mask"],
                "input_ids_b": b["input_ids"], "attention_mask_b": b["attention_mask"],
                "scores": torch.tensor([item["score"] for item in items], dtype=torch.float32)}

    def count_tokens(self, batch):
        # Both sides run as one batch, padded to the longer side (MultiTaskModel.embed_pairs).
        a, b = batch["attention_mask_a"], batch["attention_mask_b"]  # (B, Ta), (B, Tb)
        return int(a.sum()) + int(b.sum()), 2 * a.shape[0] * max(a.shape[1], b.shape[1])

    def gather(self, predictions: SimilarityPredictions, batch, label_map):
        return predictions.cosines.tolist(), batch["scores"].tolist()  # cosines vs gold scores


class MaskedLanguageModeling(TaskKind):
    """Predict masked word pieces of plain text (BERT's pretraining objective): a .txt file, one
    text per line, or the text field of any record file. No labels: the text is the target."""

    name = MASKED_LM
    formats = (".txt", *RECORD_FORMATS)
    fields = {"text_field": "text"}
    metrics = {"masked_accuracy": masked_accuracy, "perplexity": perplexity,
               "masked_lm_loss": masked_lm_loss}
    has_label_map = False

    def read(self, path, fields):
        if Path(path).suffix.lower() == ".txt":
            return read_text_lines(path)
        return [TextExample(get_text(path, n, record, fields["text_field"]), n)
                for n, record in read_records(path)]

    def texts(self, example):
        return [example.text]

    def encode(self, examples, tokenizer, label_id):
        if tokenizer.token_id("[MASK]") is None:  # before any training starts
            raise InputError("masked-language modelling needs a [MASK] token, and this "
                             "vocabulary has none")
        return [{"input_ids": row} for row in tokenizer.tokenize([e.text for e in examples])]

    def collate(self, items, tokenizer):
        batch = tokenizer.pad([item["input_ids"] for item in items])
        special = torch.tensor([tokenizer.token_id(token) for token in SPECIAL_TOKENS
                                if tokenizer.token_id(token) is not None])
        batch["maskable"] = (batch["attention_mask"].bool()
                             & ~torch.isin(batch["input_ids"], special))
        return batch

    def gather(self, predictions: MaskedPiecePredictions, batch, label_map):
        # Per masked piece: (predicted id, log-probability of the gold id), and the gold id.
        pieces = zip(predictions.predicted_ids.tolist(),
                     predictions.gold_log_probabilities.double().tolist())
        return list(pieces), predictions.gold_ids.tolist()

    def score(self, predictions, gold):
        if not gold:  # only texts without a maskable piece (all [UNK], say)
            raise InputError("no word pieces to mask in this text: it holds nothing but special "
                             "tokens")
        return super().score(predictions, gold)


KINDS: dict[str, TaskKind] = {kind.name: kind for kind in
                              (SentenceClassification(), TokenClassification(),
                               SentenceSimilarity(), MaskedLanguageModeling())}


def get_kind(name: str) -> TaskKind:
    if name not in KINDS:
        raise InputError(f"unknown task kind {name!r}; choose one of {', '.join(KINDS)}")
    return KINDS[name]


def read_examples(path: str | Path, kind: str, text_field: str | None = None,
                  label_field: str | None = None, second_text_field: str | None = None) -> list:
    """Read a task's file into examples of its kind; None fields take the kind's defaults.

    Raises DataError for a format that does not fit the kind and for a file with no examples.
    """
    task_kind = get_kind(kind)
    task_kind.check_format(path)
    given = {"text_field": text_field, "label_field": label_field,
             "second_text_field": second_text_field}
    fields = {name: given[name] or default for name, default in task_kind.fields.items()}
    examples = task_kind.read(Path(path), fields)
    if not examples:
        raise DataError(path, None, "no examples (the file is empty or holds only a header / "
                                    "blank lines)")
    return examples


# ---- token tasks: words <-> word pieces -----------------------------------------------------
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


def word_tags(label_ids: torch.Tensor, aligned_labels: torch.Tensor,
              label_map: list[str]) -> list[str]:
    """The inverse of align_labels: one tag per word, `label_ids` (T,) read where
    `aligned_labels` (T,) is not IGNORE_INDEX, i.e. at each word's first sub-word."""
    return [label_map[i] for i in label_ids[aligned_labels != IGNORE_INDEX].tolist()]
