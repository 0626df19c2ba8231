"""int8 inference: a copy of the encoder whose linear layers multiply in 8-bit integers.

The linear layers (Q, K, V, the attention output and the feed-forward) are nearly all of an
encoder's FLOPs. PyTorch's *dynamic* quantisation stores each weight matrix as int8 with one
scale per output row and, at every call, rounds the incoming activations to 8 bits with one
scale and zero point for the whole tensor, multiplies in integers and scales the result back
to float. On x86 its layers round the activations to 7 bits only, to be safe on CPUs whose
kernel would overflow with 8; where the kernel is safe we use all 8 (full_range_activations:
on the benchmark corpus it took the mean cosine to float32 from 0.979 to 0.996).

Everything else (embeddings, LayerNorm, softmax, GELU) stays float32. It runs on the CPU only.
Because the activation scale is taken from the whole batch, a sentence's int8 vector depends a
little on the sentences it is batched with.

One scale for a whole activation tensor is the weak spot: trained transformers have a few
*outlier channels* whose values are ten or more times larger than the rest, so the scale
follows them and the ordinary channels keep only a few levels. SmoothQuant (Xiao et al. 2023)
moves part of the difficulty from the activations to the weights, exactly, before rounding:

    y = x W^T = (x / s) (W * s)^T        s_j = max|x_j|^a / max|W_:,j|^(1-a)   per input channel j

After it, channel j of the activations reaches at most (max|x_j|^(1-a) * max|W_:,j|^a): the
outliers are compressed toward the other channels, and the weight columns grow by the same
factors, which int8 weights (a scale per row, fitted to the row's largest entry) tolerate
better than activations tolerate outliers. max|x_j| is measured on calibration sentences
(SentenceEncoder uses the embedded default dataset); a = SMOOTHING.

    encoder --deepcopy--> stack Q|K|V into one Linear --measure inputs--> smooth
            --quantize_dynamic--> [8-bit activations where safe] --> int8 copy

The original encoder is left as it is; the copy is for inference only (no gradients).
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import warnings
from typing import Iterable

import torch
from torch import nn

from ..errors import InputError
from ..model.encoder import Encoder
from .packed import packed_forward

# SmoothQuant's a: 0 puts all the range on the activations (every weight column scaled to a
# largest entry of 1), 1 all on the weights (every activation channel scaled to at most 1).
# 0.7 was chosen against 0.5 and no smoothing by all-MiniLM-L6-v2's STS-B dev Spearman;
# benchmarks/README.md ("Lower precision") holds the measurements, and
# `python benchmarks/precision.py --smoothing A|none` makes them again.
SMOOTHING = 0.7
Calibration = Iterable[tuple[torch.Tensor, torch.Tensor]]  # (input_ids, attention_mask), (B, T)


class SmoothedLinear(nn.Module):
    """x -> linear(x / s): the input scaling of SmoothQuant in front of a linear layer whose
    weight columns were multiplied by s. Same function as the original layer, in float."""

    def __init__(self, linear: nn.Linear, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("inverse_scale", 1.0 / scale)  # (d_in,)
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x * self.inverse_scale)


def int8_copy(encoder: Encoder, calibration: Calibration, smoothing: float | None = SMOOTHING
              ) -> Encoder:
    """A new encoder with the same weights, its linear layers smoothed (a = smoothing; None:
    not smoothed) and dynamically quantised to int8."""
    if importlib.util.find_spec("torch.ao.quantization") is None:
        raise InputError(f"int8 inference needs torch.ao.quantization, which torch "
                         f"{torch.__version__} does not have; use float32")
    if torch.backends.quantized.engine in (None, "none"):
        raise InputError("int8 inference: this torch build has no quantised kernels for this "
                         "CPU; use float32")
    model = copy.deepcopy(encoder).cpu().eval()
    stack_qkv(model)
    if smoothing is not None:
        smooth(model, input_maxima(model, calibration), smoothing)
    try:
        quantize_linears(model)
    except RuntimeError as error:  # e.g. no kernel for this CPU in this build
        raise InputError(f"int8 inference is not available here ({error}); use float32") from None
    if full_range_activations():
        use_full_range(model)
    return model


def quantize_linears(model: nn.Module) -> nn.Module:
    """Every nn.Linear of `model` replaced, in place, by torch's dynamic int8 layer with one
    weight scale per output row; returns `model`."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch marks torch.ao.quantization as deprecated in favour of the separate torchao
        # package; it still works in the torch versions we support, and we take no new dependency.
        warnings.filterwarnings("ignore", message=".*(deprecated|torchao).*")
        return quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, inplace=True)


class FullRangeInt8Linear(nn.Module):
    """A layer of quantize_dynamic's called with its activations rounded to all 8 bits instead
    of the 7 its forward asks for on x86 (see full_range_activations).

    (..., d_in) -> (..., d_out)"""

    def __init__(self, quantized: nn.Module):
        super().__init__()
        self.quantized = quantized  # torch.ao.nn.quantized.dynamic.Linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self.quantized._packed_params._packed_params  # int8 weights, row scales, bias
        return torch.ops.quantized.linear_dynamic(x, packed, reduce_range=False)


