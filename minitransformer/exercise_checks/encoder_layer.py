"""Checks for one encoder layer, post-norm (BERT) and pre-norm, against
torch.nn.TransformerEncoderLayer, PyTorch's own implementation of the same layer:

    post-norm:  x = LN1(x + attention(x));   x = LN2(x + feed_forward(x))
    pre-norm:   x = x + attention(LN1(x));   x = x + feed_forward(LN2(x))

The learner writes a class like minitransformer.model.encoder.EncoderLayer: EncoderLayer(config)
with its parameters named like ours (attention.{query,key,value,output}, attention_norm,
feed_forward.{inner,outer}, feed_forward_norm), and forward(x (B, T, d), additive_mask
(B, 1, 1, T) or None) -> (B, T, d). It may use our MultiHeadAttention or its own.
Known mistakes are named by computing the layer with that mistake and finding a match. Where
dropout sits is read without randomness: dropout with p = 1 zeroes whatever it touches, so the
output in train mode shows which tensors it was applied to.
"""

from __future__ import annotations

import torch
from torch import nn

from ..model.attention import additive_padding_mask
from ..model.config import EncoderConfig
from ..model.encoder import ACTIVATION_FUNCTIONS, EncoderLayer
from .core import (
    Check,
    CheckFailed,
    Component,
    Signature,
    close,
    expect_shape,
    load_same_weights,
    max_difference,
)
from .minilm import swapped_minilm_check

TOLERANCE = 1e-5
LENGTHS = [6, 3]  # real tokens of each sequence of the padded batch (B=2, T=6)


def small_config(norm_placement: str, dropout: float = 0.0,
                 attention_dropout: float = 0.0) -> EncoderConfig:
    # eps far from nn.LayerNorm's default 1e-5: a LayerNorm that ignores config.layer_norm_eps
    # changes the outputs by ~1e-4, well above the tolerance.
    return EncoderConfig(vocab_size=50, hidden_size=64, num_heads=4, num_layers=2, ff_size=128,
                         max_length=16, dropout=dropout, attention_dropout=attention_dropout,
                         norm_placement=norm_placement, layer_norm_eps=1e-3)


def randomise(module: nn.Module, seed: int) -> None:
    """Weights of a visible size everywhere, LayerNorm gains and biases included, so that a
    LayerNorm or bias left out changes the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "norm" in name and name.endswith("weight"):
                parameter.copy_(1 + 0.2 * noise)
            else:
                parameter.copy_(noise * (0.15 if parameter.dim() >= 2 else 0.1))


def torch_layer(ours: EncoderLayer, config: EncoderConfig, norm_first: bool | None = None,
                activation: str | None = None) -> nn.TransformerEncoderLayer:
    """torch.nn.TransformerEncoderLayer holding our layer's weights (by default the same
    placement and activation; other values build the layer of a mistake)."""
    reference = nn.TransformerEncoderLayer(
        config.hidden_size, config.num_heads, config.ff_size, dropout=0.0,
        activation=ACTIVATION_FUNCTIONS[activation or config.activation],
        layer_norm_eps=config.layer_norm_eps, batch_first=True,
        norm_first=(config.norm_placement == "pre") if norm_first is None else norm_first).eval()
    attention = ours.attention
    with torch.no_grad():
        reference.self_attn.in_proj_weight.copy_(torch.cat([attention.query.weight,
                                                            attention.key.weight,
                                                            attention.value.weight]))
        reference.self_attn.in_proj_bias.copy_(torch.cat([attention.query.bias, attention.key.bias,
                                                          attention.value.bias]))
        reference.self_attn.out_proj.load_state_dict(attention.output.state_dict())
        reference.linear1.load_state_dict(ours.feed_forward.inner.state_dict())
        reference.linear2.load_state_dict(ours.feed_forward.outer.state_dict())
        reference.norm1.load_state_dict(ours.attention_norm.state_dict())
        reference.norm2.load_state_dict(ours.feed_forward_norm.state_dict())
    return reference


def run_torch(reference: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # With autograd on, torch takes its plain path (its inference fast path is another kernel).
    with torch.enable_grad():
        return reference(x, src_key_padding_mask=mask == 0).detach()


def sketch(reference: nn.TransformerEncoderLayer, x, mask, pre_norm: bool, attention_residual=True,
           feed_forward_residual=True, norms_swapped=False) -> torch.Tensor:
    """The layer written out from torch's parts, with switches for typical mistakes."""
    norm1, norm2 = reference.norm1, reference.norm2
    if norms_swapped:
        norm1, norm2 = norm2, norm1
    attend = lambda h: reference.self_attn(h, h, h, key_padding_mask=mask == 0,
                                           need_weights=False)[0]
    feed = lambda h: reference.linear2(reference.activation(reference.linear1(h)))
    keep_a, keep_f = float(attention_residual), float(feed_forward_residual)
    with torch.no_grad():
        if pre_norm:
            x = keep_a * x + attend(norm1(x))
            return keep_f * x + feed(norm2(x))
        x = norm1(keep_a * x + attend(x))
        return norm2(keep_f * x + feed(x))


