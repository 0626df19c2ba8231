"""A learner's solution of exercises/positional.py, written apart from the package's."""

import torch
from torch import nn


def sinusoidal_table(max_length: int, hidden_size: int) -> torch.Tensor:
    positions = torch.arange(max_length, dtype=torch.float64)[:, None]  # (L, 1)
    two_i = torch.arange(0, hidden_size, 2, dtype=torch.float64)  # (d/2,)
    angles = positions / 10000 ** (two_i / hidden_size)  # (L, d/2)
    table = torch.zeros(max_length, hidden_size, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table.float()


class SinusoidalPositionalEncoding(nn.Module):
    def __init__(self, max_length: int, hidden_size: int):
        super().__init__()
        self.register_buffer("table", sinusoidal_table(max_length, hidden_size))

    def forward(self, input_shape: torch.Size) -> torch.Tensor:
        length = input_shape[1]
        return self.table[:length].unsqueeze(0)
