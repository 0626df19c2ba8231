"""Checks for the encoder stack: embeddings, N layers, and for pre-norm a final LayerNorm.

    ids (B, T) -> embeddings -> layer 1 -> ... -> layer N -> [final LayerNorm if pre-norm]

The learner writes a class like minitransformer.model.encoder.Encoder: Encoder(config) with
`embeddings` (ours may be used), `layers` (an nn.ModuleList of encoder layers) and, for
pre-norm only, `final_norm`; forward(input_ids, attention_mask) -> (B, T, d). The reference:
our embeddings, then torch.nn.TransformerEncoderLayer per layer holding the same weights. The
mask is tried given and left out (None: every token is real); known mistakes of the stack (the
layers in reverse, the final LayerNorm after each layer, the 1/0 mask handed on as it is) are
named by computing the stack with that mistake and finding a match.
"""

from __future__ import annotations

import torch
from torch import nn

from ..model.encoder import Encoder
from .core import (
    Check,
    CheckFailed,
    Component,
    Signature,
    call_without_mask,
    close,
    expect_shape,
    load_same_weights,
    max_difference,
    parameter_names,
    traced,
)
from .encoder_layer import randomise, run_torch, small_config, torch_layer
from .minilm import swapped_minilm_check

TOLERANCE = 1e-5
LENGTHS = [9, 5, 2]


def build(candidate, placement: str, seed: int = 0):
    """Our encoder with random weights, and the learner's holding the same weights."""
    config = small_config(placement)
    torch.manual_seed(seed)
    ours = Encoder(config).eval()
    randomise(ours, seed)
    learner = candidate(config)
    layers = getattr(learner, "layers", None)
    if isinstance(layers, (list, tuple)):
        raise CheckFailed("layers is a plain Python list: PyTorch does not see modules inside one "
                          "(no parameters, no .to(), no state_dict); use nn.ModuleList",
                          look_at="__init__", near=("self.layers",))
    if isinstance(layers, nn.ModuleList) and len(layers) != config.num_layers:
        raise CheckFailed(f"it builds {len(layers)} layer{'s' * (len(layers) != 1)}, "
                          f"config.num_layers is {config.num_layers}: one EncoderLayer(config) "
                          "for each of range(config.num_layers)", look_at="__init__",
                          near=("self.layers",))
    lacks, extra = parameter_names(learner, ours)
    if placement == "pre" and any(name.startswith("final_norm.") for name in lacks):
        raise CheckFailed("a pre-norm stack needs a final LayerNorm, final_norm, after the last "
                          "layer: each pre-norm layer adds to the residual stream without "
                          "normalising it, so the output would never be normalised",
                          look_at="__init__", near=("self.layers",))
    if placement == "post" and any(name.startswith("final_norm.") for name in extra):
        raise CheckFailed("a post-norm stack has no final LayerNorm (final_norm): each post-norm "
                          "layer already ends with one; create it only when config.norm_placement "
                          "is 'pre'", look_at="__init__", near=("self.final_norm",))
    load_same_weights(learner, ours)
    return config, ours, learner.eval()


def inputs(config, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, config.vocab_size, (len(LENGTHS), max(LENGTHS)), generator=generator)
    mask = torch.tensor([[1] * n + [0] * (max(LENGTHS) - n) for n in LENGTHS])
    return ids.masked_fill(mask == 0, config.pad_id), mask


def reference_stack(ours: Encoder, config, ids, mask, final_norm: str = "last",
                    order: int = 1, padding: torch.Tensor | None = None) -> torch.Tensor:
    """Our embeddings, then torch's layer for each of ours, then our final LayerNorm; the
    keywords compute a mistake: final_norm "none", "each" (after every layer) or "each and last"
    (after every layer and once more), order -1 (the layers top to bottom), padding (what torch
    adds to the scores, instead of the mask's)."""
    with torch.no_grad():
        x = ours.embeddings(ids)
    for layer in list(ours.layers)[::order]:
        reference = torch_layer(layer, config)
        if padding is None:
            x = run_torch(reference, x, mask)
        else:
            with torch.enable_grad():
                x = reference(x, src_key_padding_mask=padding).detach()
        if ours.final_norm is not None and final_norm.startswith("each"):
            with torch.no_grad():
                x = ours.final_norm(x)
    if ours.final_norm is not None and final_norm.endswith("last"):
        with torch.no_grad():
            x = ours.final_norm(x)
    return x


