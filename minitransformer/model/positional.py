"""Position information: the attention of a transformer is blind to word order without it.

Two kinds, chosen by `EncoderConfig.positional`:
- sinusoidal (Vaswani et al. 2017, section 3.5): a fixed table, nothing to learn;
- learned (BERT): one trainable vector per position.
Both return a (1, T, d) tensor that is added to the token embeddings of a (B, T) batch.
"""

from __future__ import annotations

import torch
from torch import nn


def _check_length(length: int, max_length: int) -> None:
    if length > max_length:
        raise ValueError(
            f"sequence of {length} tokens is longer than the {max_length} positions this model "
            f"knows (EncoderConfig.max_length); truncate the input (the tokenizer's max_length "
            f"does)"
        )


def sinusoidal_table(max_length: int, hidden_size: int) -> torch.Tensor:
    """The (max_length, hidden_size) table of the paper:

        PE[pos, 2i]   = sin(pos / 10000^(2i / d))
        PE[pos, 2i+1] = cos(pos / 10000^(2i / d))

    Each pair of dimensions is a rotation at its own frequency, so PE[pos + k] is a linear
    function of PE[pos]: relative offsets are easy for attention to pick up.
    """
    positions = torch.arange(max_length, dtype=torch.float64).unsqueeze(1)  # (L, 1)
    even_dims = torch.arange(0, hidden_size, 2, dtype=torch.float64)  # (ceil(d/2),) = 2i
    angles = positions / torch.pow(10000.0, even_dims / hidden_size)  # (L, ceil(d/2))
    table = torch.zeros(max_length, hidden_size, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : hidden_size // 2])  # an odd d has one cos fewer
    return table.float()


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoidal positions; the table is computed once and kept as a buffer."""

    def __init__(self, max_length: int, hidden_size: int):
        super().__init__()
        self.max_length = max_length
        # Not persistent: it is derived from the config, so it stays out of saved weights.
        if torch.get_default_device().type == "meta":
            # A shapes-only skeleton (storage/skeleton.py) never reads the values, and computing
            # them on the meta device would take longer than loading the whole model.
            table = torch.empty(max_length, hidden_size)
        else:
            table = sinusoidal_table(max_length, hidden_size)
        self.register_buffer("table", table, persistent=False)

    def forward(self, input_shape: torch.Size) -> torch.Tensor:
        """input_shape: (B, T) of the token ids. Returns (1, T, d)."""
        length = input_shape[1]
        _check_length(length, self.max_length)
        return self.table[:length].unsqueeze(0)


class LearnedPositionalEmbedding(nn.Module):
    """One trainable d-dimensional vector per position, as in BERT."""

    def __init__(self, max_length: int, hidden_size: int):
        super().__init__()
        self.max_length = max_length
        self.weight = nn.Parameter(torch.empty(max_length, hidden_size))
        nn.init.normal_(self.weight, std=0.02)  # BERT's initializer_range

    def forward(self, input_shape: torch.Size) -> torch.Tensor:
        """input_shape: (B, T) of the token ids. Returns (1, T, d)."""
        length = input_shape[1]
        _check_length(length, self.max_length)
        return self.weight[:length].unsqueeze(0)


def make_positional(kind: str, max_length: int, hidden_size: int) -> nn.Module:
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(max_length, hidden_size)
    if kind == "learned":
        return LearnedPositionalEmbedding(max_length, hidden_size)
    raise ValueError(f"unknown positional kind {kind!r}; use 'sinusoidal' or 'learned'")

