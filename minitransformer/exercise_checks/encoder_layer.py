"""Checks for one encoder layer, post-norm (BERT) and pre-norm, against
torch.nn.TransformerEncoderLayer, PyTorch's own implementation of the same layer:

    post-norm:  x = LN1(x + attention(x));   x = LN2(x + feed_forward(x))
    pre-norm:   x = x + attention(LN1(x));   x = x + feed_forward(LN2(x))

The learner writes a class like minitransformer.model.encoder.EncoderLayer: EncoderLayer(config)
with its parameters named like ours (attention.{query,key,value,output}, attention_norm,
feed_forward.{inner,outer}, feed_forward_norm), and forward(x (B, T, d), additive_mask
(B, 1, 1, T) or None) -> (B, T, d). It may use our MultiHeadAttention or its own.

Every setting the exercise reads from the config is tried: both placements, each activation, the
mask given and left None, and dropout rates of 0 and between 0 and 1. Known mistakes are named by
computing the layer with that mistake and finding a match. Dropout is compared with the same
seed: nn.Dropout and F.dropout draw the same masks after torch.manual_seed, so the layer
written out here with dropout at the right places and rates gives the learner's output exactly,
and written out with one thing wrong (a place, a rate, a rate from the other field) names the
mistake. A dropout module of the learner's own kind (one that draws its masks otherwise) is
used in those layers written out, so that it too is compared with the same seed; dropout that
cannot be is compared in distribution (the mean, and the spread of each token over 100 calls),
which finds a wrong rate or a dropped stream but may miss a place that changes neither.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..model.attention import additive_padding_mask
from ..model.config import EncoderConfig
from ..model.encoder import ACTIVATION_FUNCTIONS, EncoderLayer
from .core import (
    Check,
    CheckFailed,
    Component,
    Signature,
    call_without_mask,
    close,
    distribution_gap,
    expect_shape,
    load_same_weights,
    max_difference,
    merged,
    same_in_distribution,
    seeded,
    traced,
)
from .minilm import swapped_minilm_check

TOLERANCE = 1e-5
LENGTHS = [6, 3]  # real tokens of each sequence of the padded batch (B=2, T=6)
DROPOUT, ATTENTION_DROPOUT = 0.3, 0.2  # different, so that one taken for the other shows
SEED = 3


def small_config(norm_placement: str, dropout: float = 0.0, attention_dropout: float = 0.0,
                 activation: str = "gelu") -> EncoderConfig:
    # eps far from nn.LayerNorm's default 1e-5: a LayerNorm that ignores config.layer_norm_eps
    # changes the outputs by ~1e-4, well above the tolerance.
    return EncoderConfig(vocab_size=50, hidden_size=64, num_heads=4, num_layers=2, ff_size=128,
                         max_length=16, dropout=dropout, attention_dropout=attention_dropout,
                         norm_placement=norm_placement, layer_norm_eps=1e-3,
                         activation=activation)


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


# How a sub-layer f with LayerNorm LN updates the stream x: the two right forms and the mistakes.
FORMS = {
    "post": lambda x, f, norm: norm(x + f(x)),
    "pre": lambda x, f, norm: x + f(norm(x)),
    "post, no residual": lambda x, f, norm: norm(f(x)),
    "pre, no residual": lambda x, f, norm: f(norm(x)),
    "pre, residual from LN": lambda x, f, norm: norm(x) + f(norm(x)),
}
FEEDS = {  # the feed-forward, from torch's parts: the right one and two mistakes
    "right": lambda layer, h: layer.linear2(layer.activation(layer.linear1(h))),
    "no activation": lambda layer, h: layer.linear2(layer.linear1(h)),
    "activation after outer": lambda layer, h: layer.activation(layer.linear2(layer.linear1(h))),
}


def sketch(reference: nn.TransformerEncoderLayer, x, mask, attention_form: str, feed_form: str,
           norms_swapped: bool = False, feed: str = "right") -> torch.Tensor:
    """The layer written out from torch's parts, each sub-layer in one of FORMS, so that a
    mistake can be computed and recognised."""
    norm1, norm2 = reference.norm1, reference.norm2
    if norms_swapped:
        norm1, norm2 = norm2, norm1
    attend = lambda h: reference.self_attn(h, h, h, key_padding_mask=mask == 0,
                                           need_weights=False)[0]
    with torch.no_grad():
        x = FORMS[attention_form](x, attend, norm1)
        return FORMS[feed_form](x, lambda h: FEEDS[feed](reference, h), norm2)


def form_mistakes(placement: str) -> list[tuple[str, dict, tuple]]:
    """(message, sketch's keywords, where to look) for the known mistakes of one placement."""
    right = placement
    other = "pre" if placement == "post" else "post"
    shown = {"post": "x = LN(x + sublayer(x))", "pre": "x = x + sublayer(LN(x))"}
    at_attention, at_feed = ("self.attention",), ("self.feed_forward",)
    mistakes = [
        ("the attention sub-layer has no residual connection: add its input back",
         dict(attention_form=f"{right}, no residual", feed_form=right), at_attention),
        ("the feed-forward sub-layer has no residual connection: add its input back",
         dict(attention_form=right, feed_form=f"{right}, no residual"), at_feed),
        ("the two LayerNorms are swapped: attention_norm belongs to the attention sub-layer, "
         "feed_forward_norm to the feed-forward",
         dict(attention_form=right, feed_form=right, norms_swapped=True),
         ("self.attention_norm", "self.feed_forward_norm")),
        (f"the attention sub-layer is {right}-norm and the feed-forward {other}-norm; with "
         f"config.norm_placement {placement!r} both are {right}-norm: {shown[right]}",
         dict(attention_form=right, feed_form=other), at_feed),
        (f"the attention sub-layer is {other}-norm and the feed-forward {right}-norm; with "
         f"config.norm_placement {placement!r} both are {right}-norm: {shown[right]}",
         dict(attention_form=other, feed_form=right), at_attention),
        ("the feed-forward has no activation: it is outer(activation(inner(x)))",
         dict(attention_form=right, feed_form=right, feed="no activation"),
         ("self.outer", "self.inner")),
        ("the activation comes after outer; it belongs between inner and outer: "
         "outer(activation(inner(x)))",
         dict(attention_form=right, feed_form=right, feed="activation after outer"),
         ("activation", "self.outer")),
    ]
    if placement == "pre":
        said = ("the residual adds LN(x), not x: in a pre-norm layer the LayerNorm feeds only the "
                "sub-layer, x = x + sublayer(LN(x)), and the stream itself stays un-normalised "
                "(in the {} sub-layer)")
        mistakes += [
            (said.format("attention"), dict(attention_form="pre, residual from LN",
                                            feed_form="pre"), at_attention + ("attention_norm",)),
            (said.format("feed-forward"), dict(attention_form="pre",
                                               feed_form="pre, residual from LN"),
             at_feed + ("feed_forward_norm",)),
        ]
    return mistakes


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
                              "1e-12 makes a measurable difference)", near=(f"self.{name}",))
    return "our weights load into it, each part a module of its own; LayerNorm eps from the config"


