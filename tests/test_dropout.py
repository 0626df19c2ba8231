"""dropout.py: the cheap mask drops with the stated probability, independently per value, keeps
the expectation, routes the gradient like F.dropout, and the written-out attention equals
PyTorch's kernel given the same mask."""

import math

import pytest
import torch
import torch.nn.functional as F

from minitransformer.fast.dropout import (
    LEVELS,
    Dropout,
    dropout,
    keep_mask,
    scaled_dot_product_attention,
)

COUNT = 400_000  # values per statistical test: a standard error of 0.0005 on a rate of 0.1


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_each_value_is_dropped_with_probability_p_independently_of_its_neighbours(p):
    torch.manual_seed(0)
    keep, scale = keep_mask((COUNT,), p, torch.device("cpu"))
    rounded = round(p * LEVELS) / LEVELS
    assert scale == pytest.approx(1 / (1 - rounded), rel=1e-12)
    kept = keep.double()
    error = 5 * math.sqrt(p * (1 - p) / COUNT)  # five standard errors
    assert abs(kept.mean().item() - (1 - p)) < error
    # Four values share one 64-bit word: each position in the word, and each pair of
    # neighbours (within a word and across words), must behave as independent draws.
    for position in range(4):
        assert abs(kept[position::4].mean().item() - (1 - p)) < 2 * error
    for shift in (1, 2, 3, 4):
        both = (kept[:-shift] * kept[shift:]).mean().item()
        assert abs(both - (1 - p) ** 2) < 2 * error, shift


def test_kept_values_are_scaled_so_the_expectation_stays_and_the_rest_are_zero():
    torch.manual_seed(1)
    x = torch.rand(COUNT) + 1.0
    out = dropout(x, 0.2)
    kept = out != 0
    scale = LEVELS / (LEVELS - round(0.2 * LEVELS))
    torch.testing.assert_close(out[kept], x[kept] * scale)
    assert abs(out.mean().item() / x.mean().item() - 1) < 0.01


def test_the_same_seed_gives_the_same_mask_and_another_seed_another():
    x = torch.ones(64, 33)  # a count that is not a multiple of four
    masks = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        masks.append(dropout(x, 0.5) != 0)
    assert torch.equal(masks[0], masks[1]) and not torch.equal(masks[0], masks[2])


def test_evaluation_and_p_zero_are_the_identity_and_p_one_zeroes():
    x = torch.randn(3, 5)
    assert dropout(x, 0.5, training=False) is x and dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    layer = Dropout(0.5).eval()
    assert torch.equal(layer(x), x) and repr(layer) == "Dropout(p=0.5, inplace=False)"


def test_the_gradient_passes_where_the_value_was_kept_times_the_scale():
    x = torch.randn(50, 40, requires_grad=True)
    torch.manual_seed(2)
    out = dropout(x, 0.25)
    out.backward(torch.ones_like(out))
    factor = out.detach() / x.detach()  # 0 or the scale, per value
    torch.testing.assert_close(x.grad, factor)


def attention_inputs(seed=0, batch=3, heads=2, length=7, head_size=4):
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, length, head_size, generator=generator)
               for _ in range(3))
    mask = torch.ones(batch, length)
    mask[1, 4:] = 0
    mask[2, 2:] = 0
    additive = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
    return q, k, v, additive


def test_attention_without_dropout_is_pytorchs_kernel():
    q, k, v, mask = attention_inputs()
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask, 0.0),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_attention_with_dropout_is_the_formula_with_the_same_mask():
    q, k, v, mask = attention_inputs(seed=3)
    torch.manual_seed(4)
    got = scaled_dot_product_attention(q, k, v, mask, 0.4)
    # the reference, written independently: softmax(QK^T / sqrt(d_k) + mask), the same mask
    # drawn again from the same seed, then the weighted sum of the values
    weights = torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q, k) / 2.0 + mask, dim=-1)
    torch.manual_seed(4)
    keep, scale = keep_mask(weights.shape, 0.4, weights.device)
    expected = torch.einsum("bhqk,bhkd->bhqd", weights * keep * scale, v)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(got, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
