"""Checks for the optimizer's layer-wise learning-rate groups (Howard & Ruder 2018):

    depth 0 = embeddings, depth k = encoder layer k (1..N), the pre-norm final LayerNorm at N;
    a parameter at depth k trains at lr * layer_decay ** (N - k); the heads train at lr;
    weight decay only on matrices (2 or more dimensions), never on biases or LayerNorm gains;
    frozen parameters (requires_grad False) are in no group.

The learner writes a function like minitransformer.training.optimizer.parameter_groups:
    parameter_groups(model, lr, weight_decay=0.01, layer_decay=1.0) -> list of dicts
with "params", "lr" and "weight_decay", as torch.optim.AdamW takes them (ours returns that list
and a table for printing: a (groups, table) pair is accepted). The model is a 12-layer
MultiTaskModel with two heads, parameters named encoder.embeddings.*, encoder.layers.{i}.*,
encoder.final_norm.* and heads.{task}.*; the expected rates are derived from those names.
"""

from __future__ import annotations

import re

import torch

from ..model.config import EncoderConfig
from ..model.encoder import Encoder
from ..tasks.heads import MultiTaskModel, SentenceClassificationHead, TokenClassificationHead
from .core import Check, CheckFailed, Component, Signature

LR, DECAY, WEIGHT_DECAY = 1e-3, 0.8, 0.01
LAYERS = 12  # two-digit layer numbers: "layers.10" must not be read as layer 1


def model(norm_placement: str = "post") -> MultiTaskModel:
    config = EncoderConfig.preset("tiny", num_layers=LAYERS, norm_placement=norm_placement)
    heads = {"topic": SentenceClassificationHead(32, 3), "ner": TokenClassificationHead(32, 5)}
    return MultiTaskModel(Encoder(config), heads)


def depth(name: str) -> int | None:
    """The depth the checker expects for a parameter name (0 embeddings ... LAYERS final norm,
    None for heads). Written apart from Encoder.parameter_depths on purpose: the check must be an
    independent reference, so that a mistake there cannot grade itself correct."""
    if name.startswith("encoder.embeddings."):
        return 0
    match = re.match(r"encoder\.layers\.(\d+)\.", name)
    if match:
        return int(match.group(1)) + 1
    return LAYERS if name.startswith("encoder.final_norm.") else None


def expected_rate(name: str, decay: float = DECAY) -> float:
    k = depth(name)
    return LR if k is None else LR * decay ** (LAYERS - k)


def groups_of(candidate, net, **options) -> list[dict]:
    result = candidate(net, LR, weight_decay=WEIGHT_DECAY, layer_decay=DECAY, **options)
    groups = result[0] if isinstance(result, tuple) else result
    if not isinstance(groups, list) or not all(isinstance(group, dict) for group in groups):
        raise CheckFailed(f"the result must be a list of dicts (one per group), got "
                          f"{type(groups).__name__}")
    for group in groups:
        missing = [key for key in ("params", "lr", "weight_decay") if key not in group]
        if missing:
            raise CheckFailed(f"a group has no {', '.join(missing)}: each group is a dict with "
                              "'params', 'lr' and 'weight_decay'")
    return groups


def settings(candidate, net) -> dict[str, tuple[float, float]]:
    """name -> (lr, weight_decay) of its group, after checking every trainable parameter is in
    exactly one group and nothing else is."""
    names = {id(parameter): name for name, parameter in net.named_parameters()}
    found: dict[str, tuple[float, float]] = {}
    for group in groups_of(candidate, net):
        for parameter in group["params"]:
            if not isinstance(parameter, torch.nn.Parameter):
                raise CheckFailed(f"a group's params hold a {type(parameter).__name__}: they must "
                                  "be the model's parameters themselves (model.named_parameters() "
                                  "gives (name, parameter) pairs)")
            name = names.get(id(parameter), "a parameter that is not the model's")
            if name in found:
                raise CheckFailed(f"{name} is in two groups: each parameter must be in exactly one")
            found[name] = (group["lr"], group["weight_decay"])
    frozen = [name for name, parameter in net.named_parameters() if not parameter.requires_grad]
    for name in frozen:
        if name in found:
            raise CheckFailed(f"frozen parameter {name} is in a group: leave out parameters with "
                              "requires_grad False, so they get no optimizer state")
    for name, parameter in net.named_parameters():
        if parameter.requires_grad and name not in found:
            raise CheckFailed(f"{name} is in no group: the optimizer would never train it")
    return found


def check_groups(candidate) -> str:
    found = settings(candidate, model())
    return f"{len(found)} parameters, each in exactly one group"


def rate_table(found: dict) -> str:
    """'embeddings 0.000262, layer 1 0.000328, ..., heads 0.001': the first rate seen per depth."""
    by_depth = {}
    for name, (rate, _) in found.items():
        if not name.startswith("encoder.final_norm."):  # at depth N too: the table shows layer N's
            by_depth.setdefault(depth(name), rate)
    label = lambda k: "heads" if k is None else "embeddings" if k == 0 else f"layer {k}"
    ordered = sorted(by_depth.items(), key=lambda item: LAYERS + 1 if item[0] is None else item[0])
    return ", ".join(f"{label(k)} {rate:.3g}" for k, rate in ordered)


