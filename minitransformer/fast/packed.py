"""The encoder's padding-free path: the same weights and the same function, without padding.

Encoder.forward (encoder.py) is the reference: every sentence of a batch is padded to the
longest, and every linear layer also multiplies the padding. For a batch of sentences of
different lengths that is wasted work, and on short sentences the linear layers (the Q, K, V
and output projections and the feed-forward) do most of the work: their cost grows with the
length T, the attention products' with T^2 (benchmarks/README.md gives the FLOP count).

Here the real tokens of the batch are *packed* into one (N, d) matrix, N = number of real tokens:

    (B, T) ids --embeddings--> (B, T, d) --keep real tokens--> (N, d)
    each layer:  (N, d) --one fused Q|K|V matmul--> (N, 3d) --scatter--> (B, T, 3d)
                 --attention (the one step that needs whole sequences)--> (B, T, d)
                 --gather real tokens--> (N, d) --output projection, residual, LayerNorm,
                 feed-forward, residual, LayerNorm, all on (N, d)-->
    (N, d) --scatter--> (B, T, d), zeros at padding

Token states at real positions equal Encoder.forward's (a test checks it); padding positions
hold zeros instead of the reference's meaningless values, which pooling ignores anyway. It
trains too (train.py --batching packed, the default): autograd flows through the gathers and
scatters, and in training mode dropout acts where Encoder.forward's does, on the real tokens'
values.
"""

from __future__ import annotations

import torch

from ..model.attention import MultiHeadAttention, additive_padding_mask
from ..model.encoder import Encoder, EncoderLayer
from .dropout import scaled_dot_product_attention


def packed_forward(encoder: Encoder, input_ids: torch.Tensor,
                   attention_mask: torch.Tensor) -> torch.Tensor:
    """Same as encoder(input_ids, attention_mask) at real tokens. (B, T) -> (B, T, d)."""
    batch, length = input_ids.shape
    real = attention_mask.flatten().nonzero().squeeze(1)  # (N,) positions in the flat (B*T)
    x = encoder.embeddings(input_ids).flatten(0, 1)[real]  # (N, d)
    # Sequences without padding need no mask at all; SDPA is faster without one.
    additive_mask = (None if bool(attention_mask.all())
                     else additive_padding_mask(attention_mask, x.dtype))  # (B, 1, 1, T)
    for layer in encoder.layers:
        x = packed_layer(layer, x, real, batch, length, additive_mask)
    if encoder.final_norm is not None:
        x = encoder.final_norm(x)
    states = x.new_zeros(batch * length, x.shape[-1])
    states[real] = x
    return states.view(batch, length, -1)


def packed_layer(layer: EncoderLayer, x: torch.Tensor, real: torch.Tensor, batch: int,
                 length: int, additive_mask: torch.Tensor | None) -> torch.Tensor:
    """One encoder layer on packed tokens x (N, d) -> (N, d), as EncoderLayer.forward; its
    dropout is the identity in eval mode."""
    def attend(h):
        return layer.dropout(packed_attention(layer.attention, h, real, batch, length,
                                              additive_mask))

    if layer.pre_norm:
        x = x + attend(layer.attention_norm(x))
        return x + layer.dropout(layer.feed_forward(layer.feed_forward_norm(x)))
    x = layer.attention_norm(x + attend(x))
    return layer.feed_forward_norm(x + layer.dropout(layer.feed_forward(x)))


def packed_attention(attention: MultiHeadAttention, x: torch.Tensor, real: torch.Tensor,
                     batch: int, length: int, additive_mask: torch.Tensor | None) -> torch.Tensor:
    """Multi-head self-attention of packed tokens x (N, d) -> (N, d)."""
    heads, head_size = attention.num_heads, attention.head_size
    hidden = heads * head_size
    qkv = attention.project_qkv(x)  # (N, 3d), one matrix product for Q, K and V
    padded = qkv.new_zeros(batch * length, 3 * hidden)
    padded[real] = qkv
    # (B, T, 3, h, d_k) -> three (B, h, T, d_k)
    q, k, v = padded.view(batch, length, 3, heads, head_size).permute(2, 0, 3, 1, 4)
    dropout = attention.attention_dropout if attention.training else 0.0
    context = scaled_dot_product_attention(q, k, v, additive_mask, dropout)  # (B, h, T, d_k)
    context = context.transpose(1, 2).reshape(batch * length, hidden)[real]  # (N, d)
    return attention.output(context)
