"""Checks for multi-head self-attention: the learner's class against torch.nn.MultiheadAttention.

The learner writes a class like minitransformer.model.attention.MultiHeadAttention:
    MultiHeadAttention(hidden_size, num_heads, attention_dropout=0.0)
with four nn.Linear(d, d) named query, key, value and output, and
    forward(hidden (B, T, d), additive_mask (B, 1, 1, T) or None, return_weights=False)
returning (B, T, d), and also the weights (B, h, T, T) when return_weights is true.

Mistakes are named from the weights themselves: log-softmax weights are the scores up to a
constant per row, so comparing the learner's centred log-weights with the reference's gives
the factor by which the scores are off (8.0 = "not divided by sqrt(d_k)" when d_k = 64). A
projection used in the wrong place is found by giving torch's attention the same mistake (the
keys computed with the query layer, say); one never used, by changing its weights alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..model.attention import additive_padding_mask
from .core import (
    Check,
    CheckFailed,
    Component,
    Signature,
    call_without_mask,
    check_separate_modules,
    close,
    expect_shape,
    fit_factor,
    load_same_weights,
    max_difference,
    seeded,
    traced,
)
from .minilm import swapped_minilm_check

WIDTH, HEADS = 256, 4  # d_k = 64, so a missing 1/sqrt(d_k) shows as a factor 8
HEAD_SIZE = WIDTH // HEADS
TOLERANCE = 1e-5
LENGTHS = [7, 4, 2]  # real tokens per sequence of the padded batch (B=3, T=7)
PROJECTIONS = {  # each linear layer: what it makes, and the line that uses it
    "query": ("the queries are computed", "q = self.query(hidden)"),
    "key": ("the keys are computed", "k = self.key(hidden)"),
    "value": ("the values are computed", "v = self.value(hidden)"),
    "output": ("the merged heads are projected", "output = self.output(merged heads)"),
}


def build(candidate, num_heads: int = HEADS, seed: int = 0, dropout: float = 0.0):
    """The learner's attention and torch's, holding the same (seeded, large enough to give
    peaked attention) weights, both in eval mode."""
    torch.manual_seed(seed)
    learner = candidate(WIDTH, num_heads, dropout).eval()
    check_separate_modules(learner)
    linears = {}
    for name in PROJECTIONS:
        linear = getattr(learner, name, None)
        if (not isinstance(linear, nn.Linear) or linear.weight.shape != (WIDTH, WIDTH)
                or linear.bias is None):
            raise CheckFailed(f"{type(learner).__name__}({WIDTH}, {num_heads}) needs an "
                              f"nn.Linear({WIDTH}, {WIDTH}) with a bias named {name!r} (the "
                              "checks copy known weights into query, key, value and output); "
                              f"found {linear!r}",
                              look_at="__init__", near=(f"self.{name}",))
        linears[name] = linear
    with torch.no_grad():
        for linear in linears.values():
            # Scores of std ~0.5: peaked attention, and still no weight underflows to 0 when
            # a mistake makes them 8x larger (the diagnosis reads the log of the weights).
            nn.init.normal_(linear.weight, std=0.7 / math.sqrt(WIDTH))
            nn.init.normal_(linear.bias, std=0.1)
    return learner, torch_attention(linears, num_heads)


def torch_attention(linears: dict[str, nn.Linear], num_heads: int) -> nn.MultiheadAttention:
    """torch.nn.MultiheadAttention (eval mode) holding these query, key, value and output layers."""
    reference = nn.MultiheadAttention(WIDTH, num_heads, batch_first=True).eval()
    q, k, v, o = (linears[name] for name in PROJECTIONS)
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat([q.weight, k.weight, v.weight]))
        reference.in_proj_bias.copy_(torch.cat([q.bias, k.bias, v.bias]))
        reference.out_proj.weight.copy_(o.weight)
        reference.out_proj.bias.copy_(o.bias)
    return reference


def inputs(seed: int = 1):
    """A (3, 7, d) batch and its (3, 7) mask of 1 = token, 0 = padding."""
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(len(LENGTHS), max(LENGTHS), WIDTH, generator=generator)
    mask = torch.tensor([[1] * n + [0] * (max(LENGTHS) - n) for n in LENGTHS])
    return hidden, mask


def call(learner, hidden, additive_mask, heads: int = HEADS):
    """The learner's (output, weights), checked to be a pair of the right shapes."""
    with torch.no_grad():
        result = learner(hidden, additive_mask, return_weights=True)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed("forward(..., return_weights=True) must return a pair (output, weights), "
                          f"got {type(result).__name__}")
    batch, length, _ = hidden.shape
    output = expect_shape(result[0], (batch, length, WIDTH), "the output (B, T, d)")
    weights = expect_shape(result[1], (batch, heads, length, length), "the weights (B, h, T, T)")
    return output, weights


