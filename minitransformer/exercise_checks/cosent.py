"""Checks for the CoSENT loss (Su 2022) of a batch of sentence pairs:

    loss = log(1 + sum over (i, j) with gold_i > gold_j of exp(scale * (cos_j - cos_i)))

Only the order matters: every pair that should rank above another but has a lower cosine adds
to the loss. The learner writes a function like
    cosent_loss(cosines (B,), scores (B,), scale=20.0) -> a scalar tensor;
our SimilarityObjective (a class whose .loss does it) is accepted too. The reference is the
formula summed pair by pair in float64 Python, and its gradient written out by hand.
"""

from __future__ import annotations

import inspect
import math

import torch

from .core import Check, CheckFailed, Component, Signature, as_tensor

# A hand-sized batch: pair 0 should rank above 1 and 2; 1 and 2 are tied (no order between them).
COSINES = [0.9, 0.1, 0.5, 0.3]
SCORES = [5.0, 1.0, 1.0, 3.0]
SCALE = 2.0


def reference_loss(cosines, scores, scale: float) -> float:
    """The formula, pair by pair; log(1 + sum) computed stably as m + log(e^-m + sum e^(x - m))."""
    terms = [scale * (cosines[j] - cosines[i])
             for i in range(len(scores)) for j in range(len(scores))
             if scores[i] > scores[j]]
    top = max(terms + [0.0])
    return top + math.log(math.exp(-top) + math.fsum(math.exp(term - top) for term in terms))


def reference_gradient(cosines, scores, scale: float) -> list[float]:
    """d loss / d cos_k: each term's share of the sum, times scale, pushes cos_j down and
    cos_i up."""
    pairs = [(i, j) for i in range(len(scores)) for j in range(len(scores))
             if scores[i] > scores[j]]
    terms = [scale * (cosines[j] - cosines[i]) for i, j in pairs]
    top = max(terms + [0.0])
    total = math.exp(-top) + math.fsum(math.exp(term - top) for term in terms)
    gradient = [0.0] * len(cosines)
    for (i, j), term in zip(pairs, terms):
        share = math.exp(term - top) / total
        gradient[j] += scale * share
        gradient[i] -= scale * share
    return gradient


def as_function(candidate):
    """cosent_loss(cosines, scores, scale) from a function, or from a class with .loss."""
    if inspect.isclass(candidate):
        return lambda cosines, scores, scale: candidate(scale=scale).loss(cosines, scores)
    return lambda cosines, scores, scale: candidate(cosines, scores, scale=scale)


def loss_of(candidate, cosines, scores, scale, grad: bool = False):
    cosines = torch.tensor(cosines, requires_grad=grad)
    loss = as_tensor(as_function(candidate)(cosines, torch.tensor(scores), scale), "the loss")
    if loss.dim() != 0:
        raise CheckFailed(f"the loss has shape {tuple(loss.shape)}: it must be one number (a 0-dim "
                          "tensor) for the whole batch")
    return loss, cosines


def check_scalar(candidate) -> str:
    loss, _ = loss_of(candidate, COSINES, SCORES, SCALE)
    return f"a 0-dim {loss.dtype} tensor"


def check_by_hand(candidate) -> str:
    loss = loss_of(candidate, COSINES, SCORES, SCALE)[0].item()
    expected = reference_loss(COSINES, SCORES, SCALE)
    if math.isclose(loss, expected, rel_tol=1e-5):
        return f"{loss:.6f}, by hand {expected:.6f}"
    flipped = reference_loss([-c for c in COSINES], SCORES, SCALE)
    terms = [SCALE * (COSINES[j] - COSINES[i]) for i in range(4) for j in range(4)
             if SCORES[i] > SCORES[j]]
    at_differences = ("scale", ("cosines", "-"))
    mistakes = [
        ("the sign is flipped: the loss grows when pairs are ranked the right way; for gold_i > "
         "gold_j the term is exp(scale * (cos_j - cos_i))", flipped, (("cosines", "-"),)),
        ("the scale is not applied: the terms are exp(scale * (cos_j - cos_i))",
         reference_loss(COSINES, SCORES, 1.0), at_differences),
        (f"the terms are divided by scale where they are multiplied: exp(scale * (cos_j - cos_i)), "
         f"scale = {SCALE:g}", reference_loss(COSINES, SCORES, 1 / SCALE), at_differences),
        ("the '1 +' inside the log is missing (it keeps the loss at 0 when no pair is out of "
         "order)", math.log(math.exp(expected) - 1), ("logsumexp", "log", "return")),
        ("tied pairs are counted: two pairs with the same gold score impose no order; use gold_i > "
         "gold_j, strictly", tied_loss(), (">=", "<=", "scores")),
        ("tied pairs are counted, and each pair with itself (i, i): gold_i >= gold_j holds there; "
         "use gold_i > gold_j, strictly", tied_loss(with_itself=True), (">=", "<=", "scores")),
        ("the terms are averaged (log(1 + mean exp)) where the formula sums them: "
         "log(1 + sum exp)", math.log(1 + math.fsum(map(math.exp, terms)) / len(terms)),
         ("mean", "return")),
        ("each pair gets its own log(1 + exp), summed: the formula has one log over the sum, "
         "log(1 + sum exp), which logsumexp computes",
         math.fsum(math.log1p(math.exp(term)) for term in terms), ("softplus", "log", "return")),
    ]
    for message, wrong, near in mistakes:
        if math.isclose(loss, wrong, rel_tol=1e-5):
            raise CheckFailed(message, near=near)
    raise CheckFailed(f"for cosines {COSINES}, gold scores {SCORES} and scale {SCALE} the loss is "
                      f"{loss:.6f}; by hand it is {expected:.6f} (only ordered pairs count: i "
                      "above j when gold_i > gold_j, strictly; ties and the pair (i, i) add "
                      "nothing)", near=("return",))


