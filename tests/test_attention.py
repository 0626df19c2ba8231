"""Our attention beyond what `python -m minitransformer.check attention` checks
(tests/test_checks.py runs those on it: against nn.MultiheadAttention, padding, MiniLM): each
fast path against the hand-written reference (eval mode, with padding), and edge cases. The
packed path is checked in tests/test_packed.py, the int8 copy's rounding in
tests/test_quantize.py."""

import pytest
import torch
from torch import nn

from minitransformer.model.attention import MultiHeadAttention, additive_padding_mask

WIDTH, HEADS = 32, 4


def make_pair(seed=0):
    """Our attention and torch.nn.MultiheadAttention holding the same weights."""
    torch.manual_seed(seed)
    ours = MultiHeadAttention(WIDTH, HEADS).eval()
    for linear in (ours.query, ours.key, ours.value, ours.output):
        nn.init.normal_(linear.weight, std=0.2)
        nn.init.normal_(linear.bias, std=0.2)
    reference = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True).eval()
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight,
                                                  ours.value.weight]))
        reference.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        reference.out_proj.weight.copy_(ours.output.weight)
        reference.out_proj.bias.copy_(ours.output.bias)
    return ours, reference


def padded_batch():
    torch.manual_seed(1)
    x = torch.randn(3, 7, WIDTH)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5])
    return x, mask


# Float32 sums taken in another order differ in the last bits; outputs here are of order 1.
CLOSE = dict(atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("padded", [True, False], ids=["padding", "no mask"])
def test_fused_path_equals_hand_written(padded):
    ours, _ = make_pair()
    x, mask = padded_batch()
    additive = additive_padding_mask(mask, x.dtype) if padded else None
    expected, _ = ours.attend_step_by_step(x, additive)
    ours.fused = True
    torch.testing.assert_close(ours(x, additive), expected, **CLOSE)


def test_stacked_qkv_path_equals_hand_written_with_padding():
    """The path of an int8 copy, before rounding: one (d -> 3d) layer holding Q, K and V."""
    ours, _ = make_pair()
    x, mask = padded_batch()
    additive = additive_padding_mask(mask, x.dtype)
    expected = ours(x, additive)
    stacked = nn.Linear(WIDTH, 3 * WIDTH)
    with torch.no_grad():
        stacked.weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))
        stacked.bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
    ours.stacked_qkv = stacked
    ours.query = ours.key = ours.value = None  # as quantize.stack_qkv leaves it
    torch.testing.assert_close(ours(x, additive), expected, **CLOSE)
    with pytest.raises(ValueError, match="int8 copy"):
        ours(x, additive, return_weights=True)


def test_asking_for_weights_takes_the_hand_written_path_even_when_fused():
    ours, _ = make_pair()
    x, mask = padded_batch()
    additive = additive_padding_mask(mask, x.dtype)
    expected_output, expected_weights = ours(x, additive, return_weights=True)
    ours.fused = True
    output, weights = ours(x, additive, return_weights=True)
    assert torch.equal(output, expected_output) and torch.equal(weights, expected_weights)
    padded_keys = weights[2, :, :, 2:]  # (h, T, 5): the third sentence's padded keys
    assert padded_keys.abs().max() == 0.0


@pytest.mark.parametrize("fused", [False, True])
def test_row_of_only_padding_gives_no_nan(fused):
    ours, _ = make_pair()
    ours.fused = fused
    x = torch.randn(2, 5, WIDTH)
    mask = torch.tensor([[0, 0, 0, 0, 0], [1, 1, 0, 0, 0]])
    assert torch.isfinite(ours(x, additive_padding_mask(mask, x.dtype))).all()


def test_width_must_divide_into_heads():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(30, 4)
