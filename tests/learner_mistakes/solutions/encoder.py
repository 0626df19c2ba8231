"""A learner's solution of exercises/encoder.py, with its own encoder_layer.py beside it."""

import torch
from encoder_layer import EncoderLayer
from torch import nn

from minitransformer.model.attention import additive_padding_mask
from minitransformer.model.config import EncoderConfig
from minitransformer.model.encoder import Embeddings


class Encoder(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList([EncoderLayer(config) for _ in range(config.num_layers)])
        if config.norm_placement == "pre":
            self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embeddings(input_ids)  # (B, T, d)
        additive_mask = None
        if attention_mask is not None:
            additive_mask = additive_padding_mask(attention_mask, x.dtype)  # (B, 1, 1, T)
        for layer in self.layers:
            x = layer(x, additive_mask)
        if self.config.norm_placement == "pre":
            x = self.final_norm(x)
        return x
