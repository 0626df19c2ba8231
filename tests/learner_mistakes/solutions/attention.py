"""A learner's solution of exercises/attention.py, written apart from the package's."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, attention_dropout: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads  # d_k
        self.attention_dropout = attention_dropout
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, hidden_size)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None = None,
                return_weights: bool = False):
        batch, length, width = hidden.shape
        q = self.split(self.query(hidden))  # (B, h, T, d_k)
        k = self.split(self.key(hidden))
        v = self.split(self.value(hidden))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_size)  # (B, h, T, T)
        if additive_mask is not None:
            scores = scores + additive_mask
        weights = scores.softmax(dim=-1)
        dropped = F.dropout(weights, self.attention_dropout, training=self.training)
        context = dropped @ v  # (B, h, T, d_k)
        merged = context.transpose(1, 2).reshape(batch, length, width)
        output = self.output(merged)
        if return_weights:
            return output, weights
        return output