def check_shape(candidate) -> str:
    config = small_config("post")
    _, learner = build(candidate, config)
    x, _ = inputs(config)
    everything = torch.ones(x.shape[:2], dtype=torch.long)
    output = learner_output(learner, x, everything)
    with torch.no_grad():
        alone = call_without_mask(lambda: learner(x, None), "additive_mask")
    alone = expect_shape(alone, x.shape, "the layer's output (B, T, d) with additive_mask None")
    if not close(alone, output, TOLERANCE):
        raise CheckFailed(f"with additive_mask None the output differs by up to "
                          f"{max_difference(alone, output):.3g} from the output with a mask of no "
                          "padding: None means every token is real", near=("additive_mask",))
    return f"{tuple(x.shape)} in, {tuple(x.shape)} out; additive_mask None = no padding"


def against_torch(candidate, placement: str, activation: str = "gelu") -> str:
    config = small_config(placement, activation=activation)
    (ours, learner), built = traced(lambda: build(candidate, config))
    x, mask = inputs(config)
    output, ran = traced(lambda: learner_output(learner, x, mask))  # the branch forward took
    output = real_tokens(output, mask)
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
                          + ("x = x + sublayer(LN(x))" if pre else "x = LN(x + sublayer(x))"),
                          look_at="__init__", near=("norm_placement", "pre_norm"))
    for name in ACTIVATION_FUNCTIONS:
        if name != config.activation and close(
                output, real_tokens(run_torch(torch_layer(ours, config, activation=name),
                                              x, mask), mask), 1e-4):
            raise CheckFailed(f"the feed-forward uses {name}, but config.activation is "
                              f"{config.activation!r}: take the function that config.activation "
                              "names", look_at="__init__",
                              near=(name.split("_")[0], "approximate", "activation"),
                              ran=merged(built, ran))  # where __init__ chose it
    if close(output, real_tokens(run_torch(reference, x, torch.ones_like(mask)), mask), 1e-4):
        raise CheckFailed("the layer ignores the padding: pass additive_mask on to the attention",
                          near=("self.attention",), ran=ran)
    for message, switches, near in form_mistakes(placement):
        if close(output, real_tokens(sketch(reference, x, mask, **switches), mask), 1e-4):
            raise CheckFailed(message, near=near, ran=ran)
    raise CheckFailed(f"the {placement}-norm layer's outputs differ from "
                      f"torch.nn.TransformerEncoderLayer(norm_first={pre}) by up to "
                      f"{max_difference(output, expected):.3g} (if it uses your own attention, "
                      "check that first: python -m minitransformer.check attention ...)")


