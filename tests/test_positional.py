import math

import pytest
import torch

from minitransformer.model.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
)


def test_an_odd_width_has_one_cos_fewer():
    """Even widths are checked by tests/test_checks.py (the positional component); ours also
    takes an odd width, which the paper does not define: the last dimension is a sin."""
    hidden_size = 15
    encoding = SinusoidalPositionalEncoding(max_length=100, hidden_size=hidden_size)
    table = encoding(torch.Size([2, 100]))[0]
    for pos in (0, 1, 7, 50, 99):
        for dim in range(hidden_size):
            i = dim // 2  # dims 2i and 2i+1 share the frequency 1 / 10000^(2i/d)
            angle = pos / 10000 ** (2 * i / hidden_size)
            expected = math.sin(angle) if dim % 2 == 0 else math.cos(angle)
            assert table[pos, dim].item() == pytest.approx(expected, abs=1e-6), (pos, dim)


def test_sinusoidal_is_a_buffer_not_a_parameter():
    encoding = SinusoidalPositionalEncoding(16, 8)
    assert list(encoding.parameters()) == []
    assert "table" not in encoding.state_dict()  # derived from the config, never saved


@pytest.mark.parametrize("cls", [SinusoidalPositionalEncoding, LearnedPositionalEmbedding])
def test_shape_and_length_limit(cls):
    positional = cls(max_length=10, hidden_size=8)
    assert positional(torch.Size([3, 10])).shape == (1, 10, 8)
    with pytest.raises(ValueError, match="11 tokens is longer than the 10 positions"):
        positional(torch.Size([3, 11]))
