"""SentenceEncoder: tokenizer + encoder + pooling (+ L2 normalisation) = sentence embeddings.

    "A cat sat." -> ids (1, T) -> Encoder -> states (1, T, d) -> pooling -> (d,) -> / ||.||

`encode` works like sentence-transformers' `encode`: it tokenizes everything once, sorts by
token length so that each batch holds sentences of similar length (little padding, hence
little wasted computation), runs in eval mode under `torch.inference_mode()`, and returns the
rows in input order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .devices import pick_device
from .errors import InputError, about
from .fast.packed import packed_forward
from .fast.quantize import WeightsVersion, int8_copy
from .model.config import EncoderConfig
from .model.encoder import Encoder
from .model.pooling import get_pooling
from .model.tokenizer import Tokenizer, check_texts
from .storage.atomic import atomic_directory, write_json
from .storage.formats import (
    BOOLEAN,
    CONFIG_FILE,
    SAVED_MODEL_VERSION,
    SENTENCE_ENCODER_FORMAT,
    TEXT,
    WEIGHTS_FILE,
    Format,
    Schema,
    check_schema,
    holds_only,
    read_description,
    whole_number,
)
from .storage.lines import split_lines
from .storage.safetensors_io import build_to_fit, write_safetensors

# Below this many batches a progress bar is more noise than help.
PROGRESS_MIN_BATCHES = 8
PRECISIONS = ("float32", "int8")
# int8 copies measure their activations' ranges on these (self-written) sentences.
CALIBRATION_TEXT = Path(__file__).resolve().parent / "default_data" / "train.jsonl"
# The fields of a saved model's config.json besides the encoder's (EncoderConfig checks those).
SAVED_MODEL_SCHEMA: Schema = {"pooling": TEXT, "normalize": BOOLEAN, "max_length": whole_number(2)}


class SentenceEncoder(nn.Module):
    """Maps sentences to fixed-length vectors. `forward` takes tensors, `encode` takes text."""

    def __init__(self, tokenizer: Tokenizer, encoder: Encoder, pooling: str = "mean",
                 normalize: bool = True, device: str | torch.device | None = None):
        """tokenizer: kept as it is given, or, if it allows more tokens than the encoder has
        positions (config.max_length), a copy of it limited to them; the tokenizer passed in
        is never changed.
        normalize: whether the model's output ends with scaling each vector to unit length
        (sentence-transformers' Normalize module); so that a dot product is a cosine.
        device: move the model there; None leaves the encoder where it is."""
        super().__init__()
        config = encoder.config
        if tokenizer.vocab_size > config.vocab_size:
            raise InputError(f"the tokenizer has {tokenizer.vocab_size} tokens but the encoder's "
                             f"embedding table only {config.vocab_size} (EncoderConfig.vocab_size)")
        # The tokenizer must never produce more tokens than the encoder has positions. Copied,
        # not changed: the caller's tokenizer may serve another model with more positions.
        if tokenizer.max_length > config.max_length:
            tokenizer = tokenizer.with_max_length(config.max_length)
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.pooling_name = pooling
        self.pool = get_pooling(pooling)
        self.normalize = normalize
        # (WeightsVersion, int8 copy of the encoder), made on the first encode(precision="int8").
        # A tuple, so that nn.Module does not register the copy as a submodule.
        self.int8_cache: tuple | None = None
        if device is not None:
            self.to(pick_device(device))

    @property
    def embedding_size(self) -> int:
        return self.encoder.config.hidden_size

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                segment_ids: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids, attention_mask (1 = token, 0 = padding): (B, T). Returns (B, d): the pooled
        vectors, before any normalisation."""
        states = self.encoder(input_ids, attention_mask, segment_ids)  # (B, T, d)
        return self.pool(states, attention_mask)  # (B, d)

    def encode(self, sentences: str | list[str], batch_size: int = 32,
               show_progress_bar: bool | None = None, convert_to_numpy: bool = True,
               convert_to_tensor: bool = False, normalize_embeddings: bool = False,
               device: str | torch.device | None = None, fast: bool = True,
               precision: str = "float32"):
        """Embed sentences; the arguments are sentence-transformers' `encode`'s, with its meanings.

        Returns, in input order: a float32 numpy array (n, d) on the CPU; with convert_to_tensor,
        a tensor (n, d) on the model's device; with convert_to_numpy=False (and no tensor), a
        list of n tensors (d,). A single string gives one (d,) vector; an empty list (0, d).
        normalize_embeddings: scale each vector to unit length. A model whose output is already
            normalised (self.normalize, as all-MiniLM-L6-v2's Normalize module does) stays so.
        show_progress_bar: None shows a bar for long inputs when stderr is a terminal.
        device: compute there; the model moves to it and stays (as in sentence-transformers).
        fast: run the packed, padding-free path of packed.py (in float32, the same result
            within 1e-5); False runs the readable reference Encoder.forward.
        precision: "float32", or "int8" to compute the linear layers in 8-bit integers
            (quantize.py; CPU only): the first call also makes the int8 copy (calibrated on
            the default dataset's sentences), the vectors differ slightly from float32's, and
            a little with the batch (the activations' int8 scale is the batch's). The result is
            float32 either way. Its speed and quality, measured: benchmarks/README.md.
            Not sentence-transformers' `precision`, which quantises the *output* vectors (to
            int8 or binary codes) after a float32 computation.
        """
        single = isinstance(sentences, str)
        sentences = check_texts([sentences] if single else sentences)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        target = self.device if device is None else pick_device(device)
        if precision == "int8" and target.type != "cpu":
            raise InputError(f"int8 inference runs on the CPU only, not on {target}")
        self.to(target)
        device = target
        encoder = self.int8_encoder() if precision == "int8" else self.encoder
        normalize = self.normalize or normalize_embeddings
        embeddings = torch.empty(len(sentences), self.embedding_size)
        token_ids = self.tokenizer.tokenize(sentences)  # tokenized once, for sorting and batching
        # Longest first: if a batch does not fit in memory, we learn it on the first batch.
        order = sorted(range(len(sentences)), key=lambda i: len(token_ids[i]), reverse=True)
        starts = range(0, len(order), batch_size)
        if show_progress_bar is None:
            show_progress_bar = len(starts) >= PROGRESS_MIN_BATCHES and sys.stderr.isatty()

        was_training = self.training
        self.eval()  # no dropout
        try:
            with torch.inference_mode():  # no autograd bookkeeping at all
                for start in tqdm(starts, desc="embedding", unit="batch",
                                  disable=not show_progress_bar):
                    rows = order[start : start + batch_size]
                    batch = self.tokenizer.pad([token_ids[i] for i in rows])
                    ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
                    states = packed_forward(encoder, ids, mask) if fast else encoder(ids, mask)
                    pooled = self.pool(states, mask)  # (B, d)
                    if normalize:
                        pooled = F.normalize(pooled, p=2, dim=-1)
                    embeddings[rows] = pooled.float().cpu()
        finally:
            self.train(was_training)

        if single:
            embeddings = embeddings[0]
        if convert_to_tensor:
            return embeddings.to(device)
        if not convert_to_numpy:
            return embeddings if single else list(embeddings)
        return embeddings.numpy()

    def int8_encoder(self) -> Encoder:
        """The int8 copy of the encoder (quantize.py), made again when the weights changed."""
        if self.int8_cache is None or not self.int8_cache[0].matches(self.encoder):
            self.int8_cache = (WeightsVersion(self.encoder),
                               int8_copy(self.encoder, self.calibration_batches()))
        return self.int8_cache[1]

    def calibration_batches(self, batch_size: int = 32):
        """(input_ids, attention_mask) batches of the default dataset's training sentences."""
        lines = split_lines(CALIBRATION_TEXT.read_text(encoding="utf-8"))
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer.pad(self.tokenizer.tokenize(texts[start : start + batch_size]))
            yield batch["input_ids"], batch["attention_mask"]

    # ---- saving (loading.load_model reads it back) -------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Write config.json, model.safetensors and the tokenizer into a directory, atomically:
        a new one, an empty one, or one that holds a saved model (which is replaced). A
        directory that holds anything else is refused, so that nothing of a person's is lost."""
        directory = Path(directory)
        if not holds_only(directory, Format.SENTENCE_ENCODER):
            raise InputError(f"{directory}: holds files that are not a saved model; save into a "
                             f"new directory")
        description = {
            "format": SENTENCE_ENCODER_FORMAT,
            "format_version": SAVED_MODEL_VERSION,
            "encoder": self.encoder.config.to_dict(),
            "pooling": self.pooling_name,
            "normalize": self.normalize,
            "max_length": self.tokenizer.max_length,
        }
        state = {name: tensor.detach().cpu() for name, tensor in self.encoder.state_dict().items()}
        with atomic_directory(directory) as temporary:
            write_safetensors(temporary / WEIGHTS_FILE, state,
                              metadata={"format": SENTENCE_ENCODER_FORMAT})
            self.tokenizer.save(temporary)
            write_json(temporary / CONFIG_FILE, description)


def read_saved_model(directory: Path) -> SentenceEncoder:
    """The model in a directory written by `save` (JSON and safetensors only: no code runs);
    loading.load_model calls it for that format."""
    description = read_description(directory / CONFIG_FILE, SENTENCE_ENCODER_FORMAT,
                                   SAVED_MODEL_VERSION, ("encoder", "pooling", "max_length"),
                                   "SentenceEncoder")
    check_schema(directory / CONFIG_FILE, description, SAVED_MODEL_SCHEMA)
    with about(directory / CONFIG_FILE):
        config = EncoderConfig.from_dict(description["encoder"])
    # The config's sizes are checked against the weight file before anything is built.
    encoder = build_to_fit(lambda: Encoder(config), directory / WEIGHTS_FILE)
    # Never more than the encoder's positions (the backend takes no number above 2**64).
    tokenizer = Tokenizer.load(directory,
                               max_length=min(description["max_length"], config.max_length))
    with about(directory):
        # Models saved before "normalize" was recorded were always used normalised.
        return SentenceEncoder(tokenizer, encoder, pooling=description["pooling"],
                               normalize=description.get("normalize", True))
