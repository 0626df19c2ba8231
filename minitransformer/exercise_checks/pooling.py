"""Checks for masked mean pooling: token states (B, T, d) and a mask (B, T) of 1 = token,
0 = padding -> one vector per sentence (B, d), the mean of its real tokens' states.

The learner writes a function like
minitransformer.model.pooling.mean_pooling(states, attention_mask).
The references are small cases computed by hand, then all-MiniLM-L6-v2's sentence embeddings
with the learner's pooling against sentence-transformers' stored ones. The hand-made batch has
B = 2, T = 3 and d = 4, all different, so that a tensor of the wrong shape cannot broadcast into
the right one by accident (a (B,) count divides a (B, d) sum only when B = d).
"""

from __future__ import annotations

import torch

from .core import (
    Check,
    CheckFailed,
    Component,
    Signature,
    close,
    expect_shape,
    learner_error,
    listed,
)
from .minilm import swapped_minilm_check

# Two sentences of T = 3: the first has 2 real tokens and a padded one holding junk.
STATES = torch.tensor([  # (B=2, T=3, d=4)
    [[1.0, 2.0, 0.0, -1.0], [3.0, 4.0, 2.0, 1.0], [100.0, -100.0, 50.0, 7.0]],
    [[-1.0, 5.0, 1.0, 0.0], [7.0, -3.0, 2.0, 2.0], [2.0, 0.0, -3.0, 4.0]],
])
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]])
BY_HAND = torch.tensor([[(1 + 3) / 2, (2 + 4) / 2, (0 + 2) / 2, (-1 + 1) / 2],  # padding left out
                        [(-1 + 7 + 2) / 3, (5 - 3 + 0) / 3, (1 + 2 - 3) / 3, (0 + 2 + 4) / 3]])


def pool(candidate, states, mask):
    try:
        with torch.no_grad():
            pooled = candidate(states.clone(), mask.clone())
    except RuntimeError as error:  # most often tensors that do not broadcast
        message = learner_error(error)
        if message is None or "must match the size" not in str(error):
            raise
        raise CheckFailed(f"{message}. The shapes do not broadcast: states are (B, T, d) = "
                          f"{tuple(states.shape)} and the mask (B, T) = {tuple(mask.shape)}; give "
                          "the mask a last axis, mask[..., None] (B, T, 1), to multiply the "
                          "states, and keep the count of real tokens (B, 1), "
                          "sum(dim=1, keepdim=True), to divide the (B, d) sum",
                          look_at="") from None
    batch, _, width = states.shape
    if isinstance(pooled, torch.Tensor) and tuple(pooled.shape) == (batch, states.shape[1]):
        raise CheckFailed(f"the pooled vectors have shape {tuple(pooled.shape)} = (B, T): that is "
                          "the mean over the features; average over the tokens, dimension 1",
                          near=("mean", "return"))
    return expect_shape(pooled, (batch, width), "the pooled vectors (B, d)")


def check_no_padding(candidate) -> str:
    full = torch.ones_like(MASK)
    pooled = pool(candidate, STATES, full)
    if close(pooled, STATES.mean(dim=1), 1e-6):
        return "the plain mean of the tokens"
    tokens = STATES.shape[1]
    mistakes = [
        (torch.zeros_like(pooled), "with every token real the result is 0: the mask is inverted; "
         "attention_mask is 1 for a real token and 0 for padding", ("attention_mask",)),
        (STATES.sum(dim=1), "the vectors are sums, not means: divide by the number of real "
                            "tokens", ("return",)),
        (STATES.sum(dim=1) / full.sum(), f"the sums are divided by the number of real tokens in "
         f"the whole batch ({full.sum()}), not in each sentence ({tokens}): sum the mask over "
         "the tokens only, dim=1", (("sum", 2), "/")),
    ]
    for wrong, message, near in mistakes:
        if close(pooled, wrong, 1e-6):
            raise CheckFailed(message, near=near)
    raise CheckFailed(f"with no padding the result should be the plain mean of the tokens, "
                      f"{listed(STATES.mean(dim=1))}; got {listed(pooled)}", near=("return",))


def check_padding(candidate) -> str:
    pooled = pool(candidate, STATES, MASK)
    if close(pooled, BY_HAND, 1e-5):
        return f"by hand: {listed(BY_HAND)}"
    if close(pooled, STATES.mean(dim=1), 1e-5):
        raise CheckFailed("the mean includes padding: sentence 0 has 2 real tokens of 3, and its "
                          f"vector is the mean of all 3 ({listed(pooled[0])} instead of "
                          f"{listed(BY_HAND[0])})", near=("mean", "return"))
    zeroed_over_all = (STATES * MASK[..., None]).sum(dim=1) / STATES.shape[1]
    if close(pooled, zeroed_over_all, 1e-5):
        raise CheckFailed("padded tokens are zeroed but the sum is divided by all T = 3 positions: "
                          "divide by each sentence's number of real tokens (2 for sentence 0)",
                          near=(("/", "shape"), "/"))
    raise CheckFailed(f"expected {listed(BY_HAND)} (mean of each sentence's real tokens), "
                      f"got {listed(pooled)}", near=("return",))


def check_mask_types(candidate) -> str:
    for mask in (MASK.bool(), MASK.float(), MASK.int()):
        pooled = pool(candidate, STATES, mask)
        if pooled.dtype != STATES.dtype or not close(pooled, BY_HAND, 1e-5):
            raise CheckFailed(f"with a {mask.dtype} mask the result is {listed(pooled)} "
                              f"({pooled.dtype}): convert the mask to the states' dtype first",
                              near=("attention_mask",))
    return "long, int, bool and float masks give the same float vectors"


def check_inputs_unchanged(candidate) -> str:
    states, mask = STATES.clone(), MASK.clone()
    with torch.no_grad():
        candidate(states, mask)
    if not (torch.equal(states, STATES) and torch.equal(mask, MASK)):
        raise CheckFailed("the pooling changed its inputs in place (e.g. states *= mask): the "
                          "encoder's states are used again elsewhere; compute into new tensors",
                          near=("mul_", "masked_fill_", "mul", "masked_fill"))
    return "states and mask untouched"


def check_empty_sentence(candidate) -> str:
    mask = torch.tensor([[0, 0, 0], [1, 0, 0]])
    pooled = pool(candidate, STATES, mask)
    if not torch.isfinite(pooled).all():
        raise CheckFailed("a sentence with no real token gives NaN (0 / 0): clamp the token count "
                          "to a small positive number, so its vector is 0",
                          near=("clamp", ("sum", 2), "/"))
    if not close(pooled[1], STATES[1, 0], 1e-6):
        raise CheckFailed(f"a sentence with one real token must get that token's state "
                          f"{listed(STATES[1, 0])}, got {listed(pooled[1])}", near=("/", "return"))
    return "no NaN when a row has no real token"


def swap_pooling(model, candidate) -> None:
    model.pool = candidate


COMPONENT = Component(
    name="pooling",
    writes="a function like minitransformer.model.pooling.mean_pooling(states, attention_mask)",
    ours="minitransformer/model/pooling.py:mean_pooling",
    signature=Signature("mean_pooling(states (B, T, d), attention_mask (B, T)) -> (B, d)",
                        function=(2, ())),
    checks=[
        Check("no padding: the plain mean", check_no_padding),
        Check("padding left out of the mean (hand-computed)", check_padding),
        Check("any mask dtype", check_mask_types),
        Check("inputs not changed in place", check_inputs_unchanged),
        Check("a sentence with no real token", check_empty_sentence),
        swapped_minilm_check(swap_pooling, "this pooling"),
    ],
)
