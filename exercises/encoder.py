"""Exercise 5: the encoder, a stack of layers on top of the embeddings.

    ids (B, T) -> Embeddings -> layer 1 -> ... -> layer N -> [final LayerNorm, pre-norm only]

A pre-norm layer adds to the residual stream without normalising it, so a pre-norm stack
needs one LayerNorm after its last layer; a post-norm stack already ends with one.

Work in your copy (cp -r exercises mywork, once), and check it there:
    python -m minitransformer.check encoder mywork/encoder.py:Encoder
"""

import torch
from torch import nn

from minitransformer.model.config import EncoderConfig


class Encoder(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        # Name the parts: embeddings (Embeddings(config)), layers (an nn.ModuleList, not a list, of
        # config.num_layers EncoderLayer), and final_norm (an nn.LayerNorm) only for pre-norm.
        raise NotImplementedError("Encoder.__init__")

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids: (B, T); attention_mask: (B, T), 1 = token, 0 = padding, or None.
        Returns the token states (B, T, d). Build the additive mask once, for every layer."""
        raise NotImplementedError("Encoder.forward")