def reference_call(reference, hidden, mask=None):
    padding = None if mask is None else mask == 0
    with torch.no_grad():
        return reference(hidden, hidden, hidden, key_padding_mask=padding, need_weights=True,
                         average_attn_weights=False)


# ---- the checks ------------------------------------------------------------------------------

def check_shapes(candidate) -> str:
    learner, _ = build(candidate)
    hidden, _ = inputs()
    call_without_mask(lambda: call(learner, hidden, None), "additive_mask")
    with torch.no_grad():
        alone = learner(hidden, None)
    expect_shape(alone, hidden.shape, "forward(hidden, None) without return_weights")
    return f"output {tuple(hidden.shape)}, weights ({len(LENGTHS)}, {HEADS}, 7, 7)"


def check_softmax_rows(candidate) -> str:
    learner, _ = build(candidate)
    hidden, _ = inputs()
    _, weights = call(learner, hidden, None)
    if weights.min() < -1e-6:
        raise CheckFailed(f"attention weights go down to {weights.min():.3g}: weights come out "
                          "of a softmax and are never negative")
    rows = weights.sum(-1)
    if not close(rows, torch.ones_like(rows), 1e-4):
        axes = {-2: "each column of the weights sums to 1, not each row",
                1: "the softmax is over the heads (dim=1): the weights of one query and key "
                   "sum to 1 across the heads",
                0: "the softmax is over the batch (dim=0): the weights sum to 1 across the "
                   "sentences"}
        for axis, said in axes.items():
            sums = weights.sum(axis)
            if close(sums, torch.ones_like(sums), 1e-4):
                raise CheckFailed(f"{said}; take the softmax over the keys, the last dimension "
                                  "(softmax(dim=-1))", near=("softmax",))
        raise CheckFailed(f"rows of the weights sum to between {rows.min():.3f} and "
                          f"{rows.max():.3f}, not 1: each query's weights over the keys must be "
                          "a softmax", near=("softmax",))
    return "every query's weights over the keys sum to 1"


SCALE_LINE = ("sqrt", ("@", "transpose"), "@")  # where the scores are scaled, or computed


def diagnose_scores(weights, expected_weights) -> str:
    """Why the learner's weights differ from the reference's, as far as the weights tell."""
    centred = lambda w: (w.clamp(min=1e-30).log() - w.clamp(min=1e-30).log().mean(-1, keepdim=True))
    factor, misfit = fit_factor(centred(weights), centred(expected_weights))
    if misfit < 0.01:  # the learner's scores are a multiple of the right ones
        root = math.sqrt(HEAD_SIZE)
        if abs(factor / HEAD_SIZE - 1) < 0.02:
            return (f"scores are multiplied by sqrt(d_k) = {root:g} where they should be divided "
                    f"by it: the attention is {factor:.0f}x too peaked")
        if abs(factor / root - 1) < 0.02:
            return (f"scores are not divided by sqrt(d_k) = {root:g}: the attention is "
                    f"{factor:.1f}x too peaked")
        if abs(factor * root - 1) < 0.02:
            return (f"scores are divided by d_k = {HEAD_SIZE} instead of sqrt(d_k) = {root:g}: the "
                    f"attention is {1 / factor:.1f}x too flat")
        if abs(factor * math.sqrt(HEADS) - 1) < 0.02:
            return (f"scores are divided by sqrt(d) = {math.sqrt(WIDTH):g}, the whole width, "
                    f"instead of sqrt(d_k) = {root:g}, one head's width")
        return (f"scores are {factor:.2f}x the right ones: divide Q K^T by sqrt(d_k) = {root:g}, "
                "nothing else")
    return ""


