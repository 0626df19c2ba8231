"""The packed (padding-free) inference path computes the same function as Encoder.forward."""

import numpy as np
import pytest
import torch

from conftest import make_encoder
from minitransformer.packed import packed_forward

SETTINGS = [dict(norm_placement="post", positional="learned"),
            dict(norm_placement="pre", positional="sinusoidal")]


def padded_batch(lengths, vocab_size=100, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, (len(lengths), max(lengths)), generator=generator)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    return ids * mask, mask  # padding id 0


@pytest.mark.parametrize("settings", SETTINGS, ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("lengths", [[7, 3, 5, 1], [6, 6, 6]], ids=["padded", "no padding"])
def test_packed_states_equal_the_reference_at_real_tokens(settings, lengths):
    encoder = make_encoder(100, num_layers=3, **settings)
    ids, mask = padded_batch(lengths)
    with torch.inference_mode():
        reference = encoder(ids, mask)
        packed = packed_forward(encoder, ids, mask)
    real = mask.bool()
    torch.testing.assert_close(packed[real], reference[real], rtol=1e-5, atol=1e-5)
    assert torch.count_nonzero(packed[~real]) == 0  # zeros at padding, not leftovers


def test_encode_gives_the_same_embeddings_on_both_paths(sentence_encoder):
    sentences = ["a short one", "a much longer sentence with quite a few more words in it",
                 "mid length sentence here"]
    fast = sentence_encoder.encode(sentences, batch_size=2)
    reference = sentence_encoder.encode(sentences, batch_size=2, fast=False)
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-6)


def test_packed_path_refuses_training_mode():
    encoder = make_encoder(100).train()
    ids, mask = padded_batch([3, 2])
    with pytest.raises(RuntimeError, match="inference"):
        packed_forward(encoder, ids, mask)
