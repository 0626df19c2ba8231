"""Checks for the encoder stack: embeddings, N layers, and for pre-norm a final LayerNorm.

    ids (B, T) -> embeddings -> layer 1 -> ... -> layer N -> [final LayerNorm if pre-norm]

The learner writes a class like minitransformer.model.encoder.Encoder: Encoder(config) with
`embeddings` (ours may be used), `layers` (an nn.ModuleList of encoder layers) and, for
pre-norm only, `final_norm`; forward(input_ids, attention_mask) -> (B, T, d). The reference:
our embeddings, then torch.nn.TransformerEncoderLayer per layer holding the same weights.
"""

from __future__ import annotations

import torch

from ..model.encoder import Encoder
from .core import (
    Check,
    CheckFailed,
    Component,
    Signature,
    close,
    expect_shape,
    load_same_weights,
    max_difference,
    parameter_names,
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
    if isinstance(getattr(learner, "layers", None), (list, tuple)):
        raise CheckFailed("layers is a plain Python list: PyTorch does not see modules inside one "
                          "(no parameters, no .to(), no state_dict); use nn.ModuleList",
                          look_at="__init__")
    lacks, extra = parameter_names(learner, ours)
    if placement == "pre" and any(name.startswith("final_norm.") for name in lacks):
        raise CheckFailed("a pre-norm stack needs a final LayerNorm, final_norm, after the last "
                          "layer: each pre-norm layer adds to the residual stream without "
                          "normalising it, so the output would never be normalised",
                          look_at="__init__")
    if placement == "post" and any(name.startswith("final_norm.") for name in extra):
        raise CheckFailed("a post-norm stack has no final LayerNorm (final_norm): each post-norm "
                          "layer already ends with one; create it only when config.norm_placement "
                          "is 'pre'", look_at="__init__")
    load_same_weights(learner, ours)
    return config, ours, learner.eval()


def inputs(config, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, config.vocab_size, (len(LENGTHS), max(LENGTHS)), generator=generator)
    mask = torch.tensor([[1] * n + [0] * (max(LENGTHS) - n) for n in LENGTHS])
    return ids.masked_fill(mask == 0, config.pad_id), mask


def reference_stack(ours: Encoder, config, ids, mask, final_norm: bool = True) -> torch.Tensor:
    with torch.no_grad():
        x = ours.embeddings(ids)
    for layer in ours.layers:
        x = run_torch(torch_layer(layer, config), x, mask)
    if ours.final_norm is not None and final_norm:
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
    output = learner_output(learner, ids, mask, config)[real]
    expected = reference_stack(ours, config, ids, mask)[real]
    if close(output, expected, TOLERANCE):
        return f"within {max_difference(output, expected):.1e}"
    if placement == "pre" and close(
            output, reference_stack(ours, config, ids, mask, final_norm=False)[real], 1e-4):
        raise CheckFailed("the pre-norm stack's output is the last layer's, un-normalised: apply "
                          "final_norm after the last layer")
    unmasked = reference_stack(ours, config, ids, torch.ones_like(mask))[real]
    if close(output, unmasked, 1e-4):
        raise CheckFailed("the encoder ignores the attention mask: build the additive mask from it "
                          "(additive_padding_mask) and pass it to every layer")
    raise CheckFailed(f"the {placement}-norm stack's outputs differ from the reference by up to "
                      f"{max_difference(output, expected):.3g} (check each layer first: "
                      "python -m minitransformer.check encoder_layer ...)")


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
        swapped_minilm_check(swap_encoder, "this encoder"),
    ],
)