def gentle_scores_mistake(candidate) -> str:
    """diagnose_scores with queries 64x smaller: scores wrong by a large factor (multiplied by
    sqrt(d_k) instead of divided, 64x) saturate the softmax at the usual size, where no factor can
    be read from the weights."""
    learner, _ = build(candidate)
    with torch.no_grad():
        learner.query.weight.div_(HEAD_SIZE)
        learner.query.bias.div_(HEAD_SIZE)
    reference = torch_attention({name: getattr(learner, name) for name in PROJECTIONS}, HEADS)
    hidden, _ = inputs()
    _, weights = call(learner, hidden, None)
    return diagnose_scores(weights, reference_call(reference, hidden)[1])


def check_against_torch(candidate) -> str:
    learner, reference = build(candidate)
    hidden, _ = inputs()
    output, weights = call(learner, hidden, None)
    expected, expected_weights = reference_call(reference, hidden)
    if not close(weights, expected_weights, TOLERANCE):
        reason = diagnose_scores(weights, expected_weights) or gentle_scores_mistake(candidate)
        if reason:
            raise CheckFailed(reason, near=SCALE_LINE)
        if heads_wrong(candidate):
            raise CheckFailed(f"with one head the attention is right, with {HEADS} it is not, and "
                              "the weights already differ: the heads are split wrongly; view "
                              "(B, T, d) as (B, T, h, d_k), then transpose to (B, h, T, d_k)",
                              near=(("reshape", "head_size"), ("view", "head_size"), "view",
                                    "reshape"))
        if keys_and_queries_swapped(learner, hidden, weights):
            raise CheckFailed("the scores are K Q^T: row i holds how key i matches every query; "
                              "compute Q K^T so that each query's row is softmaxed over the "
                              "keys", near=(("@", "transpose"), "@"))
        mistake, near = projection_mistake(learner, hidden)
        raise CheckFailed(mistake or f"attention weights differ from torch.nn.MultiheadAttention's "
                          f"by up to {max_difference(weights, expected_weights):.3g}",
                          near=near or SCALE_LINE)
    if not close(output, expected, TOLERANCE):
        if heads_wrong(candidate):
            raise CheckFailed(f"the weights are right but the output is not, and only with "
                              f"{HEADS} heads: the heads are merged back wrongly; transpose "
                              "(B, h, T, d_k) to (B, T, h, d_k) before reshaping to (B, T, d)",
                              near=("reshape", "view"))
        mistake, near = projection_mistake(learner, hidden)
        if mistake:
            raise CheckFailed(f"the weights are right but the output is not: {mistake}", near=near)
        raise CheckFailed(f"the weights are right but the output differs by up to "
                          f"{max_difference(output, expected):.3g}: the output is weights @ V "
                          "per head, heads merged back to (B, T, d), then the output projection",
                          near=(("@", 2), "return"))
    return f"outputs and weights within {TOLERANCE:g}"


def heads_wrong(candidate) -> bool:
    """True when one head matches torch and several do not: the split or merge is wrong."""
    hidden, _ = inputs()
    one, reference = build(candidate, num_heads=1)
    output, _ = call(one, hidden, None, heads=1)
    return close(output, reference_call(reference, hidden)[0], TOLERANCE)


