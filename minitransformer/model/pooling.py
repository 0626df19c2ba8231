"""Pooling: from token states (B, T, d) to one fixed-length sentence vector (B, d).

- mean: the average of the real tokens' states (Reimers & Gurevych 2019 found it better than
  CLS for sentence embeddings); padding is excluded, so a sentence gets the same vector
  whatever it is batched with.
- cls:  the state of the first token ([CLS]), as BERT's classification setup uses.
- max:  the element-wise maximum over the real tokens.
All take the mask convention of the package: (B, T), 1 = token, 0 = padding.
"""

from __future__ import annotations

import torch

from ..errors import InputError


def mean_pooling(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, d), (B, T) -> (B, d): sum of real-token states / number of real tokens."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
    summed = (states * mask).sum(dim=1)  # (B, d)
    # Clamp the count: a row with no real token gives 0 / 1e-9 = 0, not 0 / 0 = NaN.
    count = mask.sum(dim=1).clamp(min=1e-9)  # (B, 1)
    return summed / count


def cls_pooling(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, d), (B, T) -> (B, d): the first token's state (the mask is not needed)."""
    return states[:, 0]


def max_pooling(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, d), (B, T) -> (B, d): element-wise max over real tokens; 0 for an all-padding row."""
    is_padding = (attention_mask == 0).unsqueeze(-1)  # (B, T, 1)
    masked = states.masked_fill(is_padding, torch.finfo(states.dtype).min)
    pooled = masked.max(dim=1).values  # (B, d)
    has_tokens = (attention_mask != 0).any(dim=1, keepdim=True)  # (B, 1)
    return pooled.masked_fill(~has_tokens, 0.0)


POOLINGS = {"mean": mean_pooling, "cls": cls_pooling, "max": max_pooling}


def get_pooling(name: str):
    """The pooling function of that name: 'mean', 'cls' or 'max'."""
    if not isinstance(name, str) or name not in POOLINGS:
        raise InputError(f"unknown pooling {name!r}; choose one of {', '.join(POOLINGS)}")
    return POOLINGS[name]
