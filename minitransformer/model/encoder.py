"""The transformer encoder: embeddings, then N identical layers of attention and feed-forward.

    ids (B, T) -> Embeddings -> N x EncoderLayer -> [final LayerNorm if pre-norm] -> (B, T, d)

With `norm_placement="post"`, learned positions, two segments, erf GELU and eps 1e-12 this is
exactly BERT's encoder (Devlin et al. 2019), so BERT checkpoints load into it (bert_format.py).

In each layer, attention lets the tokens exchange information and the feed-forward block then
works on each token alone; each of the two is wrapped in a residual connection and a LayerNorm.
FeedForward and EncoderLayer say why each part is there, and what changed in a toy experiment
(described above FeedForward) when it was taken out.

Read Embeddings, FeedForward, EncoderLayer and Encoder.forward; below `forward` is bookkeeping
that the rest of the package needs (depth, the fused-attention switch, `trace`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

# nn.Dropout with a random mask that is cheaper to draw on a CPU (fast/dropout.py says why)
from ..fast.dropout import Dropout
from .attention import MultiHeadAttention, additive_padding_mask
from .config import EncoderConfig
from .positional import make_positional

ACTIVATION_FUNCTIONS = {
    "gelu": F.gelu,  # exact: x * Phi(x), with the normal CDF through erf (BERT)
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),  # GPT-2's tanh approximation
    "relu": F.relu,  # the original transformer's
}


class Embeddings(nn.Module):
    """token + position (+ segment) embeddings -> LayerNorm -> dropout.

    With sinusoidal positions the token embeddings are multiplied by sqrt(d), as in the paper
    (Vaswani et al. 2017, 3.4), and initialised with std 1/sqrt(d): the sum then has tokens and
    positions at the same scale (both ~1 per dimension). With BERT's std-0.02 init and no scale,
    the fixed unit-size sinusoids would drown the tokens, and mean pooling would see mostly
    positions. Learned positions (BERT) start small like the tokens, so no scale is used there.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        sinusoidal = config.positional == "sinusoidal"
        self.scale = math.sqrt(config.hidden_size) if sinusoidal else 1.0
        self.token = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position = make_positional(config.positional, config.max_length, config.hidden_size)
        self.segment = (nn.Embedding(config.segment_vocab_size, config.hidden_size)
                        if config.segment_vocab_size > 0 else None)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.dropout)
        nn.init.normal_(self.token.weight, std=1 / self.scale if sinusoidal else 0.02)
        if self.segment is not None:
            nn.init.normal_(self.segment.weight, std=0.02)

    def forward(self, input_ids: torch.Tensor, segment_ids: torch.Tensor | None = None):
        """input_ids, segment_ids: (B, T) long. Returns (B, T, d)."""
        x = self.token(input_ids) * self.scale + self.position(input_ids.shape)  # (B, T, d)
        if self.segment is not None:
            # BERT adds segment 0 to every token of a single sentence; so do we.
            if segment_ids is None:
                x = x + self.segment.weight[0]
            else:
                x = x + self.segment(segment_ids)
        return self.dropout(self.norm(x))