def build(candidate, config: EncoderConfig, seed: int = 0):
    """Our layer with random weights, and the learner's with the same weights."""
    torch.manual_seed(seed)
    ours = EncoderLayer(config).eval()
    randomise(ours, seed)
    learner = candidate(config)
    load_same_weights(learner, ours)
    return ours, learner.eval()


def inputs(config: EncoderConfig, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(LENGTHS), max(LENGTHS), config.hidden_size, generator=generator)
    mask = torch.tensor([[1] * n + [0] * (max(LENGTHS) - n) for n in LENGTHS])
    return x, mask


def learner_output(learner, x, mask):
    with torch.no_grad():
        output = learner(x, additive_padding_mask(mask, x.dtype))
    return expect_shape(output, x.shape, "the layer's output (B, T, d)")


def real_tokens(tensor, mask):
    return tensor[mask.bool()]  # (real tokens, d): padded positions' outputs are never used


def check_names(candidate) -> str:
    config = small_config("post")
    _, learner = build(candidate, config)
    for name in ("attention_norm", "feed_forward_norm"):
        norm = getattr(learner, name)
        if getattr(norm, "eps", config.layer_norm_eps) != config.layer_norm_eps:
            raise CheckFailed(f"{name} has eps {norm.eps:g}, config.layer_norm_eps is "
                              f"{config.layer_norm_eps:g}: pass eps=config.layer_norm_eps (BERT's "
                              "1e-12 makes a measurable difference)")
    return "our weights load into it; LayerNorm eps from the config"


def check_shape(candidate) -> str:
    config = small_config("post")
    _, learner = build(candidate, config)
    x, mask = inputs(config)
    learner_output(learner, x, mask)
    return f"{tuple(x.shape)} in, {tuple(x.shape)} out"


def against_torch(candidate, placement: str) -> str:
    config = small_config(placement)
    ours, learner = build(candidate, config)
    x, mask = inputs(config)
    output = real_tokens(learner_output(learner, x, mask), mask)
    reference = torch_layer(ours, config)
    expected = real_tokens(run_torch(reference, x, mask), mask)
    if close(output, expected, TOLERANCE):
        return f"within {max_difference(output, expected):.1e}"
    pre = placement == "pre"
    other = "post" if pre else "pre"
    if close(output, real_tokens(run_torch(torch_layer(ours, config, norm_first=not pre),
                                           x, mask), mask), 1e-4):
        raise CheckFailed(f"this is a {other}-norm layer, but config.norm_placement is "
                          f"{placement!r}: "
                          + ("x = x + sublayer(LN(x))" if pre else "x = LN(x + sublayer(x))"))
    for name in ACTIVATION_FUNCTIONS:
        if name != config.activation and close(
                output, real_tokens(run_torch(torch_layer(ours, config, activation=name),
                                              x, mask), mask), 1e-4):
            raise CheckFailed(f"the feed-forward uses {name}, but config.activation is "
                              f"{config.activation!r}: take the function that config.activation "
                              "names")
    if close(output, real_tokens(run_torch(reference, x, torch.ones_like(mask)), mask), 1e-4):
        raise CheckFailed("the layer ignores the padding: pass additive_mask on to the attention")
    mistakes = {
        "the attention sub-layer has no residual connection: add its input back":
            dict(attention_residual=False),
        "the feed-forward sub-layer has no residual connection: add its input back":
            dict(feed_forward_residual=False),
        "the two LayerNorms are swapped: attention_norm belongs to the attention sub-layer, "
        "feed_forward_norm to the feed-forward": dict(norms_swapped=True),
    }
    for message, switches in mistakes.items():
        if close(output, real_tokens(sketch(reference, x, mask, pre, **switches), mask), 1e-4):
            raise CheckFailed(message)
    raise CheckFailed(f"the {placement}-norm layer's outputs differ from "
                      f"torch.nn.TransformerEncoderLayer(norm_first={pre}) by up to "
                      f"{max_difference(output, expected):.3g} (if it uses your own attention, "
                      "check that first: python -m minitransformer.check attention ...)")