def check_activations(candidate) -> str:
    others = sorted((name for name in ACTIVATION_FUNCTIONS if name != "gelu"),
                    key=lambda name: name.startswith("gelu"))  # relu first: farthest from gelu
    for name in others:
        against_torch(candidate, "post", activation=name)
    return f"config.activation {', '.join(map(repr, others))} too"


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
                          "pass the mask on to the attention", near=("self.attention",))
    return "a padded sequence's tokens equal the same sequence unpadded"


# ---- dropout ---------------------------------------------------------------------------------

def check_eval_mode(candidate) -> str:
    config = small_config("post", dropout=DROPOUT, attention_dropout=ATTENTION_DROPOUT)
    ours, learner = build(candidate, config)
    x, mask = inputs(config)
    expected = real_tokens(run_torch(torch_layer(ours, config), x, mask), mask)
    if not close(real_tokens(learner_output(learner, x, mask), mask), expected, TOLERANCE):
        raise CheckFailed(f"with config.dropout = {DROPOUT} the layer in eval mode is not the "
                          "plain layer: dropout must act only in training (nn.Dropout does that "
                          "by itself)", near=("dropout", "Dropout"))
    return f"config.dropout = {DROPOUT}, attention_dropout = {ATTENTION_DROPOUT}: no dropout"


def check_zero_rates(candidate) -> str:
    config = small_config("post")
    _, learner = build(candidate, config)
    x, mask = inputs(config)
    plain = learner_output(learner, x, mask)
    learner.train()
    output = seeded(lambda: learner_output(learner, x, mask), SEED)
    if close(output, plain, TOLERANCE):
        return "config.dropout = attention_dropout = 0: training gives the plain layer"
    rates = [(name, module.p) for name, module in learner.named_modules()
             if isinstance(module, nn.Dropout) and module.p != 0]
    rates += [(name, module.attention_dropout) for name, module in learner.named_modules()
              if isinstance(getattr(module, "attention_dropout", 0), float)
              and module.attention_dropout != 0]
    if rates:
        name, rate = rates[0]
        field = "attention_dropout" if "attention" in name else "dropout"
        raise CheckFailed(f"the layer's dropout rate is {rate:g}, not config.{field} = 0: "
                          f"{name} was built with a rate of its own; take config.{field}",
                          look_at="__init__", near=("Dropout", "dropout", "MultiHeadAttention"))
    raise CheckFailed("with config.dropout = config.attention_dropout = 0 the layer in training "
                      f"differs from eval mode by up to {max_difference(output, plain):.3g}: a "
                      "dropout rate is not taken from the config", near=("dropout",))


# Where a sub-layer's dropout may act: the places of `by_hand`, and what a message calls each.
PLACES = {
    ("output",): ("on the sub-layer's output", "LN(x + dropout(sublayer(x)))",
                  "x + dropout(sublayer(LN(x)))"),
    ("sum",): ("on the residual sum", "LN(dropout(x + sublayer(x)))",
               "dropout(x + sublayer(LN(x)))"),
    ("input",): ("on the sub-layer's input", "LN(x + sublayer(dropout(x)))",
                 "x + sublayer(dropout(LN(x)))"),
    ("norm",): ("after the LayerNorm", "dropout(LN(x + sublayer(x)))", None),  # pre: = input
    (): ("missing", "LN(x + sublayer(x))", "x + sublayer(LN(x))"),
    ("input", "output"): ("on its input as well as its output",
                          "LN(x + dropout(sublayer(dropout(x))))",
                          "x + dropout(sublayer(dropout(LN(x))))"),
}
WHY = {("sum",): "it drops the residual path x too, which the residual connection keeps",
       ("norm",): "it drops the whole stream, the residual path x too",
       ("input",): "the sub-layer's input is dropped, where its output should be",
       (): "in training, each sub-layer's output is dropped before it is added",
       ("input", "output"): "the sub-layer's input is dropped too"}