def projection_mistake(learner, hidden) -> tuple[str, tuple]:
    """Which of query, key, value and output forward uses wrongly, and where to look, or
    ('', ()): first a layer used in another's place (torch's attention given the same mix-up
    gives the learner's output), then a layer never used (changing its weights alone leaves the
    output as it was)."""
    linears = {name: getattr(learner, name) for name in PROJECTIONS}
    with torch.no_grad():
        output = learner(hidden, None)
    for role, (made, line) in PROJECTIONS.items():
        for source in (name for name in PROJECTIONS if name != role):
            mixed_up = torch_attention(linears | {role: linears[source]}, HEADS)
            if close(output, reference_call(mixed_up, hidden)[0], 1e-4):
                # the second use of self.source is the one in self.role's place
                return (f"{made} with self.{source}, where self.{role} belongs: {line}",
                        ((f"self.{source}", 2), f"self.{source}"))
    for role, (_, line) in PROJECTIONS.items():
        weight = linears[role].weight
        saved = weight.detach().clone()
        with torch.no_grad():
            weight.add_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(2)))
            changed = learner(hidden, None)
            weight.copy_(saved)
        if close(changed, output, 1e-6):
            near = ("reshape", "view") if role == "output" else ("@",)
            return (f"changing self.{role}'s weights does not change the output: forward never "
                    f"uses it; {line}", near)
    return "", ()


def scores_of(learner, hidden) -> torch.Tensor:
    """The scaled scores Q K^T / sqrt(d_k) (B, h, T, T) of the learner's query and key layers."""
    with torch.no_grad():
        q = learner.query(hidden).view(*hidden.shape[:2], -1, HEAD_SIZE).transpose(1, 2)
        k = learner.key(hidden).view(*hidden.shape[:2], -1, HEAD_SIZE).transpose(1, 2)
        return q @ k.transpose(-2, -1) / math.sqrt(HEAD_SIZE)


def keys_and_queries_swapped(learner, hidden, weights) -> bool:
    return close(weights, scores_of(learner, hidden).transpose(-2, -1).softmax(-1), 1e-4)


def check_padding(candidate) -> str:
    learner, reference = build(candidate)
    hidden, mask = inputs()
    output, weights = call(learner, hidden, additive_padding_mask(mask, hidden.dtype))
    expected, expected_weights = reference_call(reference, hidden, mask)
    if not close(weights, expected_weights, TOLERANCE):
        message, near = padding_mistake(learner, hidden, mask, weights)
        raise CheckFailed(message, near=near)
    if not close(output, expected, TOLERANCE):
        raise CheckFailed(f"with padding the output differs from torch.nn.MultiheadAttention with "
                          f"key_padding_mask by up to {max_difference(output, expected):.3g}",
                          near=("additive_mask",))
    return "padded keys get weight 0; outputs match torch with key_padding_mask"


def padding_mistake(learner, hidden, mask, weights) -> tuple[str, tuple]:
    """What the learner's weights (B, h, T, T) with padding tell about how the mask is used, and
    where to look."""
    additive = additive_padding_mask(mask, hidden.dtype)  # (B, 1, 1, T): one entry per key
    padded_keys = (mask == 0)[:, None, None, :].expand_as(weights)  # (B, h, T, T)
    share_on_padding = weights.nan_to_num(0.0).where(padded_keys, 0.0).sum(-1)  # (B, h, T)
    on_padding = weights[padded_keys]
    rows = weights.sum(-1)
    scores = scores_of(learner, hidden)
    at_the_mask = ("additive_mask",)
    if close(weights, (scores + additive.transpose(-2, -1)).softmax(-1), 1e-4):
        return ("the mask is added along the query axis: additive_mask (B, 1, 1, T) has one entry "
                "per key and broadcasts over the queries as it is; transposed to (B, 1, T, 1) it "
                "blanks the rows of padded queries instead, and real queries still give padded "
                f"keys weight {share_on_padding.max():.2f}; add it as it is: "
                "scores + additive_mask", at_the_mask)
    multiplied = (scores * additive).softmax(-1)  # NaN where a huge score meets another
    if torch.equal(weights.isnan(), multiplied.isnan()) and close(
            weights.nan_to_num(0.0), multiplied.nan_to_num(0.0), 1e-4):
        return ("the mask is multiplied with the scores: additive_mask is 0 for real tokens, so "
                "their scores become 0 (and padded ones huge or NaN); it is added: "
                "scores + additive_mask", at_the_mask)
    if (share_on_padding[mask.min(dim=1).values == 0] > 1 - 1e-4).all():
        return ("the mask is inverted: padded keys get all the weight and real tokens none; "
                "additive_mask is already 0 for real tokens and very negative for padding, so add "
                "it to the scores as it is (no minus sign, no == 0 test, no 1 - mask)", at_the_mask)
    if (not torch.isfinite(weights).all() or on_padding.min() < -1e-6
            or not close(rows, torch.ones_like(rows), 1e-4)):
        if on_padding.abs().max() < 1e-6:
            return (f"padded keys are zeroed after the softmax, so rows sum to "
                    f"{rows.min():.2f}, not 1: add the mask to the scores before the softmax",
                    at_the_mask)
        return (f"with padding the weights are no softmax (padded keys get "
                f"{on_padding.min():.3g}): the mask is added after the softmax; add it to the "
                "scores before", at_the_mask)
    if close(weights, scores.softmax(-1), 1e-4):
        return (f"padded keys receive weight {on_padding.max():.2f}, as if there were no mask: "
                "additive_mask is not used; add it to the scores before the softmax",
                (("additive_mask", "+"), "softmax"))
    return (f"with padding the weights differ from torch.nn.MultiheadAttention's with "
            f"key_padding_mask (padded keys receive weight {on_padding.max():.2f}); add "
            "additive_mask (B, 1, 1, T) to the scores (B, h, T, T) before the softmax",
            at_the_mask)