# The toy experiment behind the numbers in the next two docstrings. Task: 8 random digits
# (token id = digit + 1); at each position, predict (its digit + the first digit) mod 10, which
# needs attention (to fetch the first digit) and a nonlinear function of two digits. Chance is
# 10 %. Model: Encoder(EncoderConfig.preset("tiny", num_layers=L)) (d 32, 4 heads, ff 64,
# post-norm, no dropout, no mask) and nn.Linear(32, 10) on every token state, both built after
# torch.manual_seed(0). Training: cross-entropy at all 8 positions, Adam with lr 1e-3, 300 steps
# of 64 sequences drawn with torch.Generator().manual_seed(1). Scored on 1,024 sequences drawn
# with manual_seed(2): the loss, and the accuracy at positions 1-7. A part was taken out by
# swapping EncoderLayer.forward for the same post-norm lines without `x +`, without the two
# LayerNorms, or without the feed-forward line. One CPU thread, torch 2.13.
class FeedForward(nn.Module):
    """Position-wise feed-forward: the same two-layer MLP applied to every token, d -> ff -> d.

    Why it is there. Attention moves information between tokens, but what it delivers is a
    weighted average of value vectors: for given weights, a linear function of the tokens'
    states. The feed-forward block is the layer's computation on each token: it widens the
    vector to ff numbers (4d in the paper), applies a nonlinearity and narrows it back. So it
    can compute functions of what attention gathered (here, a sum mod 10) that no average can.
    It also holds two thirds of a layer's weights (2 d ff, against 4 d^2 for attention, at ff = 4d).
    In the toy experiment above (L = 2) the loss after 300 steps was 0.090 with the block
    (99.8 % right) and 0.415 without it (91.7 %). Without it the model still learns some of
    the task: the softmax and the LayerNorms are not linear either.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.inner = nn.Linear(config.hidden_size, config.ff_size)
        self.outer = nn.Linear(config.ff_size, config.hidden_size)
        self.activation = ACTIVATION_FUNCTIONS[config.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, d)"""
        return self.outer(self.activation(self.inner(x)))


class EncoderLayer(nn.Module):
    """One layer: self-attention, then feed-forward, each with a residual connection and a
    LayerNorm.

    post-norm (the original transformer and BERT):  x = LN(x + sublayer(x))
    pre-norm  (Xiong et al. 2020, more stable when training from scratch):
                                                   x = x + sublayer(LN(x))

    Why the residual connection, the `x +` (He et al. 2016). The sublayer computes a change to
    x, and x itself goes through untouched. Without it, attention would *replace* each token's
    vector by a weighted average over the sentence. At the start of training the scores are
    all near 0, so the weights are near uniform, and that average is the same for every token.
    In the toy experiment above (L = 6, before training, on the 1,024 scoring sequences) no
    attention weight was above 0.131 (uniform is 1/8 = 0.125). Without `x +`, the 8 vectors of
    a sentence pointed the same way after layer 1 (mean cosine 1.000 between positions, against
    0.23 with it): the model had lost which digit was where. After 300 steps it was right 9.8 %
    of the time (chance), against 100 % with the residual.

    Why LayerNorm (Ba et al. 2016). It moves each token's d numbers to mean 0 and variance 1,
    then applies a learned scale and shift. Every residual connection adds to x, so without a
    norm the vectors can grow from layer to layer and from step to step, and each layer sees
    inputs of a size its weights were not set for. In the toy experiment above (L = 6) the
    model without the two norms still learned the task (99.9 % right after 300 steps), but the
    mean length (L2 norm) of a token's vector on the scoring sequences, after layers 1 to 6, had
    become 6.6, 8.3, 11.9, 15.6, 24.4 and 52.2; with LayerNorm it was 5.7 or 5.8 after layers 1
    to 5, and 6.9 after layer 6.
    """

    def __init__(self, config: EncoderConfig, fused_attention: bool = False):
        super().__init__()
        self.attention = MultiHeadAttention(config.hidden_size, config.num_heads,
                                            config.attention_dropout, fused=fused_attention)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.dropout)
        self.pre_norm = config.norm_placement == "pre"

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None,
                return_weights: bool = False):
        """x: (B, T, d); additive_mask: (B, 1, 1, T) or None. Returns (B, T, d), and the
        attention weights (B, h, T, T) if return_weights (the hand-written attention path)."""
        attended = self.attention(self.attention_norm(x) if self.pre_norm else x, additive_mask,
                                  return_weights=return_weights)
        attended, weights = attended if return_weights else (attended, None)
        if self.pre_norm:
            x = x + self.dropout(attended)
            x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        else:
            x = self.attention_norm(x + self.dropout(attended))
            x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))
        return (x, weights) if return_weights else x


