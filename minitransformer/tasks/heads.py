"""Task heads on a shared encoder, and the MultiTaskModel that routes each batch to its head.

    text -> Encoder -> token states (B, T, d) --pool--> sentence embedding (B, d)
                            |                                   |
             TokenClassificationHead (NER)        SentenceClassificationHead (topic, sentiment)
             MaskedLanguageModelHead (BERT's MLM) SimilarityObjective (cosine of two sentences)

Each batch belongs to one task; the encoder runs once for it and only that task's head is used.
Each head says what it reads (`task_output`): the pooled embedding, the token states, or the
embeddings of both sides of a pair; and it returns its loss and its kind's typed predictions
(kinds.py). `HEADS` gives the head of each task kind; `build_head` makes one, with everything
it will need (label count, the [MASK] id, ...) given once, when it is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..fast.packed import packed_forward
from ..model.config import EncoderConfig
from ..model.encoder import ACTIVATION_FUNCTIONS, Encoder
from ..model.pooling import get_pooling
from ..model.tokenizer import Tokenizer

# IGNORE_INDEX: the label of positions without loss (later sub-words, specials, padding)
from .kinds import (
    IGNORE_INDEX,
    MASKED_LM,
    SENTENCE_CLASSIFICATION,
    SENTENCE_SIMILARITY,
    TOKEN_CLASSIFICATION,
    ClassPredictions,
    MaskedPiecePredictions,
    Predictions,
    SimilarityPredictions,
    TagPredictions,
)
from .masking import mask_by_content, mask_tokens


@dataclass
class TaskOutput:
    loss: torch.Tensor  # scalar, the task's unweighted loss
    predictions: Predictions  # the head's kind's type (kinds.py), detached from the graph


class LinearHead(nn.Module):
    """Dropout, then one linear layer to label logits, or with `hidden`, an MLP:
    dropout -> linear d -> hidden -> ReLU -> dropout -> linear hidden -> C. It acts on the last
    dimension, so the same module serves pooled embeddings (B, d) -> (B, C) and token states
    (B, T, d) -> (B, T, C)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1,
                 hidden: int | None = None):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.hidden = None if hidden is None else nn.Linear(hidden_size, hidden)
        self.classifier = nn.Linear(hidden or hidden_size, num_labels)

    @classmethod
    def build(cls, config: EncoderConfig, tokenizer: Tokenizer, label_map: list[str],
              dropout: float = 0.1, hidden: int | None = None) -> "LinearHead":
        return cls(config.hidden_size, len(label_map), dropout, hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = self.dropout(features)
        if self.hidden is not None:
            features = self.dropout(F.relu(self.hidden(features)))
        return self.classifier(features)


class SentenceClassificationHead(LinearHead):
    """Pooled embedding (B, d) -> class logits (B, C) (topic, sentiment, ...)."""

    kind = SENTENCE_CLASSIFICATION

    @staticmethod
    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels)

    def task_output(self, model: "MultiTaskModel", batch: dict[str, torch.Tensor]) -> TaskOutput:
        logits = self(model.embed(batch["input_ids"], batch["attention_mask"]))  # (B, C)
        return TaskOutput(self.loss(logits, batch["labels"]),
                          ClassPredictions(logits.argmax(dim=-1)))


class TokenClassificationHead(LinearHead):
    """Token states (B, T, d) -> per-token tag logits (B, T, C) (NER)."""

    kind = TOKEN_CLASSIFICATION

    @staticmethod
    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """labels (B, T) hold IGNORE_INDEX wherever no word starts."""
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)

    def task_output(self, model: "MultiTaskModel", batch: dict[str, torch.Tensor]) -> TaskOutput:
        logits = self(model.states(batch["input_ids"], batch["attention_mask"]))  # (B, T, C)
        return TaskOutput(self.loss(logits, batch["labels"]),
                          TagPredictions(logits.argmax(dim=-1)))


