"""cos_sim and semantic_search against brute force in numpy (float64, a plain sort)."""

import numpy as np
import pytest
import torch

from minitransformer.errors import InputError
from minitransformer.similarity import cos_sim, semantic_search


def brute_force(queries: np.ndarray, corpus: np.ndarray, top_k: int):
    unit_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    unit_c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    # float64, rounded to float32 as semantic_search rounds: equal vectors, equal scores.
    scores = (unit_q.astype(np.float64) @ unit_c.astype(np.float64).T).astype(np.float32)
    return [[(j, row[j]) for j in sorted(range(len(corpus)), key=lambda j: (-row[j], j))[:top_k]]
            for row in scores]


def corpus_with_ties(seed=0):
    """40 random vectors, then copies of some of them (exact ties) in between."""
    rng = np.random.default_rng(seed)
    corpus = rng.normal(size=(40, 16)).astype(np.float32)
    corpus = np.concatenate([corpus, corpus[[3, 3, 17, 0]]])  # exact copies: exact ties
    order = rng.permutation(len(corpus))
    return rng.normal(size=(6, 16)).astype(np.float32), corpus[order]


def test_cos_sim_is_the_cosine_matrix():
    a, b = np.random.default_rng(1).normal(size=(2, 5, 8)).astype(np.float32)
    expected = ((a / np.linalg.norm(a, axis=1, keepdims=True))
                @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T)
    np.testing.assert_allclose(cos_sim(a, b).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(cos_sim(torch.from_numpy(a[0]), b).numpy(), expected[:1], atol=1e-6)
    with pytest.raises(InputError, match="width 8 and 7"):
        cos_sim(a, b[:, :7])


@pytest.mark.parametrize("top_k", [1, 5, 12, 45, 100])
@pytest.mark.parametrize("chunk", [7, 100_000])
def test_semantic_search_equals_brute_force_with_ties(top_k, chunk):
    queries, corpus = corpus_with_ties()
    # Put queries on top of corpus entries with copies, so ties land at the top too.
    queries[0], queries[1] = corpus[np.flatnonzero((corpus == corpus[0]).all(1))[0]], corpus[5]
    hits = semantic_search(queries, corpus, top_k=top_k, corpus_chunk_size=chunk)
    expected = brute_force(queries, corpus, top_k)
    assert len(hits) == len(queries)
    for got, want in zip(hits, expected):
        assert [index for index, _ in got] == [index for index, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-6)
    assert all(len(row) == min(top_k, len(corpus)) for row in hits)


def test_ties_straddling_top_k_keep_the_lower_indices():
    corpus = np.array([[0, 1], [1, 0], [1, 0], [1, 0], [2, 0], [0, 3]], dtype=np.float32)
    hits = semantic_search(np.array([[1.0, 0.0]]), corpus, top_k=3, corpus_chunk_size=2)
    assert [index for index, _ in hits[0]] == [1, 2, 3]  # four tied at 1.0: 1, 2, 3, 4


def test_bad_top_k():
    with pytest.raises(InputError, match="top_k"):
        semantic_search(np.ones((1, 2)), np.ones((3, 2)), top_k=0)


def test_empty_inputs_and_nan_vectors():
    corpus = np.random.default_rng(2).normal(size=(4, 8)).astype(np.float32)
    assert semantic_search([], corpus, top_k=3) == []
    assert semantic_search(corpus[:2], np.empty((0, 8), np.float32), top_k=3) == [[], []]
    assert cos_sim([], corpus).shape == (0, 4)
    corpus[1] = np.nan  # a broken vector ranks last instead of breaking the search
    hits = semantic_search(corpus[:1], corpus, top_k=4)[0]
    assert [index for index, _ in hits][-1] == 1 and len(hits) == 4
