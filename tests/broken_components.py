"""Deliberately broken components, written as a learner might, each with one typical mistake.
tests/test_checks.py asserts that the checker names each mistake (and passes the unbroken one).
They are written independently of the package's modules on purpose, except where the mistake
is in how our own parts are put together (an encoder layer, the stack)."""

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from minitransformer.model.encoder import Encoder, EncoderLayer


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
        key_layer = self.query if self.mistake == "keys from the query layer" else self.key
        value_layer = self.key if self.mistake == "values from the key layer" else self.value
        q, k, v = split(self.query(hidden)), split(key_layer(hidden)), split(value_layer(hidden))
        scores = q @ k.transpose(-2, -1)
        if self.mistake != "no scaling":
            scores = scores / math.sqrt(self.head_size)
        if self.mistake == "keys attend to queries":
            scores = scores.transpose(-2, -1)
        if additive_mask is not None and self.mistake == "mask on the query axis":
            additive_mask = additive_mask.transpose(-2, -1)  # (B, 1, T, 1)
        masked = additive_mask is not None and self.mistake not in ("mask ignored",
                                                                    "mask after softmax")
        if masked and self.mistake == "mask inverted":  # reads the additive mask as 1 = token
            scores = scores.masked_fill(additive_mask == 0, float("-inf"))
        elif masked:
            scores = scores + additive_mask
        weights = scores.softmax(dim=-1)
        if self.mistake == "mask after softmax" and additive_mask is not None:
            weights = weights + additive_mask
        if self.mistake == "dropout in eval too":  # F.dropout's training defaults to True
            weights = F.dropout(weights, self.attention_dropout)
        elif self.mistake != "no dropout":
            weights = F.dropout(weights, self.attention_dropout, training=self.training)
        context = (weights @ v).transpose(1, 2).reshape(batch, length, width)
        output = context if self.mistake == "no output projection" else self.output(context)
        return (output, weights) if return_weights else output


def broken_attention(mistake):
    return type(f"Attention_{mistake.replace(' ', '_')}", (Attention,), {"mistake": mistake})


def positional_table(mistake=None):
    """sinusoidal_table(max_length, d) with one mistake."""
    def table(max_length, d):
        dtype = torch.float32 if mistake == "computed in float32" else torch.float64
        position = torch.arange(max_length, dtype=dtype)[:, None]
        pairs = torch.arange(0, d, 2, dtype=dtype)
        if mistake == "exponent i / d":
            pairs = pairs / 2
        angles = position / 10000 ** (pairs / d)  # (L, d/2)
        out = torch.zeros(max_length, d, dtype=dtype)
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


class PositionalEncoding(nn.Module):
    """The table in a module, unbroken while `mistake` is None (a persistent buffer, unlike
    ours)."""

    mistake = None

    def __init__(self, max_length, hidden_size):
        super().__init__()
        table = positional_table()(max_length, hidden_size)
        if self.mistake == "plain attribute":
            self.table = table
        elif self.mistake == "parameter":
            self.table = nn.Parameter(table)
        else:
            self.register_buffer("table", table)

    def forward(self, input_shape):
        return self.table[: input_shape[1]].unsqueeze(0)


def broken_positional(mistake):
    return type(f"Positional_{mistake.replace(' ', '_')}", (PositionalEncoding,),
                {"mistake": mistake})


def mean_pooling(mistake=None):
    def pool(states, attention_mask):
        if mistake == "mean over padding":
            return states.mean(dim=1)
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        count = mask.sum(dim=1)
        if mistake == "count of shape (B,)":
            count = attention_mask.to(states.dtype).sum(dim=1)
        if mistake != "no clamp":
            count = count.clamp(min=1e-9)
        if mistake == "changes its input":
            return states.mul_(mask).sum(dim=1) / count
        return (states * mask).sum(dim=1) / count
    return pool


def layer_with_flipped_norm(config):
    """Our layer, built with the other norm placement than the config asks for."""
    flipped = "pre" if config.norm_placement == "post" else "post"
    return EncoderLayer(dataclasses.replace(config, norm_placement=flipped))


def layer_with_relu(config):
    """Our layer with the activation fixed to relu, whatever the config says."""
    return EncoderLayer(dataclasses.replace(config, activation="relu"))


class LayerWithDefaultEps(EncoderLayer):
    """LayerNorms built without eps=config.layer_norm_eps."""

    def __init__(self, config):
        super().__init__(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size)


class LayerWithAttentionDropoutFromDropout(EncoderLayer):
    """The attention built with config.dropout where config.attention_dropout belongs."""

    def __init__(self, config):
        super().__init__(dataclasses.replace(config, attention_dropout=config.dropout))
        self.dropout = nn.Dropout(config.dropout)


class LayerWithDropoutOnTheSum(EncoderLayer):
    """The attention sub-layer's dropout on the residual sum: LN(dropout(x + attention(x)))."""

    def forward(self, x, additive_mask=None):
        if self.pre_norm:
            x = self.dropout(x + self.attention(self.attention_norm(x), additive_mask))
            return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        x = self.attention_norm(self.dropout(x + self.attention(x, additive_mask)))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))


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


class EncoderWithListOfLayers(Encoder):
    """The layers in a plain Python list, which PyTorch does not look into."""

    def __init__(self, config):
        super().__init__(config)
        layers = list(self.layers)
        del self.layers
        self.layers = layers


class EncoderIgnoringMask(Encoder):
    """Never passes the attention mask on."""

    def forward(self, input_ids, attention_mask=None):
        return super().forward(input_ids, None)


def cosent_loss(mistake=None):
    def loss(cosines, scores, scale=20.0):
        differences = scale * (cosines[None, :] - cosines[:, None])  # [i, j] = s (cos_j - cos_i)
        if mistake == "sign flipped":
            differences = -differences
        ordered = scores[:, None] > scores[None, :]
        if mistake == "ties counted":
            ordered = ((scores[:, None] >= scores[None, :])
                       & ~torch.eye(len(scores), dtype=torch.bool))
        if mistake == "detached":
            differences = differences.detach()
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
            if mistake == "off by one":
                exponent += 1
            rate = lr if depth is None else lr * layer_decay ** exponent
            decays = parameter.dim() >= 2 or mistake == "decay everything"
            result.append({"params": [parameter], "lr": rate,
                           "weight_decay": weight_decay if decays else 0.0})
        return result
    return groups