def check_rates(candidate, norm_placement: str = "post") -> str:
    found = settings(candidate, model(norm_placement))
    wrong = [name for name, (rate, _) in found.items()
             if abs(rate - expected_rate(name)) > 1e-9 * LR]
    if not wrong:
        return f"lr * {DECAY} ** ({LAYERS} - depth): {rate_table(found)}"
    table = rate_table(found)
    rates = {name: rate for name, (rate, _) in found.items()}
    if all(abs(rates[name] - LR) < 1e-12 for name in rates):
        raise CheckFailed(f"every parameter trains at lr = {LR:g}: layer_decay ({DECAY}) is not "
                          "applied")
    encoder = [name for name in rates if depth(name) is not None]
    if all(abs(rates[name] - LR * DECAY ** depth(name)) < 1e-12 for name in encoder):
        raise CheckFailed(f"the embeddings train fastest and the top layer slowest ({table}): the "
                          f"exponent is the depth k where it should be N - k, so that the top "
                          "layer, closest to the task, trains at lr")
    for shift in (1, -1):
        if all(abs(rates[name] - LR * DECAY ** (LAYERS - depth(name) + shift)) < 1e-12
               for name in encoder):
            raise CheckFailed(f"the exponent is off by one ({table}): depth k trains at "
                              f"lr * d ** (N - k); the top layer ({LAYERS}) at lr, the embeddings "
                              f"(depth 0) at lr * d ** {LAYERS}")
    name = wrong[0]
    where = "a head's" if depth(name) is None else f"depth {depth(name)}'s"
    raise CheckFailed(f"{name} ({where}) trains at {rates[name]:.4g}, expected "
                      f"{expected_rate(name):.4g} ({table})")


def check_weight_decay(candidate) -> str:
    net = model()
    found = settings(candidate, net)
    for name, parameter in net.named_parameters():
        decay = found[name][1]
        if parameter.dim() >= 2 and decay != WEIGHT_DECAY:
            raise CheckFailed(f"{name}, a matrix, gets weight decay {decay}, expected "
                              f"{WEIGHT_DECAY}")
        if parameter.dim() < 2 and decay != 0:
            kind = "a LayerNorm gain" if "norm" in name and name.endswith("weight") else "a bias"
            raise CheckFailed(f"{name} ({kind}) is decayed: decay only tensors with 2 or more "
                              "dimensions; pulling biases and gains toward 0 only shifts "
                              "activations")
    return "matrices decayed, biases and LayerNorm gains not"


def check_frozen(candidate) -> str:
    net = model()
    for name, parameter in net.named_parameters():
        if depth(name) is not None and depth(name) <= 2:
            parameter.requires_grad_(False)  # embeddings and layers 1-2 frozen
    found = settings(candidate, net)
    return f"embeddings and layers 1-2 frozen: {len(found)} parameters left in the groups"


def check_adamw_step(candidate) -> str:
    """One AdamW step with a gradient of ones: Adam's first update is lr * m / sqrt(v) = lr in
    size, so each parameter must move by its own rate (plus its weight decay)."""
    net = model()
    groups = groups_of(candidate, net)
    try:
        optimizer = torch.optim.AdamW(groups, lr=123.0)  # a default that must never be used
    except (ValueError, TypeError) as error:
        raise CheckFailed(f"torch.optim.AdamW refuses the groups: {error}") from None
    before = {name: parameter.detach().clone() for name, parameter in net.named_parameters()}
    for parameter in net.parameters():
        parameter.grad = torch.ones_like(parameter)
    optimizer.step()
    for name, parameter in net.named_parameters():
        rate = expected_rate(name)
        decay = WEIGHT_DECAY if parameter.dim() >= 2 else 0.0
        expected = before[name] * (1 - rate * decay) - rate * (1 / (1 + 1e-8))
        if not torch.allclose(parameter.detach(), expected, atol=1e-7, rtol=1e-5):
            moved = (before[name] - parameter.detach()).abs().max().item()
            raise CheckFailed(f"after one AdamW step {name} moved by {moved:.3g}, expected "
                              f"about {rate:.3g} (its rate)")
    return "one AdamW step moves every parameter by its own rate"


COMPONENT = Component(
    name="layer_rates",
    writes="a function like minitransformer.training.optimizer.parameter_groups(model, lr, "
           "weight_decay, layer_decay)",
    ours="minitransformer/training/optimizer.py:parameter_groups",
    signature=Signature("parameter_groups(model, lr, weight_decay=0.01, layer_decay=1.0) -> a list "
                        "of dicts with 'params', 'lr' and 'weight_decay'",
                        function=(2, ("weight_decay", "layer_decay"))),
    checks=[
        Check("every trainable parameter in exactly one group", check_groups),
        Check("rates by depth, post-norm", check_rates),
        Check("rates by depth, pre-norm (the final LayerNorm at the top)",
              lambda candidate: check_rates(candidate, "pre")),
        Check("weight decay only on matrices", check_weight_decay),
        Check("frozen parameters left out", check_frozen),
        Check("one AdamW step", check_adamw_step),
    ],
)
