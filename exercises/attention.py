"""Exercise 2: multi-head self-attention (Vaswani et al. 2017, section 3.2).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + mask) V

Each of the h heads attends in its own d_k = d / h dimensional subspace; the heads' outputs
are concatenated and mixed by one more linear layer.

Work in your copy (cp -r exercises mywork, once), and check it there:
    python -m minitransformer.check attention mywork/attention.py:MultiHeadAttention

The last check runs all-MiniLM-L6-v2 with your attention in all six layers.
"""

import torch
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, attention_dropout: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads  # d_k
        self.attention_dropout = attention_dropout
        # The checks (and the pretrained weights) expect four nn.Linear(d, d), with biases,
        # named query, key, value and output.
        raise NotImplementedError("MultiHeadAttention.__init__: create query, key, value, output")

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None = None,
                return_weights: bool = False):
        """
        hidden: (B, T, d) token states.
        additive_mask: (B, 1, 1, T): 0 for real tokens, a huge negative number for padding
            (minitransformer.model.attention.additive_padding_mask makes it), or None.
        Returns the output (B, T, d), and also the attention weights (B, h, T, T) if
        return_weights.

        Steps: project to q, k, v and split each into heads (B, h, T, d_k); scores (B, h, T, T);
        scale; mask; softmax over the keys; dropout on the weights (only in training:
        F.dropout(weights, p, training=self.training)); weights @ v; merge the heads back to
        (B, T, d); the output projection.
        """
        raise NotImplementedError("MultiHeadAttention.forward")