class SimilarityObjective(nn.Module):
    """Cosine similarity of two sentence embeddings, trained with the CoSENT loss (Su 2022).

    Why CoSENT rather than MSE between cosine and the gold score: STS is judged by Spearman, a
    rank correlation, and CoSENT only asks that pairs with a higher gold score get a higher
    cosine than pairs with a lower one. It needs no rescaling of the gold scores into [-1, 1]
    and does not waste effort pushing cosines to arbitrary absolute targets:

        loss = log(1 + sum over (i, j) with gold_i > gold_j of exp(scale * (cos_j - cos_i)))

    It has no parameters: the whole objective acts through the shared encoder.
    """

    kind = SENTENCE_SIMILARITY

    def __init__(self, scale: float = 20.0):
        super().__init__()
        self.scale = scale

    @classmethod
    def build(cls, config: EncoderConfig, tokenizer: Tokenizer, label_map: None,
              dropout: float = 0.1, hidden: None = None) -> "SimilarityObjective":
        return cls()  # no parameters: nothing depends on the width, labels or dropout

    def forward(self, pooled_a: torch.Tensor, pooled_b: torch.Tensor) -> torch.Tensor:
        """(B, d), (B, d) -> cosine similarities (B,)."""
        return F.cosine_similarity(pooled_a, pooled_b, dim=-1)

    def loss(self, cosines: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        # [i, j] = s(cos_j - cos_i)
        differences = self.scale * (cosines[None, :] - cosines[:, None])
        ordered = scores[:, None] > scores[None, :]  # [i, j]: pair i should rank above pair j
        differences = differences.masked_fill(~ordered, float("-inf"))  # exp(-inf) = 0
        zero = torch.zeros(1, dtype=differences.dtype, device=differences.device)  # the "1 +"
        return torch.logsumexp(torch.cat([zero, differences.flatten()]), dim=0)

    def task_output(self, model: "MultiTaskModel", batch: dict[str, torch.Tensor]) -> TaskOutput:
        pooled_a, pooled_b = model.embed_pairs(batch)  # (B, d) each
        cosines = self(pooled_a, pooled_b)
        return TaskOutput(self.loss(cosines, batch["scores"]),
                          SimilarityPredictions(cosines.detach()))


class MaskedLanguageModelHead(nn.Module):
    """BERT's masked-language-model head: token states (N, d) -> logits over the vocabulary (N, V).

        dense (d -> d) -> activation -> LayerNorm -> decoder (d -> V, + bias)

    The decoder's weight *is* the encoder's token-embedding table (tied, Press & Wolf 2017):
    the piece a state is closest to in embedding space is the piece it predicts. So the head
    holds only the transform and the bias; the table comes from the model at each call.

    It also masks its batches (masking.py), with two numbers of the tokenizer that it keeps as
    plain ints, not tensors: reading a tensor back into an int would wait for the GPU each step.
    They are not saved with the weights; the checkpoint's tokenizer gives them again.
    """

    kind = MASKED_LM

    def __init__(self, config: EncoderConfig, mask_id: int, vocab_size: int):
        """mask_id: the id of [MASK]; vocab_size: the tokenizer's, whose ids random
        replacements are drawn from."""
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = ACTIVATION_FUNCTIONS[config.activation]
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.mask_id, self.vocab_size = mask_id, vocab_size

    @classmethod
    def build(cls, config: EncoderConfig, tokenizer: Tokenizer, label_map: None,
              dropout: float = 0.1, hidden: None = None) -> "MaskedLanguageModelHead":
        mask_id = tokenizer.token_id("[MASK]")
        if mask_id is None:
            raise InputError("masked-language modelling needs a [MASK] token, and this "
                             "vocabulary has none")
        return cls(config, mask_id, tokenizer.vocab_size)

    def forward(self, states: torch.Tensor, embedding_table: torch.Tensor) -> torch.Tensor:
        """states (..., d), embedding_table (V, d) -> logits (..., V)."""
        return F.linear(self.norm(self.activation(self.dense(states))), embedding_table, self.bias)

    def task_output(self, model: "MultiTaskModel", batch: dict[str, torch.Tensor]) -> TaskOutput:
        # Training: fresh masks from the global generator, which the trainer seeds every step.
        # Evaluation: masks fixed by each text, so every evaluation scores the same positions.
        arguments = (batch["maskable"], self.mask_id, self.vocab_size)
        corrupted, labels = (mask_tokens(batch["input_ids"], *arguments) if self.training else
                             mask_by_content(batch["input_ids"], batch["attention_mask"],
                                             *arguments))
        states = model.states(corrupted, batch["attention_mask"])  # (B, T, d)
        chosen = labels != IGNORE_INDEX  # (B, T)
        # Logits only where there is a loss: V = 30522 logits for every piece would cost more
        # than the rest of the model.
        logits = self(states[chosen], model.encoder.embeddings.token.weight)  # (N, V)
        gold = labels[chosen]  # (N,)
        gold_log_probabilities = logits.log_softmax(dim=-1).gather(1, gold[:, None])[:, 0]  # (N,)
        # No piece chosen (a batch of very short texts): a zero loss that still has a graph.
        loss = -gold_log_probabilities.mean() if len(gold) else states.sum() * 0.0
        predictions = MaskedPiecePredictions(logits.argmax(dim=-1), gold,
                                             gold_log_probabilities.detach())  # (N,) each
        return TaskOutput(loss, predictions)


# The head of each task kind: a new kind adds its head class here.
HEADS = {head.kind: head for head in (SentenceClassificationHead, TokenClassificationHead,
                                      SimilarityObjective, MaskedLanguageModelHead)}


def build_head(kind: str, config: EncoderConfig, tokenizer: Tokenizer,
               label_map: list[str] | None = None, dropout: float = 0.1,
               hidden: int | None = None) -> nn.Module:
    """A new head for a task of `kind` on an encoder of `config` whose vocabulary is
    `tokenizer`'s (a masked-LM head takes its [MASK] id and size from it). label_map: the
    task's classes or tags, None for kinds without labels; hidden: a classifier's hidden
    layer (TaskSpec.head_hidden)."""
    if kind not in HEADS:
        raise ValueError(f"no head for task kind {kind!r}; heads exist for {', '.join(HEADS)}")
    return HEADS[kind].build(config, tokenizer, label_map, dropout, hidden)


class MultiTaskModel(nn.Module):
    """One shared encoder, one pooling, and a head per task (a ModuleDict keyed by task name)."""

    def __init__(self, encoder: Encoder, heads: dict[str, nn.Module], pooling: str = "mean"):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict(heads)
        self.pooling_name = pooling
        self.pool = get_pooling(pooling)
        self.packed = False  # run the encoder on packed real tokens (packed.py), not padded ones
        # Callables told of every encoder pass, (input_ids, attention_mask, states): the one
        # door through which every head reaches the encoder (training/distillation.py listens).
        self.state_listeners: list = []

    def states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The encoder's token states (B, T, d): by the reference path, or with `packed` by the
        padding-free one (the same values at real tokens; zeros at padding)."""
        if self.packed:
            states = packed_forward(self.encoder, input_ids, attention_mask)
        else:
            states = self.encoder(input_ids, attention_mask)
        for listener in self.state_listeners:
            listener(input_ids, attention_mask, states)
        return states

    def train_unfrozen(self) -> "MultiTaskModel":
        """Train mode for the blocks that have something to train, eval mode for the others,
        so that a frozen block adds no dropout noise (freezing.py says why): what the trainer
        calls. `train()` keeps nn.Module's meaning, every block in train mode."""
        self.train()
        encoder_blocks = [module for depth in self.encoder.blocks_by_depth() for module in depth]
        for block in [*encoder_blocks, *self.heads.values()]:
            if not any(parameter.requires_grad for parameter in block.parameters()):
                block.eval()
        return self

    def forward(self, task: str, batch: dict[str, torch.Tensor]) -> TaskOutput:
        """Run the encoder once on the batch of `task` and apply that task's head.

        Batches (layouts in kinds.py): classification {'input_ids', 'attention_mask' (B, T),
        'labels'}; similarity {'input_ids_a', 'attention_mask_a', 'input_ids_b',
        'attention_mask_b', 'scores' (B,)}; masked-LM {'input_ids', 'attention_mask',
        'maskable' (B, T)}.
        """
        if task not in self.heads:
            raise KeyError(f"no head for task {task!r}; heads: {', '.join(self.heads)}")
        return self.heads[task].task_output(self, batch)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, T) ids and mask -> pooled sentence embeddings (B, d), not normalised."""
        return self.pool(self.states(input_ids, attention_mask), attention_mask)

    def embed_pairs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings (B, d) of both sides of a similarity batch, in one encoder call: the two
        sides are padded to a common length and stacked into one (2B, T) batch."""
        ids_a, ids_b = batch["input_ids_a"], batch["input_ids_b"]
        length = max(ids_a.shape[1], ids_b.shape[1])
        pad_id = self.encoder.config.pad_id
        ids = torch.cat([F.pad(ids_a, (0, length - ids_a.shape[1]), value=pad_id),
                         F.pad(ids_b, (0, length - ids_b.shape[1]), value=pad_id)])
        mask = torch.cat([F.pad(batch["attention_mask_a"], (0, length - ids_a.shape[1])),
                          F.pad(batch["attention_mask_b"], (0, length - ids_b.shape[1]))])
        return self.embed(ids, mask).chunk(2)  # (B, d) each