def tied_loss(with_itself: bool = False) -> float:
    """The loss if the tie in SCORES were counted in both directions (>= instead of >), and with
    each pair compared with itself too if `with_itself`."""
    terms = [SCALE * (COSINES[j] - COSINES[i]) for i in range(4) for j in range(4)
             if (i != j or with_itself) and SCORES[i] >= SCORES[j]]
    return math.log(1 + math.fsum(math.exp(term) for term in terms))


def check_random_batches(candidate) -> str:
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        cosines = (torch.rand(16, generator=generator) * 2 - 1).tolist()
        scores = torch.randint(0, 6, (16,), generator=generator).float().tolist()
        loss = loss_of(candidate, cosines, scores, 20.0)[0].item()
        expected = reference_loss(cosines, scores, 20.0)
        if not math.isclose(loss, expected, rel_tol=1e-4, abs_tol=1e-5):
            raise CheckFailed(f"on a random batch of 16 pairs at scale 20 the loss is {loss:.5f}, "
                              f"the formula gives {expected:.5f}", near=("return",))
    return "5 batches of 16 pairs at scale 20 match the formula"


def check_gradient(candidate) -> str:
    loss, cosines = loss_of(candidate, COSINES, SCORES, SCALE, grad=True)
    if not loss.requires_grad:
        raise CheckFailed("the loss does not depend on the cosines through autograd (.item(), "
                          "numpy or a detach inside?): no gradient would reach the encoder",
                          near=("detach", "item", "numpy", "tensor"))
    loss.backward()
    expected = torch.tensor(reference_gradient(COSINES, SCORES, SCALE))
    if cosines.grad is None or not torch.allclose(cosines.grad.double(), expected.double(),
                                                  atol=1e-5):
        raise CheckFailed(f"d loss / d cosines is "
                          f"{cosines.grad.tolist() if cosines.grad is not None else None}, "
                          f"by hand {[round(g, 6) for g in expected.tolist()]}",
                          near=("detach", "return"))
    return "d loss / d cosines equals the hand-derived gradient"


def check_large_scale(candidate) -> str:
    cosines = [1.0 - 2 * i / 31 for i in range(32)]  # perfectly reversed: every pair out of order
    scores = [float(i) for i in range(32)]
    loss = loss_of(candidate, cosines, scores, 50.0)[0].item()
    expected = reference_loss(cosines, scores, 50.0)
    if not math.isfinite(loss):
        raise CheckFailed(f"at scale 50 a badly ordered batch gives loss {loss}: exp overflows "
                          "float32; compute log(1 + sum exp(x)) as torch.logsumexp over the terms "
                          "with a 0 prepended for the 1", near=("exp", "log", "return"))
    if not math.isclose(loss, expected, rel_tol=1e-4):
        raise CheckFailed(f"at scale 50 a badly ordered batch gives {loss:.3f}, the formula "
                          f"{expected:.3f}", near=("return",))
    return f"finite and right at scale 50 ({loss:.1f})"


def check_no_order(candidate) -> str:
    loss = loss_of(candidate, COSINES, [2.0] * len(COSINES), SCALE)[0].item()
    if loss != 0.0 and not math.isclose(loss, 0.0, abs_tol=1e-7):
        raise CheckFailed(f"with all gold scores equal there is no order to learn and the loss "
                          f"must be log(1) = 0, got {loss:.6f}", near=("return",))
    return "all gold scores equal: loss 0"


COMPONENT = Component(
    name="cosent",
    writes="a function cosent_loss(cosines, scores, scale=20.0), or a class like "
           "minitransformer.tasks.heads.SimilarityObjective",
    ours="minitransformer/tasks/heads.py:SimilarityObjective",
    signature=Signature("cosent_loss(cosines (B,), scores (B,), scale=20.0) -> a 0-dim tensor, "
                        "or a class like SimilarityObjective(scale=20.0) with "
                        "loss(cosines, scores)",
                        function=(2, ("scale",)),
                        methods={"__init__": (0, ("scale",)), "loss": (2, ())}),
    checks=[
        Check("one number per batch", check_scalar, look_at="loss"),
        Check("a batch computed by hand", check_by_hand, look_at="loss"),
        Check("random batches against the formula", check_random_batches, look_at="loss"),
        Check("the gradient", check_gradient, look_at="loss"),
        Check("numerically stable at a large scale", check_large_scale, look_at="loss"),
        Check("no order, no loss", check_no_order, look_at="loss"),
    ],
)
