"""Deliberately broken components, written as a learner might, each with one typical mistake.
tests/test_checks.py asserts that the checker names each mistake (and passes the unbroken one).
They are written independently of the package's modules on purpose, except where the mistake
is in how our own parts are put together (an encoder layer, the stack)."""

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from minitransformer.encoder import Encoder, EncoderLayer


class Attention(nn.Module):
    """Multi-head self-attention, unbroken while `mistake` is None."""

    mistake = None

    def __init__(self, hidden_size, num_heads, attention_dropout=0.0):
        super().__init__()
        self.num_heads, self.head_size = num_heads, hidden_size // num_heads
        self.attention_dropout = attention_dropout
        self.query, self.key, self.value, self.output = (nn.Linear(hidden_size, hidden_size)
                                                         for _ in range(4))

    def forward(self, hidden, additive_mask=None, return_weights=False):
        batch, length, width = hidden.shape
        if self.mistake == "heads split by view":  # reshapes without moving the heads' axis
            split = lambda x: x.reshape(batch, self.num_heads, length, self.head_size)
        else:
            split = lambda x: x.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)
        q, k, v = split(self.query(hidden)), split(self.key(hidden)), split(self.value(hidden))
        scores = q @ k.transpose(-2, -1)
        if self.mistake != "no scaling":
            scores = scores / math.sqrt(self.head_size)
        if self.mistake == "keys attend to queries":
            scores = scores.transpose(-2, -1)
        masked = additive_mask is not None and self.mistake not in ("mask ignored", "mask after softmax")
        weights = (scores + additive_mask if masked else scores).softmax(dim=-1)
        if self.mistake == "mask after softmax" and additive_mask is not None:
            weights = weights + additive_mask
        if self.mistake != "no dropout":
            weights = F.dropout(weights, self.attention_dropout, training=self.training)
        context = (weights @ v).transpose(1, 2).reshape(batch, length, width)
        output = self.output(context)
        return (output, weights) if return_weights else output


def broken_attention(mistake):
    return type(f"Attention_{mistake.replace(' ', '_')}", (Attention,), {"mistake": mistake})


def positional_table(mistake=None):
    """sinusoidal_table(max_length, d) with one mistake."""
    def table(max_length, d):
        position = torch.arange(max_length, dtype=torch.float64)[:, None]
        pairs = torch.arange(0, d, 2, dtype=torch.float64)
        angles = position / 10000 ** (pairs / d)  # (L, d/2)
        out = torch.zeros(max_length, d, dtype=torch.float64)
        if mistake == "halves":
            out[:, : d // 2], out[:, d // 2:] = angles.sin(), angles.cos()
        elif mistake == "sin and cos swapped":
            out[:, 0::2], out[:, 1::2] = angles.cos(), angles.sin()
        elif mistake == "a frequency per dimension":
            every = position / 10000 ** (torch.arange(d, dtype=torch.float64) / d)
            out[:, 0::2], out[:, 1::2] = every[:, 0::2].sin(), every[:, 1::2].cos()
        else:
            out[:, 0::2], out[:, 1::2] = angles.sin(), angles.cos()
        return out.float()
    return table


def mean_pooling(mistake=None):
    def pool(states, attention_mask):
        if mistake == "mean over padding":
            return states.mean(dim=1)
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        count = mask.sum(dim=1)
        if mistake != "no clamp":
            count = count.clamp(min=1e-9)
        return (states * mask).sum(dim=1) / count
    return pool


def layer_with_flipped_norm(config):
    """Our layer, built with the other norm placement than the config asks for."""
    flipped = "pre" if config.norm_placement == "post" else "post"
    return EncoderLayer(dataclasses.replace(config, norm_placement=flipped))


class LayerWithoutAttentionResidual(EncoderLayer):
    def forward(self, x, additive_mask=None, return_weights=False):
        if self.pre_norm:
            x = self.dropout(self.attention(self.attention_norm(x), additive_mask))
            return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        x = self.attention_norm(self.dropout(self.attention(x, additive_mask)))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))


class EncoderWithoutFinalNorm(Encoder):
    """A pre-norm stack that forgot its final LayerNorm."""

    def __init__(self, config):
        super().__init__(config)
        self.final_norm = None


def cosent_loss(mistake=None):
    def loss(cosines, scores, scale=20.0):
        differences = scale * (cosines[None, :] - cosines[:, None])  # [i, j] = s (cos_j - cos_i)
        if mistake == "sign flipped":
            differences = -differences
        ordered = scores[:, None] > scores[None, :]
        if mistake == "naive":  # log(1 + sum exp): overflows for large terms
            return torch.log(1 + torch.exp(differences[ordered]).sum())
        terms = differences[ordered]
        if mistake == "no 1 +":
            return torch.logsumexp(terms, dim=0)
        return torch.logsumexp(torch.cat([torch.zeros(1), terms]), dim=0)
    return loss


def parameter_groups(mistake=None):
    def groups(model, lr, weight_decay=0.01, layer_decay=1.0):
        num_layers = model.encoder.config.num_layers
        result = []
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad and mistake != "frozen included":
                continue
            parts = name.split(".")
            if parts[0] != "encoder":
                depth = None
            elif parts[1] == "embeddings":
                depth = 0
            elif parts[1] == "layers":
                depth = int(parts[2]) + 1
            else:
                depth = num_layers
            exponent = depth if mistake == "reversed" else num_layers - (depth or 0)
            rate = lr if depth is None else lr * layer_decay ** exponent
            decays = parameter.dim() >= 2 or mistake == "decay everything"
            result.append({"params": [parameter], "lr": rate, "weight_decay": weight_decay if decays else 0.0})
        return result
    return groups
