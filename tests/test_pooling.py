"""Max and CLS pooling, and the choice by name; mean pooling is checked by tests/test_checks.py
(the pooling component: hand-computed cases, padding, MiniLM's embeddings)."""

import pytest
import torch

from minitransformer.model.pooling import cls_pooling, get_pooling, max_pooling

STATES = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, -100.0]],
                       [[-1.0, 5.0], [7.0, -3.0], [2.0, 0.0]]])  # (B=2, T=3, d=2)
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]])


def test_max_and_cls_pooling_hand_computed():
    torch.testing.assert_close(max_pooling(STATES, MASK), torch.tensor([[3.0, 4.0], [7.0, 5.0]]))
    torch.testing.assert_close(cls_pooling(STATES, MASK), torch.tensor([[1.0, 2.0], [-1.0, 5.0]]))


@pytest.mark.parametrize("name", ["mean", "max", "cls"])
def test_all_padding_rows_are_finite(name):
    mask = torch.tensor([[0, 0, 0], [1, 0, 0]])
    pooled = get_pooling(name)(STATES, mask)
    assert torch.isfinite(pooled).all()
    if name != "cls":
        assert torch.equal(pooled[0], torch.zeros(2))


def test_unknown_pooling():
    with pytest.raises(ValueError, match="unknown pooling 'sum'"):
        get_pooling("sum")
