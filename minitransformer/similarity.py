"""Cosine similarity and semantic search: the most common use of sentence embeddings.

    scores = cos_sim(queries, corpus)                      # (n, m)
    hits = semantic_search(queries, corpus, top_k=5)       # per query: [(corpus index, score)]

Semantic search is a cosine matrix and a top-k per row. The corpus is scored in chunks, so a
million-sentence corpus never needs an (n, 1,000,000) matrix at once: each chunk keeps only its
own top k, and the final top k is taken from those.

Equal vectors must get equal scores, or the rule for ties (the lower index wins) would depend on
the machine: a float32 matrix product of another shape (another chunk size, another CPU's
kernel) can round the same dot product differently in the last bit. So the search scores in
float64 and rounds the scores to float32: the kernels' float64 differences (about 1e-16) are far
below float32's rounding step (about 6e-8), so equal vectors round to the same float32 score.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError


def as_matrix(embeddings, name: str) -> torch.Tensor:
    """A numpy array, a tensor or a list of vectors -> a float (n, d) tensor ((d,) -> (1, d))."""
    if isinstance(embeddings, list) and embeddings and isinstance(embeddings[0], torch.Tensor):
        embeddings = torch.stack(embeddings)
    if isinstance(embeddings, (list, tuple)) and not embeddings:
        return torch.empty(0, 0)  # no vectors at all
    matrix = torch.as_tensor(np.asarray(embeddings) if not isinstance(embeddings, torch.Tensor)
                             else embeddings)
    if matrix.dim() == 1:
        matrix = matrix.unsqueeze(0)
    if matrix.dim() != 2:
        raise InputError(f"{name} must be (n, d) or (d,), got shape {tuple(matrix.shape)}")
    if matrix.is_complex():  # a cosine of complex vectors is no similarity score
        raise InputError(f"{name} must hold real numbers, got {matrix.dtype}")
    return matrix.float() if not matrix.is_floating_point() else matrix


def cos_sim(a, b) -> torch.Tensor:
    """(n, d), (m, d) -> (n, m): the cosine of every row of a with every row of b. Rows of zeros
    get cosine 0 (F.normalize divides by max(norm, eps))."""
    a, b = as_matrix(a, "a"), as_matrix(b, "b")
    if len(a) == 0 or len(b) == 0:
        return torch.empty(len(a), len(b))
    if a.shape[1] != b.shape[1]:
        raise InputError(f"cos_sim: vectors of width {a.shape[1]} and {b.shape[1]} "
                         f"cannot be compared")
    # Like sentence-transformers: b moves to a's device and dtype (a corpus from a .npy file,
    # queries from a model on the GPU).
    return F.normalize(a, dim=-1) @ F.normalize(b.to(a.device, a.dtype), dim=-1).T


def best_of(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, m) -> the k best scores of each row and their column indices, both (n, k), in the
    order (score high to low, index low to high). torch.topk finds the k-th best score; which of
    several entries tied at that score it keeps is left open, so the tie is settled here: the
    lower indices win, whatever the chunking or the machine."""
    threshold = scores.topk(k, dim=1).values[:, -1:]  # (n, 1): each row's k-th best score
    above, tied = scores > threshold, scores == threshold
    room = k - above.sum(dim=1, keepdim=True)  # (n, 1): places left for the tied entries
    keep = above | (tied & (tied.cumsum(dim=1) <= room))  # exactly k per row
    indices = keep.nonzero()[:, 1].view(len(scores), k)  # (n, k), ascending within a row
    values, order = scores.gather(1, indices).sort(dim=1, descending=True, stable=True)
    return values, indices.gather(1, order)


def semantic_search(query_embeddings, corpus_embeddings, top_k: int = 10,
                    corpus_chunk_size: int = 100_000) -> list[list[tuple[int, float]]]:
    """For each query, the top_k corpus entries by cosine: a list (one per query) of
    (corpus index, score), highest score first and, among equal scores, the lower index first.
    top_k larger than the corpus gives the whole corpus, sorted."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InputError(f"top_k must be a positive integer, got {top_k!r}")
    queries, corpus = as_matrix(query_embeddings, "queries"), as_matrix(corpus_embeddings, "corpus")
    best_scores = torch.empty(len(queries), 0)
    best_indices = torch.empty(len(queries), 0, dtype=torch.long)
    for start in range(0, len(corpus), corpus_chunk_size):
        chunk = corpus[start:start + corpus_chunk_size]
        scores = cos_sim(queries.double(), chunk).float().cpu()  # (n, chunk); see the docstring
        scores = scores.nan_to_num(nan=float("-inf"))  # a NaN vector ranks last, not nowhere
        chunk_scores, chunk_indices = best_of(scores, min(top_k, scores.shape[1]))
        best_scores = torch.cat([best_scores, chunk_scores], dim=1)  # (n, <= chunks * top_k)
        best_indices = torch.cat([best_indices, chunk_indices + start], dim=1)
    if len(corpus) > corpus_chunk_size:  # several chunks: the best of the chunks' best
        position_scores, positions = best_of(best_scores, min(top_k, best_scores.shape[1]))
        best_scores, best_indices = position_scores, best_indices.gather(1, positions)
    return [list(zip(indices, scores))
            for indices, scores in zip(best_indices.tolist(), best_scores.tolist())]
