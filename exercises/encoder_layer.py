"""Exercise 4: one encoder layer, post-norm (BERT) and pre-norm.

    post-norm:  x = LN(x + Dropout(Attention(x)));     x = LN(x + Dropout(FeedForward(x)))
    pre-norm:   x = x + Dropout(Attention(LN(x)));     x = x + Dropout(FeedForward(LN(x)))

FeedForward(x) = outer(activation(inner(x))), with inner: d -> ff_size, outer: ff_size -> d.
Use your attention from exercise 2 or ours (minitransformer.model.attention.MultiHeadAttention).

Work in your copy (cp -r exercises mywork, once), and check it there:
    python -m minitransformer.check encoder_layer mywork/encoder_layer.py:EncoderLayer
"""

import torch
from torch import nn

from minitransformer.model.config import EncoderConfig


class EncoderLayer(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        # Name the parts as BERT's weights are loaded into them (the checks copy weights in):
        #   attention (with query, key, value, output), attention_norm,
        #   feed_forward (a module with linear layers inner and outer), feed_forward_norm,
        # and one dropout. Read from config: hidden_size, num_heads, ff_size, dropout,
        # attention_dropout, layer_norm_eps, activation, norm_placement ("post" or "pre").
        raise NotImplementedError("EncoderLayer.__init__")

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, d); additive_mask: (B, 1, 1, T) or None. Returns (B, T, d)."""
        raise NotImplementedError("EncoderLayer.forward")
