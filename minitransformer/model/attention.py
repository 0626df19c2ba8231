"""Multi-head self-attention, written out step by step (Vaswani et al. 2017, section 3.2).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + mask) V

Each of the h heads attends in its own d_k = d / h dimensional subspace; their outputs are
concatenated and mixed by one more linear map. There is nothing scary in it: four linear
layers, a reshape, a matrix product, a softmax and another matrix product.

Mask convention everywhere in this package: attention_mask is (B, T) with 1 for a real token
and 0 for padding. It becomes an *additive* mask (0 for tokens, a very negative number for
padding) that is added to the scores before the softmax, so padded keys get ~zero weight.

The class reads top to bottom as the lesson: the reference (`attend_step_by_step`, five
numbered steps), then `forward`, which picks a path, then the fast path (`attend_fused`), which
computes the same function for speed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..fast.dropout import scaled_dot_product_attention


def additive_padding_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T) of 1/0 -> (B, 1, 1, T) of 0 / most-negative-float, broadcast over heads and queries.

    We use the most negative finite number rather than -inf: a row whose keys are all padding
    then gets a uniform softmax instead of 0/0 = NaN. (Same choice as HF's BERT.)
    """
    mask = attention_mask[:, None, None, :].to(dtype)  # (B, 1, 1, T)
    return (1.0 - mask) * torch.finfo(dtype).min


class MultiHeadAttention(nn.Module):
    """Self-attention over a batch of sequences.

    `attend_step_by_step` is the reference: the formula above, one operation at a time, and the
    only path that can return the attention weights. Further down, `attend_fused` computes the
    same function in fewer, larger operations, for speed; `forward` chooses between them.
    Tests check that both give the same output, with padding.
    """

    def __init__(self, hidden_size: int, num_heads: int, attention_dropout: float = 0.0,
                 fused: bool = False):
        """fused: take the fast path (`attend_fused`) whenever no weights are asked for."""
        super().__init__()
        if hidden_size % num_heads != 0:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, hidden_size)
        self.attention_dropout = attention_dropout
        self.fused = fused
        # Only int8 copies (quantize.py) set this: Q, K and V as one quantised (d -> 3d) layer,
        # because a quantised layer's weight cannot be concatenated on the fly. Such a copy has
        # no query, key and value layers left, so it always takes the fast path.
        self.stacked_qkv: nn.Module | None = None

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, h, T, d_k)"""
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, h, T, d_k) -> (B, T, d)"""
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_size)

    # ---- the reference: attention written out step by step ------------------------------------
    def attend_step_by_step(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        """hidden: (B, T, d); additive_mask: (B, 1, 1, T) or None.
        Returns the output (B, T, d) and the attention weights (B, h, T, T)."""
        # 1. Project every token to a query, a key and a value, and split them into heads.
        q = self.split_heads(self.query(hidden))  # (B, h, T, d_k)
        k = self.split_heads(self.key(hidden))  # (B, h, T, d_k)
        v = self.split_heads(self.value(hidden))  # (B, h, T, d_k)

        # 2. Scaled dot products: how much each query matches each key. Dividing by sqrt(d_k)
        #    keeps the scores' variance near 1, so the softmax does not saturate.
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_size)  # (B, h, T, T)
        # 3. Padded keys get a huge negative score, hence ~zero weight after the softmax.
        if additive_mask is not None:
            scores = scores + additive_mask
        weights = scores.softmax(dim=-1)  # (B, h, T, T), each row sums to 1
        # 4. Dropout on the weights (BERT does this), then the weighted sum of the values.
        dropout = self.attention_dropout if self.training else 0.0
        context = F.dropout(weights, p=dropout) @ v  # (B, h, T, d_k)
        # 5. Concatenate the heads and mix them with the output projection.
        output = self.output(self.merge_heads(context))  # (B, T, d)
        return output, weights

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None = None,
                return_weights: bool = False):
        """
        hidden: (B, T, d) token states.
        additive_mask: (B, 1, 1, T) from `additive_padding_mask`, or None for no padding.
        Returns (B, T, d), and the attention weights (B, h, T, T) if return_weights.
        """
        if not return_weights and (self.fused or self.stacked_qkv is not None):
            return self.attend_fused(hidden, additive_mask)
        if self.stacked_qkv is not None:
            raise ValueError("an int8 copy (quantize.py) has no separate Q, K and V layers to "
                             "show attention weights with; ask the float32 model")
        output, weights = self.attend_step_by_step(hidden, additive_mask)
        return (output, weights) if return_weights else output

    # ---- the fast path: the same function in fewer, larger operations -------------------------
    # Why it exists: three (d -> d) projections become one (d -> 3d) matrix product, and the
    # scores, mask, softmax and weighted sum become one call of PyTorch's kernel, which can
    # avoid holding all the (B, h, T, T) scores in memory (PyTorch picks the algorithm). It
    # cannot return the weights, so the reference above stays the path that explains.
    def project_qkv(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., d) -> (..., 3d): queries, keys and values in one matrix product with the three
        weight matrices stacked; one large product keeps the cores busier than three small ones.
        packed.py calls it too, on (N, d) packed tokens."""
        if self.stacked_qkv is not None:
            return self.stacked_qkv(hidden)
        weight = torch.cat([self.query.weight, self.key.weight, self.value.weight])  # (3d, d)
        bias = torch.cat([self.query.bias, self.key.bias, self.value.bias])  # (3d,)
        return F.linear(hidden, weight, bias)

    def attend_fused(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None
                     ) -> torch.Tensor:
        """Steps 1-5 of `attend_step_by_step` with F.scaled_dot_product_attention doing 2-4.
        hidden: (B, T, d); additive_mask: (B, 1, 1, T) or None. Returns (B, T, d)."""
        batch, length, _ = hidden.shape
        qkv = self.project_qkv(hidden).view(batch, length, 3, self.num_heads, self.head_size)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # three (B, h, T, d_k)
        dropout = self.attention_dropout if self.training else 0.0
        # PyTorch's kernel, or in training on the CPU the same steps with a cheaper dropout mask
        context = scaled_dot_product_attention(q, k, v, additive_mask, dropout)  # (B, h, T, d_k)
        return self.output(self.merge_heads(context))  # (B, T, d)
