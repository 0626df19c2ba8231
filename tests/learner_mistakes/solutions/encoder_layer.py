"""A learner's solution of exercises/encoder_layer.py, with the package's attention."""

import torch
import torch.nn.functional as F
from torch import nn

from minitransformer.model.attention import MultiHeadAttention
from minitransformer.model.config import EncoderConfig

ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu,
               "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


class FeedForward(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.inner = nn.Linear(config.hidden_size, config.ff_size)
        self.outer = nn.Linear(config.ff_size, config.hidden_size)
        self.activation = ACTIVATIONS[config.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outer(self.activation(self.inner(x)))


class EncoderLayer(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.attention = MultiHeadAttention(config.hidden_size, config.num_heads,
                                            config.attention_dropout)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)
        self.pre_norm = config.norm_placement == "pre"

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.attention_norm(x), additive_mask))
            x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        else:
            x = self.attention_norm(x + self.dropout(self.attention(x, additive_mask)))
            x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))
        return x
