"""Exercise 1: sinusoidal positional encoding (Vaswani et al. 2017, section 3.5).

Attention treats its input as a set: without position information, "dog bites man" and
"man bites dog" look the same. The paper adds to each token embedding a fixed vector that
depends only on the position:

    PE[pos, 2i]   = sin(pos / 10000^(2i / d))
    PE[pos, 2i+1] = cos(pos / 10000^(2i / d))

Work in your copy (cp -r exercises mywork, once), and check it there:
    python -m minitransformer.check positional mywork/positional.py:SinusoidalPositionalEncoding
"""

import torch
from torch import nn


def sinusoidal_table(max_length: int, hidden_size: int) -> torch.Tensor:
    """The (max_length, hidden_size) float32 table PE above; hidden_size d is even.

    Hints: build a column of positions (L, 1) and a row of the even dimensions 2i (d/2,);
    their quotient by 10000^(2i/d) broadcasts to the (L, d/2) angles. float32 angles near
    position 500 are off by ~3e-5, and the check allows 1e-6: compute in float64 and convert
    the finished table at the end (.float()), which rounds each entry only once.
    """
    raise NotImplementedError("sinusoidal_table: compute the (max_length, d) table")


class SinusoidalPositionalEncoding(nn.Module):
    """Holds the table and returns the positions for a batch of token ids."""

    def __init__(self, max_length: int, hidden_size: int):
        super().__init__()
        # The table is fixed, not learned: keep it as a buffer (register_buffer), so that the
        # optimizer never sees it and .to(device) moves it along with the model.
        raise NotImplementedError(
            "SinusoidalPositionalEncoding.__init__: keep the table as a buffer")

    def forward(self, input_shape: torch.Size) -> torch.Tensor:
        """input_shape: (B, T), the shape of a batch of token ids. Returns (1, T, d): the first T
        rows of the table, with a leading 1 that broadcasts over the batch."""
        raise NotImplementedError("SinusoidalPositionalEncoding.forward: return the first T rows")