def check_padding_invariance(candidate) -> str:
    learner, _ = build(candidate)
    hidden, mask = inputs()
    hidden[mask == 0] = 1000.0  # whatever sits in the padding must not matter
    length = LENGTHS[1]
    padded, _ = call(learner, hidden, additive_padding_mask(mask, hidden.dtype))
    alone, _ = call(learner, hidden[1:2, :length], None)
    worst = max_difference(padded[1, :length], alone[0])
    if worst > TOLERANCE:
        raise CheckFailed(f"a sequence's real tokens change by {worst:.3g} when it is padded: "
                          "whatever is in the padding must not leak into them",
                          near=("additive_mask",))
    return "a padded sequence's tokens equal the same sequence unpadded"


def check_all_padding(candidate) -> str:
    learner, _ = build(candidate)
    hidden, _ = inputs()
    mask = torch.zeros(len(LENGTHS), max(LENGTHS), dtype=torch.long)
    output, _ = call(learner, hidden, additive_padding_mask(mask, hidden.dtype))
    if not torch.isfinite(output).all():
        raise CheckFailed("a sequence that is all padding gives NaN or inf: keep the mask finite "
                          "(the most negative float, as additive_padding_mask makes it, not -inf)",
                          near=("inf", "additive_mask"))
    return "a sequence with no real token stays finite"


def by_hand(linears: dict[str, nn.Linear], hidden: torch.Tensor, drops: dict[str, list[float]]
            ) -> torch.Tensor:
    """The attention (no mask) written out with the learner's four layers, and F.dropout at
    each place of `drops` ({"scores", "weights", "values", "context", "output"}: the rates
    applied there, in order). {"weights": [p]} is the attention of the exercise in training."""
    def drop(place, tensor):
        for rate in drops.get(place, ()):
            tensor = F.dropout(tensor, rate, training=True)
        return tensor
    batch, length, _ = hidden.shape
    split = lambda x: x.view(batch, length, HEADS, HEAD_SIZE).transpose(1, 2)  # (B, h, T, d_k)
    q, k = split(linears["query"](hidden)), split(linears["key"](hidden))
    v = drop("values", split(linears["value"](hidden)))
    scores = drop("scores", q @ k.transpose(-2, -1) / math.sqrt(HEAD_SIZE))  # (B, h, T, T)
    context = drop("context", drop("weights", scores.softmax(-1)) @ v)  # (B, h, T, d_k)
    merged = context.transpose(1, 2).reshape(batch, length, WIDTH)  # (B, T, d)
    return drop("output", linears["output"](merged))