def torch_dropout(tensor: torch.Tensor, rate: float) -> torch.Tensor:
    return F.dropout(tensor, rate, training=True)


def at_rate(module: nn.Module, tensor: torch.Tensor, rate: float) -> torch.Tensor:
    """The learner's own dropout module applied at `rate` (its p, for this call only)."""
    saved, module.p = module.p, rate
    try:
        return module(tensor)
    finally:
        module.p = saved


def dropout_functions(learner: nn.Module) -> list[Callable[[torch.Tensor, float], torch.Tensor]]:
    """How the learner's layer may draw its sub-layers' dropout masks, as (tensor, rate) ->
    tensor: F.dropout (what nn.Dropout calls), then each dropout module of its own kind (a
    module with a rate p outside the attention: our EncoderLayer's cheaper Dropout, a learner's
    own), so that it too can be compared with the same seed."""
    functions, kinds = [torch_dropout], {nn.Dropout}
    for name, module in learner.named_modules():
        if (name and not name.startswith("attention") and type(module) not in kinds
                and isinstance(getattr(module, "p", None), float)):
            kinds.add(type(module))
            functions.append(functools.partial(at_rate, module))
    return functions


def by_hand(ours: EncoderLayer, x, mask, pre_norm: bool, attention_rate: float, rate: float,
            places: tuple[tuple[str, ...], tuple[str, ...]],
            dropout: Callable[[torch.Tensor, float], torch.Tensor] = torch_dropout
            ) -> torch.Tensor:
    """Our layer (holding the learner's weights) in training, written out: the attention drops
    its weights at `attention_rate` (F.dropout), and each sub-layer drops at `rate` where
    `places` says (the attention's places, the feed-forward's: keys of PLACES), with
    `dropout`."""
    additive = additive_padding_mask(mask, x.dtype)

    def drop(tensor, place, here):
        for _ in range(here.count(place)):
            tensor = dropout(tensor, rate)
        return tensor

    ours.attention.attention_dropout = attention_rate
    ours.attention.train()
    sublayers = [(lambda h: ours.attention(h, additive), ours.attention_norm, places[0]),
                 (ours.feed_forward, ours.feed_forward_norm, places[1])]
    with torch.no_grad():
        for transform, norm, here in sublayers:
            inner = drop(norm(x) if pre_norm else x, "input", here)  # what enters the sub-layer
            total = drop(x + drop(transform(inner), "output", here), "sum", here)  # residual add
            x = total if pre_norm else drop(norm(total), "norm", here)
    ours.attention.eval()
    return x


def dropout_mistakes(placement: str) -> list[tuple[str, dict, tuple, str]]:
    """The known ways to get the layer's dropout wrong, one thing at a time: (message,
    by_hand's keywords, where to look, the method)."""
    right = ("output",)
    column = 1 if placement == "post" else 2
    shown_right = PLACES[right][column]
    mistakes = [
        (f"the attention gets no dropout: build it with config.attention_dropout "
         f"(= {ATTENTION_DROPOUT}), MultiHeadAttention(hidden_size, num_heads, "
         "config.attention_dropout)", dict(attention_rate=0.0, rate=DROPOUT),
         ("MultiHeadAttention", "self.attention"), "__init__"),
        (f"the attention's dropout rate is config.dropout = {DROPOUT}, not "
         f"config.attention_dropout = {ATTENTION_DROPOUT}: build it with "
         "config.attention_dropout", dict(attention_rate=DROPOUT, rate=DROPOUT),
         ("MultiHeadAttention", "self.attention"), "__init__"),
        (f"the layer's dropout rate is config.attention_dropout = {ATTENTION_DROPOUT}, not "
         f"config.dropout = {DROPOUT}: build its dropout with config.dropout",
         dict(attention_rate=ATTENTION_DROPOUT, rate=ATTENTION_DROPOUT),
         ("Dropout", "dropout"), "__init__"),
        (f"the layer's dropout rate is 1 - config.dropout = {1 - DROPOUT:g}: the rate is the "
         "probability to drop a value, not to keep it",
         dict(attention_rate=ATTENTION_DROPOUT, rate=1 - DROPOUT), ("Dropout", "dropout"),
         "__init__"),
    ]
    for fixed in (0.1, 0.5):
        mistakes.append((f"the layer's dropout rate is {fixed:g}, not config.dropout = {DROPOUT}: "
                         "take it from the config", dict(attention_rate=ATTENTION_DROPOUT,
                                                         rate=fixed), ("Dropout", "dropout"),
                         "__init__"))
    for place, (said, *shown) in PLACES.items():
        if place == right or shown[column - 1] is None:
            continue
        advice = f"{WHY[place]}; dropout belongs on the sub-layer's output alone: {shown_right}"
        for which, places, near in [
                ("the attention sub-layer's", (place, right), ("self.attention",)),
                ("the feed-forward sub-layer's", (right, place), ("self.feed_forward",)),
                ("both sub-layers'", (place, place), ("dropout", "self.attention"))]:
            mistakes.append((f"{which} dropout is {said} ({placement}-norm, {shown[column - 1]}): "
                             f"{advice}", dict(attention_rate=ATTENTION_DROPOUT, rate=DROPOUT,
                                               places=places), near, "forward"))
    return mistakes