def check_padding_invariance(candidate) -> str:
    config = small_config("post")
    _, learner = build(candidate, config)
    x, mask = inputs(config)
    x[mask == 0] = 1000.0  # whatever sits in the padding must not matter
    length = LENGTHS[1]
    padded = learner_output(learner, x, mask)[1, :length]
    alone = learner_output(learner, x[1:2, :length], torch.ones(1, length, dtype=torch.long))[0]
    worst = max_difference(padded, alone)
    if worst > TOLERANCE:
        raise CheckFailed(f"a sequence's real tokens change by {worst:.3g} when it is padded: "
                          "pass the mask on to the attention")
    return "a padded sequence's tokens equal the same sequence unpadded"


def check_dropout(candidate) -> str:
    config = small_config("post", dropout=0.3)
    ours, learner = build(candidate, config)
    x, mask = inputs(config)
    expected = real_tokens(run_torch(torch_layer(ours, config), x, mask), mask)
    if not close(real_tokens(learner_output(learner, x, mask), mask), expected, TOLERANCE):
        raise CheckFailed("with config.dropout = 0.3 the layer in eval mode is not the plain "
                          "layer: dropout must act only in training (nn.Dropout does that by "
                          "itself)")
    learner.train()
    torch.manual_seed(0)
    first = learner_output(learner, x, mask)
    second = learner_output(learner, x, mask)
    if torch.equal(first, second):
        raise CheckFailed("with config.dropout = 0.3 the layer in train mode gives the same output "
                          "twice: apply dropout to each sub-layer's output before the residual add")
    return "dropout in train mode only"


def check_attention_dropout(candidate) -> str:
    config = small_config("post", attention_dropout=0.5)
    _, learner = build(candidate, config)
    x, mask = inputs(config)
    learner.train()
    torch.manual_seed(0)
    if torch.equal(learner_output(learner, x, mask), learner_output(learner, x, mask)):
        raise CheckFailed("with config.attention_dropout = 0.5 and config.dropout = 0 the layer in "
                          "train mode gives the same output twice: the attention gets no dropout; "
                          "build it with config.attention_dropout, MultiHeadAttention(hidden_size, "
                          "num_heads, config.attention_dropout), not config.dropout",
                          look_at="__init__")
    return "config.attention_dropout reaches the attention"


DROPOUT_PLACES = {  # where a sub-layer's dropout may sit: (what a message calls it, post, pre)
    "output": ("on the sub-layer's output", "LN(x + dropout(sublayer(x)))",
               "x + dropout(sublayer(LN(x)))"),
    "sum": ("on the residual sum", "LN(dropout(x + sublayer(x)))", "dropout(x + sublayer(LN(x)))"),
    "input": ("on the sub-layer's input", "LN(x + sublayer(dropout(x)))",
              "x + sublayer(dropout(LN(x)))"),
    "norm": ("after the LayerNorm", "dropout(LN(x + sublayer(x)))", None),  # pre-norm: = "input"
    "none": ("missing", "LN(x + sublayer(x))", "x + sublayer(LN(x))"),
}