class Encoder(nn.Module):
    """Embeddings and a stack of `config.num_layers` encoder layers, each with its own weights.

    fused_attention: every layer takes attention's fast path, the same function computed
    faster (attention.py); `set_fused_attention`, below, switches it later.
    """

    def __init__(self, config: EncoderConfig, fused_attention: bool = False):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(EncoderLayer(config, fused_attention)
                                    for _ in range(config.num_layers))
        # Pre-norm leaves the residual stream un-normalised after the last layer; normalise it once.
        self.final_norm = (nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
                           if config.norm_placement == "pre" else None)
        for layer in self.layers:
            for module in layer.modules():
                if isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, std=0.02)  # BERT's initializer
                    nn.init.zeros_(module.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                segment_ids: torch.Tensor | None = None) -> torch.Tensor:
        """
        input_ids: (B, T) token ids; attention_mask: (B, T), 1 = token, 0 = padding (None: no
        padding); segment_ids: (B, T) or None. Returns the token states (B, T, d).
        """
        x = self.embeddings(input_ids, segment_ids)  # (B, T, d)
        # Built once here, shared by every layer.
        additive_mask = (None if attention_mask is None
                         else additive_padding_mask(attention_mask, x.dtype))  # (B, 1, 1, T)
        for layer in self.layers:
            x = layer(x, additive_mask)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return x

    # ---- bookkeeping for the rest of the package (not needed to follow the model) ----
    # Depth, for layer-wise learning rates and freezing; the fused-attention switch; and
    # `trace`, the forward pass that keeps every layer's output for inspect.py.
    def blocks_by_depth(self) -> list[list[nn.Module]]:
        """The encoder's modules by depth, the one definition of depth in the project:
        [[embeddings], [layer 1], ..., [layer N]], a pre-norm model's final LayerNorm at depth N
        (it normalises the last layer's output). Layer-wise learning rates (training/optimizer.py)
        and freezing (training/freezing.py) both count depth from here."""
        blocks = [[self.embeddings]] + [[layer] for layer in self.layers]
        if self.final_norm is not None:
            blocks[-1].append(self.final_norm)
        return blocks

    def parameter_depths(self) -> dict[str, int]:
        """{parameter name within the encoder: its depth} (see blocks_by_depth)."""
        depths = {}
        for depth, block in enumerate(self.blocks_by_depth()):
            for module in block:
                depths.update({id(parameter): depth for parameter in module.parameters()})
        return {name: depths[id(parameter)] for name, parameter in self.named_parameters()}

    def set_fused_attention(self, fused: bool) -> None:
        """Switch every layer between the hand-written and the fused attention path."""
        for layer in self.layers:
            layer.attention.fused = fused

    def trace(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> "EncoderTrace":
        """`forward`, keeping what happens on the way (for inspect.py): the embeddings, every
        layer's attention weights (B, h, T, T) and output (B, T, d), and the final states."""
        x = self.embeddings(input_ids)  # (B, T, d)
        trace = EncoderTrace(embeddings=x)
        additive_mask = additive_padding_mask(attention_mask, x.dtype)  # (B, 1, 1, T)
        for layer in self.layers:
            x, weights = layer(x, additive_mask, return_weights=True)
            trace.attention.append(weights)
            trace.layer_outputs.append(x)
        trace.states = x if self.final_norm is None else self.final_norm(x)
        return trace


@dataclass
class EncoderTrace:
    embeddings: torch.Tensor  # (B, T, d), after the embedding LayerNorm
    attention: list[torch.Tensor] = field(default_factory=list)  # per layer (B, h, T, T)
    layer_outputs: list[torch.Tensor] = field(default_factory=list)  # per layer (B, T, d)
    states: torch.Tensor | None = None  # (B, T, d): what forward returns

    def to(self, device) -> "EncoderTrace":
        """The same trace with every tensor on `device` (e.g. the CPU, to print or draw it)."""
        return EncoderTrace(self.embeddings.to(device), [w.to(device) for w in self.attention],
                            [x.to(device) for x in self.layer_outputs], self.states.to(device))