def use_full_range(model: nn.Module) -> None:
    """Wrap every dynamically quantised linear layer of `model` in a FullRangeInt8Linear."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    for name, module in list(model.named_modules()):
        if isinstance(module, DynamicInt8Linear):
            parent_name, _, attribute = name.rpartition(".")
            setattr(model.get_submodule(parent_name), attribute, FullRangeInt8Linear(module))


@functools.cache
def full_range_activations() -> bool:
    """Whether this CPU's int8 kernel multiplies activations of all 8 bits without overflow.

    FBGEMM, PyTorch's int8 kernel library on x86, multiplies unsigned 8-bit activations by
    signed 8-bit weights. On AVX2 and AVX-512 it adds each pair of neighbouring products in a
    16-bit integer first (the vpmaddubsw instruction), which saturates at 32,767: 255 x 127 x 2
    = 64,770 would not fit, 127 x 127 x 2 = 32,258 does. So torch rounds activations to 7 bits
    there (reduce_range). CPUs with VNNI (vpdpbusd) add the products in 32 bits, and 7 bits
    throw away half the resolution for nothing. Rather than read the CPU's flags, we ask the
    kernel: one product that overflows 16 bits where the pairs are added in 16, checked
    against its exact value. Set FBGEMM_ENABLE_INSTRUCTIONS=AVX2 to see the other answer."""
    size = 64
    probe = nn.Sequential(nn.Linear(size, 1, bias=False))
    with torch.no_grad():
        probe[0].weight.fill_(1.0)  # every weight becomes 127
    try:
        layer = FullRangeInt8Linear(quantize_linears(probe)[0])
        # ones: the range [0, 1] puts every activation at 255, the largest products there are
        got = layer(torch.ones(1, size)).item()
    except (RuntimeError, AttributeError):  # no such kernel or layout here: keep torch's 7 bits
        return False
    return abs(got - size) < 0.02 * size  # saturated pairs give about half


def stack_qkv(model: Encoder) -> None:
    """Replace each attention's Q, K and V layers by one (d -> 3d) layer (its stacked_qkv):
    one int8 product instead of three, and a quantised weight cannot be stacked on the fly."""
    for layer in model.layers:
        attention = layer.attention
        stacked = nn.Linear(attention.query.in_features, 3 * attention.query.out_features)
        with torch.no_grad():
            stacked.weight.copy_(torch.cat([attention.query.weight, attention.key.weight,
                                            attention.value.weight]))
            stacked.bias.copy_(torch.cat([attention.query.bias, attention.key.bias,
                                          attention.value.bias]))
        attention.stacked_qkv = stacked
        attention.query = attention.key = attention.value = None  # forward uses stacked_qkv


def smooth(model: nn.Module, maxima: dict[str, torch.Tensor], smoothing: float = SMOOTHING) -> None:
    """Wrap each measured linear layer in a SmoothedLinear: the same function in float, with
    its activation outliers moved into the weights. maxima: {layer name: (d_in,)}."""
    for name, maximum in maxima.items():
        parent_name, _, attribute = name.rpartition(".")
        parent, linear = model.get_submodule(parent_name), model.get_submodule(name)
        weight_maximum = linear.weight.detach().abs().amax(dim=0).clamp(min=1e-5)  # (d_in,)
        scale = maximum.clamp(min=1e-5) ** smoothing / weight_maximum ** (1 - smoothing)
        with torch.no_grad():
            linear.weight.mul_(scale)  # column j times s_j
        setattr(parent, attribute, SmoothedLinear(linear, scale))


def input_maxima(model: Encoder, calibration: Calibration) -> dict[str, torch.Tensor]:
    """Largest |input| per channel of every linear layer, {name: (d_in,)}, over the real
    tokens of the calibration batches (the packed path, so that padding does not count)."""
    maxima: dict[str, torch.Tensor] = {}

    def record(name):
        def hook(module, inputs):
            seen = inputs[0].detach().abs().flatten(0, -2).amax(dim=0)  # (d_in,)
            maxima[name] = torch.maximum(maxima[name], seen) if name in maxima else seen
        return hook

    hooks = [module.register_forward_pre_hook(record(name))
             for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    try:
        with torch.inference_mode():
            for input_ids, attention_mask in calibration:
                packed_forward(model, input_ids, attention_mask)
    finally:
        for hook in hooks:
            hook.remove()
    if not maxima:
        raise ValueError("int8_copy needs at least one calibration batch")
    return maxima


class WeightsVersion:
    """A snapshot that tells whether a module's weights changed since: any parameter replaced,
    written in place (optimizer steps, load_state_dict: torch counts in-place writes to a
    tensor in its `_version`) or given new storage (`.data = ...`). A write through `.data`
    is not counted by torch; a model whose weights are edited that way must drop its int8
    copy itself (SentenceEncoder.int8_cache = None)."""

    def __init__(self, module: nn.Module):
        self.parameters = list(module.parameters())  # held, so that no id can be reused
        self.state = [(parameter._version, parameter.data_ptr()) for parameter in self.parameters]

    def matches(self, module: nn.Module) -> bool:
        now = list(module.parameters())
        return (len(now) == len(self.parameters)
                and all(a is b for a, b in zip(now, self.parameters))
                and [(p._version, p.data_ptr()) for p in now] == self.state)