def dropout_mistakes(rate: float) -> list[tuple[str, dict[str, list[float]]]]:
    """Known ways to get attention dropout wrong at rate `rate`: (message, where F.dropout acts)."""
    said = f"attention_dropout = {rate:g}"
    mistakes = [
        (f"with {said} in training the attention weights get no dropout: apply "
         "F.dropout(weights, p, training=self.training) after the softmax", {}),
        ("dropout is on the scores, before the softmax: the weights then no longer sum to 1 "
         "(a dropped score becomes 0, not -inf); drop the weights after the softmax",
         {"scores": [rate]}),
        ("dropout is on the values V, not on the attention weights: drop the weights after the "
         "softmax, so that each query loses whole keys", {"values": [rate]}),
        ("dropout is on the output of weights @ V, not on the attention weights: drop the weights "
         "after the softmax, before they multiply V", {"context": [rate]}),
        ("dropout is on the output of the output projection, not on the attention weights: drop "
         "the weights after the softmax (the encoder layer drops the attention's output itself)",
         {"output": [rate]}),
        (f"dropout is applied twice to the attention weights ({said} each time): once, "
         "F.dropout(weights, p, training=self.training)", {"weights": [rate, rate]}),
        (f"the dropout rate is 1 - attention_dropout = {1 - rate:g}: p is the probability to drop "
         "a weight, not to keep it", {"weights": [1 - rate]}),
    ]
    for fixed in (0.1, 0.5):
        if fixed != rate:
            mistakes.append((f"the rate is {fixed:g}, not {said}: use the rate the module was "
                             "built with, self.attention_dropout", {"weights": [fixed]}))
    return mistakes


def check_dropout(candidate) -> str:
    hidden, _ = inputs()
    learner, _ = build(candidate, dropout=0.5)
    with torch.no_grad():
        plain, again = learner(hidden, None), learner(hidden, None)
    if not close(plain, again, 0.0):
        raise CheckFailed("with attention_dropout = 0.5 the output in eval mode changes between "
                          "calls: dropout must act only in training "
                          "(F.dropout(..., training=self.training))", near=("dropout",))
    compared = "the same masks as F.dropout with the same seed"
    for rate in (0.0, 0.3):
        learner, _ = build(candidate, dropout=rate)
        linears = {name: getattr(learner, name) for name in PROJECTIONS}
        learner.train()
        output, ran = traced(lambda: seeded(lambda: learner(hidden, None), seed=3))
        right = seeded(lambda: by_hand(linears, hidden, {"weights": [rate]}), seed=3)
        if close(output, right, TOLERANCE):
            continue
        near = ("dropout", "attention_dropout", "rand_like", "bernoulli", "softmax")
        for message, drops in dropout_mistakes(rate):
            if close(output, seeded(lambda: by_hand(linears, hidden, drops), seed=3), TOLERANCE):
                raise CheckFailed(message, near=near, ran=ran)
        if rate == 0.0:
            raise CheckFailed("with attention_dropout = 0 the output in training differs from the "
                              f"output without dropout by up to {max_difference(output, right):.3g}"
                              ": a dropout rate is not taken from attention_dropout", near=near,
                              ran=ran)
        # dropout that draws its random numbers its own way: read the weights it used
        mistake = dropped_weights_mistake(learner, hidden, output, rate)
        if mistake:
            raise CheckFailed(mistake, near=near, ran=ran)
        compared = "your own masks, read back from the output: each weight 0 or weight / (1 - p)"
    return f"in training only, at attention_dropout (0 and 0.3), on the weights ({compared})"