def with_full_dropout(ours: EncoderLayer, x, mask, pre_norm: bool, attention_at: str,
                      feed_forward_at: str) -> torch.Tensor:
    """Our layer (eval mode) written out with dropout p = 1, which zeroes what it touches, at the
    given place of each sub-layer (a key of DROPOUT_PLACES)."""
    additive = additive_padding_mask(mask, x.dtype)
    drop = lambda tensor, here, at: torch.zeros_like(tensor) if here == at else tensor
    sublayers = [(lambda h: ours.attention(h, additive), ours.attention_norm, attention_at),
                 (ours.feed_forward, ours.feed_forward_norm, feed_forward_at)]
    with torch.no_grad():
        for transform, norm, at in sublayers:
            inner = drop(norm(x) if pre_norm else x, "input", at)  # what enters the sub-layer
            total = drop(x + drop(transform(inner), "output", at), "sum", at)  # the residual add
            x = total if pre_norm else drop(norm(total), "norm", at)
    return x


def check_dropout_placement(candidate) -> str:
    for placement in ("post", "pre"):
        config = small_config(placement, dropout=0.5)
        # after EncoderConfig's validation, which refuses 1 (no use in training)
        config.dropout = 1.0
        ours, learner = build(candidate, config)
        x, mask = inputs(config)
        output = real_tokens(learner_output(learner.train(), x, mask), mask)
        column = 2 if placement == "pre" else 1
        places = [place for place, shown in DROPOUT_PLACES.items() if shown[column] is not None]
        pairs = [(place, place) for place in places] + [  # the same mistake in both first
            (a, f) for a in places for f in places if a != f]
        found = next((pair for pair in pairs if close(output, real_tokens(
            with_full_dropout(ours, x, mask, placement == "pre", *pair), mask), 1e-4)), None)
        right = DROPOUT_PLACES["output"][column]
        if found is None:
            result = "x" if placement == "pre" else "LN2(LN1(x))"
            raise CheckFailed(f"with config.dropout = 1.0 in train mode (dropout zeroes all it "
                              f"touches) the {placement}-norm layer should zero each sub-layer's "
                              f"output, {right}, and give {result}; it gives something else: apply "
                              "dropout to each sub-layer's output only")
        wrong = [(name, place) for name, place in zip(("attention", "feed-forward"), found)
                 if place != "output"]
        if not wrong:
            continue
        name, place = wrong[0]
        which = "both sub-layers'" if found == (place, place) else f"the {name} sub-layer's"
        said, shown = DROPOUT_PLACES[place][0], DROPOUT_PLACES[place][column]
        why = {"sum": "it drops the residual path x too, which the residual connection keeps",
               "norm": "it drops the whole stream, the residual path x too",
               "input": "the sub-layer's input is dropped, where its output should be",
               "none": "in training, each sub-layer's output is dropped before it is added"}[place]
        raise CheckFailed(f"{which} dropout is {said} ({placement}-norm, {shown}): {why}; "
                          f"dropout belongs on the sub-layer's output alone: {right}")
    return "on each sub-layer's output, before the residual add (post- and pre-norm)"


def swap_layers(model, candidate) -> None:
    encoder = model.encoder
    for index, layer in enumerate(encoder.layers):
        learner = candidate(encoder.config)
        load_same_weights(learner, layer)
        encoder.layers[index] = learner.eval()


COMPONENT = Component(
    name="encoder_layer",
    writes="a class like minitransformer.model.encoder.EncoderLayer(config)",
    ours="minitransformer/model/encoder.py:EncoderLayer",
    signature=Signature("a class EncoderLayer(config) with forward(x (B, T, d), additive_mask "
                        "(B, 1, 1, T) or None) -> (B, T, d)",
                        methods={"__init__": (1, ()), "forward": (2, ())}),
    checks=[
        Check("parameters named like ours", check_names, look_at="__init__"),
        Check("shape", check_shape, look_at="forward"),
        Check("post-norm against torch.nn.TransformerEncoderLayer, with padding",
              lambda candidate: against_torch(candidate, "post"), look_at="forward"),
        Check("pre-norm against torch.nn.TransformerEncoderLayer(norm_first=True), with padding",
              lambda candidate: against_torch(candidate, "pre"), look_at="forward"),
        Check("padding invariance", check_padding_invariance, look_at="forward"),
        Check("dropout in training only", check_dropout, look_at="forward"),
        Check("attention dropout from config.attention_dropout", check_attention_dropout,
              look_at="__init__"),
        Check("where dropout sits (dropout = 1.0 zeroes what it touches)", check_dropout_placement,
              look_at="forward"),
        swapped_minilm_check(swap_layers, "these layers"),
    ],
)