def learner_output(learner, ids, mask, config):
    with torch.no_grad():
        output = learner(ids, mask)
    return expect_shape(output, (*ids.shape, config.hidden_size), "the encoder's output (B, T, d)")


def against_reference(candidate, placement: str) -> str:
    config, ours, learner = build(candidate, placement)
    ids, mask = inputs(config)
    real = mask.bool()
    output, ran = traced(lambda: learner_output(learner, ids, mask, config))
    output = output[real]
    expected = reference_stack(ours, config, ids, mask)[real]
    if close(output, expected, TOLERANCE):
        return f"within {max_difference(output, expected):.1e}"
    stack = lambda **mistake: reference_stack(ours, config, ids, mask, **mistake)[real]
    mistakes = [
        ("the pre-norm stack's output is the last layer's, un-normalised: apply final_norm after "
         "the last layer", dict(final_norm="none"), ("return",)),
        *[("final_norm is applied after every layer; it belongs once, after the last one (each "
           "pre-norm layer leaves the stream un-normalised on purpose)", dict(final_norm=where),
           ("self.final_norm",)) for where in ("each", "each and last")],
        ("the encoder ignores the attention mask: build the additive mask from it "
         "(additive_padding_mask) and pass it to every layer",
         dict(padding=torch.zeros_like(mask, dtype=torch.bool)), ("layer", "self.layers")),
        ("the layers get the 1/0 mask as it is: it is added to the scores, so real tokens gain "
         "1 and padding keeps its weight; turn it into the additive mask first, "
         "additive_padding_mask(attention_mask, x.dtype)", dict(padding=mask.float()),
         ("attention_mask",)),
        ("the layers run in reverse order, the last one first: run self.layers as they are "
         "listed, layer 1 on the embeddings", dict(order=-1), ("self.layers",)),
    ]
    for message, mistake, near in mistakes:
        if (placement == "pre" or "final_norm" not in mistake) and close(output, stack(**mistake),
                                                                        1e-4):
            raise CheckFailed(message, near=near, ran=ran)
    raise CheckFailed(f"the {placement}-norm stack's outputs differ from the reference by up to "
                      f"{max_difference(output, expected):.3g} (check each layer first: "
                      "python -m minitransformer.check encoder_layer ...)")


def check_no_mask(candidate) -> str:
    config, _, learner = build(candidate, "post")
    ids, _ = inputs(config)
    everything = learner_output(learner, ids, torch.ones_like(ids), config)
    alone, ran = traced(lambda: call_without_mask(lambda: learner_output(learner, ids, None,
                                                                          config),
                                                  "attention_mask"))
    if not close(alone, everything, TOLERANCE):
        raise CheckFailed(f"without a mask every token is real: encoder(ids) must equal "
                          f"encoder(ids, torch.ones_like(ids)), and differs from it by up to "
                          f"{max_difference(alone, everything):.3g}", near=("attention_mask",),
                          ran=ran)
    return "encoder(ids) = encoder(ids, a mask of ones)"


def swap_encoder(model, candidate) -> None:
    learner = candidate(model.encoder.config)
    load_same_weights(learner, model.encoder)
    model.encoder = learner.eval()


COMPONENT = Component(
    name="encoder",
    writes="a class like minitransformer.model.encoder.Encoder(config)",
    ours="minitransformer/model/encoder.py:Encoder",
    signature=Signature("a class Encoder(config) with forward(input_ids (B, T), attention_mask "
                        "(B, T) or None) -> (B, T, d)",
                        methods={"__init__": (1, ()), "forward": (2, ())}),
    checks=[
        Check("post-norm stack: names and outputs, with padding",
              lambda candidate: against_reference(candidate, "post"), look_at="forward"),
        Check("pre-norm stack: names, final LayerNorm and outputs, with padding",
              lambda candidate: against_reference(candidate, "pre"), look_at="forward"),
        Check("no attention_mask: every token is real", check_no_mask, look_at="forward"),
        swapped_minilm_check(swap_encoder, "this encoder"),
    ],
)