def dropped_weights_mistake(learner, hidden: torch.Tensor, output: torch.Tensor,
                            rate: float) -> str:
    """What is wrong with a training output whose dropout drew its random numbers otherwise
    than F.dropout, or '' if nothing is. The output layer is invertible and each head's T
    values are independent (T <= d_k), so the weights (B, h, T, T) the output was made with
    can be solved for: dropout on the weights leaves each one 0 or weight / (1 - p)."""
    batch, length, _ = hidden.shape
    split = lambda x: x.view(batch, length, HEADS, HEAD_SIZE).transpose(1, 2)  # (B, h, T, d_k)
    with torch.no_grad():
        layer = learner.output
        merged = torch.linalg.solve(layer.weight.double(),
                                    (output.double() - layer.bias.double()).mT).mT  # (B, T, d)
        context = split(merged)  # (B, h, T, d_k)
        values = split(learner.value(hidden)).double()  # (B, h, T, d_k)
        used = context @ torch.linalg.pinv(values)  # (B, h, T, T): used @ values = context
        unexplained = ((context - used @ values).norm() / context.norm()).item()
        weights = scores_of(learner, hidden).softmax(-1).double()  # (B, h, T, T), all > 0
    if unexplained > 1e-3:
        return (f"with attention_dropout = {rate:g} in training the output is no weighting of the "
                f"values V ({unexplained:.0%} of it is not): dropout acts on the values, on "
                "weights @ V or on the output; it belongs on the weights after the softmax")
    ratio = used / weights  # 0 where dropped, 1 / (1 - p) where kept
    dropped = ratio.abs() < 1e-3
    kept = ratio[~dropped]
    scale = kept.mean().item() if kept.numel() else 0.0
    if kept.numel() and (kept - scale).abs().max() > 1e-3 * scale:
        if torch.allclose(used.sum(-1), torch.ones_like(used.sum(-1)), atol=1e-4):
            return ("in training the weights are still a softmax but not the dropped ones: "
                    "dropout acts on the scores, before the softmax; it belongs on the weights "
                    "after it")
        return ("in training the weights are not the attention weights with some dropped (0) "
                "and the rest scaled by 1 / (1 - p): apply dropout once, to the weights after "
                "the softmax")
    share = dropped.double().mean().item()
    if abs(scale - 1) < 1e-3 and share > 0:
        return (f"the kept weights are not scaled by 1 / (1 - p) = {1 / (1 - rate):.3g}: dropout "
                "divides what it keeps by 1 - p, so that each weight keeps its expected value")
    if abs(scale * (1 - rate) ** 2 - 1) < 1e-3:
        return (f"dropout is applied twice to the attention weights (attention_dropout = {rate:g} "
                "each time): once, F.dropout(weights, p, training=self.training)")
    if abs(scale * (1 - rate) - 1) > 1e-3 or abs(share - rate) > 0.1:
        return (f"in training {share:.0%} of the weights are dropped and the rest scaled by "
                f"{scale:.3g}: dropout at attention_dropout = {rate:g} drops about {rate:.0%} "
                f"and scales by 1 / (1 - p) = {1 / (1 - rate):.3g}")
    return ""


def swap_attention(model, candidate) -> None:
    """Replace every layer's attention of the model's encoder by the learner's, same weights."""
    config = model.encoder.config
    for layer in model.encoder.layers:
        learner = candidate(config.hidden_size, config.num_heads)
        load_same_weights(learner, layer.attention)
        layer.attention = learner.eval()


COMPONENT = Component(
    name="attention",
    writes="a class like minitransformer.model.attention.MultiHeadAttention",
    ours="minitransformer/model/attention.py:MultiHeadAttention",
    signature=Signature(
        "a class MultiHeadAttention(hidden_size, num_heads, attention_dropout=0.0) with forward("
        "hidden (B, T, d), additive_mask (B, 1, 1, T) or None, return_weights=False) -> (B, T, d), "
        "and the weights (B, h, T, T) too when return_weights",
        methods={"__init__": (3, ()), "forward": (2, ("return_weights",))}),
    checks=[
        Check("query, key, value, output and shapes", check_shapes, look_at="forward"),
        Check("the weights are a softmax over the keys", check_softmax_rows, look_at="forward"),
        Check("against torch.nn.MultiheadAttention, no padding", check_against_torch,
              look_at="forward"),
        Check("against torch.nn.MultiheadAttention, with padding", check_padding,
              look_at="forward"),
        Check("padding invariance", check_padding_invariance, look_at="forward"),
        Check("a sequence that is all padding", check_all_padding, look_at="forward"),
        Check("attention dropout: where, how much, only in training", check_dropout,
              look_at="forward"),
        swapped_minilm_check(swap_attention, "this attention in every layer"),
    ],
)