def check_dropout(candidate) -> str:
    compared = "the same masks as the layer written out, with the same seed"
    for placement in ("post", "pre"):
        config = small_config(placement, dropout=DROPOUT, attention_dropout=ATTENTION_DROPOUT)
        (ours, learner), built = traced(lambda: build(candidate, config))
        x, mask = inputs(config)
        pre = placement == "pre"
        learner.train()
        output, ran = traced(lambda: seeded(lambda: learner_output(learner, x, mask), SEED))
        right = dict(attention_rate=ATTENTION_DROPOUT, rate=DROPOUT,
                     places=(("output",), ("output",)))
        functions = dropout_functions(learner)
        if any(close(output, seeded(lambda: by_hand(ours, x, mask, pre, **right,
                                                    dropout=dropout), SEED), TOLERANCE)
               for dropout in functions):
            continue
        for dropout in functions:
            for message, keywords, near, method in dropout_mistakes(placement):
                keywords = {"places": right["places"]} | keywords
                if close(output, seeded(lambda: by_hand(ours, x, mask, pre, **keywords,
                                                        dropout=dropout), SEED), TOLERANCE):
                    raise CheckFailed(f"in training, with config.dropout = {DROPOUT} and "
                                      f"config.attention_dropout = {ATTENTION_DROPOUT}: {message}",
                                      look_at=method, near=near,
                                      ran=built if method == "__init__" else ran)
        # dropout that draws its random numbers its own way: compare the distributions
        gap, low, high = distribution_gap(
            lambda: real_tokens(learner_output(learner, x, mask), mask),
            lambda: real_tokens(by_hand(ours, x, mask, pre, **right), mask))
        if not same_in_distribution(gap, low, high):
            raise CheckFailed(f"in training ({placement}-norm, config.dropout = {DROPOUT}, "
                              f"config.attention_dropout = {ATTENTION_DROPOUT}), over 100 calls "
                              f"the tokens' outputs spread {low:.2f} to {high:.2f} times as much "
                              "as with dropout on each sub-layer's output and on the attention "
                              f"weights, and the mean is {gap:.1f} standard errors off: "
                              f"{PLACES[('output',)][2 if pre else 1]}, each dropout at its rate",
                              near=("dropout", "rand_like", "bernoulli"), ran=ran)
        compared = "in distribution: your dropout draws its own random numbers"
    return f"on each sub-layer's output and the attention weights, post- and pre-norm ({compared})"


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
        Check("shape, with additive_mask and with None", check_shape, look_at="forward"),
        Check("post-norm against torch.nn.TransformerEncoderLayer, with padding",
              lambda candidate: against_torch(candidate, "post"), look_at="forward"),
        Check("pre-norm against torch.nn.TransformerEncoderLayer(norm_first=True), with padding",
              lambda candidate: against_torch(candidate, "pre"), look_at="forward"),
        Check("the activation config.activation names", check_activations, look_at="forward"),
        Check("padding invariance", check_padding_invariance, look_at="forward"),
        Check("dropout in training only", check_eval_mode, look_at="forward"),
        Check("dropout rates 0: no dropout", check_zero_rates, look_at="forward"),
        Check(f"dropout in training: where, and at which rate (config.dropout = {DROPOUT}, "
              f"attention_dropout = {ATTENTION_DROPOUT})", check_dropout, look_at="forward"),
        swapped_minilm_check(swap_layers, "these layers"),
    ],
)
