"""Checks for the optimizer's layer-wise learning-rate groups (Howard & Ruder 2018):

    depth 0 = embeddings, depth k = encoder layer k (1..N), the pre-norm final LayerNorm at N;
    a parameter at depth k trains at lr * layer_decay ** (N - k); the heads, which start from
    random, train at head_lr, or 10 x lr when it is not given (TrainingOptions.heads_rate, the
    rule train.py and --print-param-groups follow);
    weight decay only on matrices (2 or more dimensions), never on biases or LayerNorm gains;
    frozen parameters (requires_grad False) are in no group.

The learner writes a function
    parameter_groups(model, lr, weight_decay=0.01, layer_decay=1.0, head_lr=None) -> list of dicts
with "params", "lr" and "weight_decay", as torch.optim.AdamW takes them (a (groups, table) pair,
as ours returns, is accepted). The model is a 12-layer MultiTaskModel with two heads, parameters
named encoder.embeddings.*, encoder.layers.{i}.*, encoder.final_norm.* and heads.{task}.*; the
expected rates are derived from those names. Rates wrong in a known way (the depth order
reversed, layers counted from 0, "layers.10" read as layer 1, the heads at lr) are named.
"""

from __future__ import annotations

import re

import torch

from ..model.config import EncoderConfig
from ..model.encoder import Encoder
from ..tasks.heads import MultiTaskModel, SentenceClassificationHead, TokenClassificationHead
from ..training.optimizer import parameter_groups
from ..training.options import TrainingOptions
from .core import Check, CheckFailed, Component, Signature

LR, DECAY, WEIGHT_DECAY = 1e-3, 0.8, 0.01
HEAD_LR = 3e-3  # head_lr when given: neither lr nor 10 x lr, so that ignoring it shows
LAYERS = 12  # two-digit layer numbers: "layers.10" must not be read as layer 1


def heads_rate(lr: float, head_lr: float | None = None) -> float:
    """The package's rule for the heads' rate: head_lr, else 10 x lr."""
    return TrainingOptions(lr=lr, head_lr=head_lr).heads_rate


def package_groups(model, lr: float, weight_decay: float = 0.01, layer_decay: float = 1.0,
                   head_lr: float | None = None) -> list[dict]:
    """Our own groups, as train.py asks for them (training/optimizer.py, make_optimizer): the
    package's parameter_groups with every head at heads_rate; the exercise's signature."""
    rate = heads_rate(lr, head_lr)
    groups, _ = parameter_groups(model, lr, weight_decay, layer_decay,
                                 head_lrs=dict.fromkeys(model.heads, rate))
    return groups


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


def expected_rate(name: str, head_lr: float | None = None) -> float:
    k = depth(name)
    return heads_rate(LR, head_lr) if k is None else LR * DECAY ** (LAYERS - k)


def groups_of(candidate, net, head_lr: float | None = None) -> list[dict]:
    result = candidate(net, LR, weight_decay=WEIGHT_DECAY, layer_decay=DECAY, head_lr=head_lr)
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


def settings(candidate, net, head_lr: float | None = None) -> dict[str, tuple[float, float]]:
    """name -> (lr, weight_decay) of its group, after checking every trainable parameter is in
    exactly one group and nothing else is."""
    names = {id(parameter): name for name, parameter in net.named_parameters()}
    found: dict[str, tuple[float, float]] = {}
    for group in groups_of(candidate, net, head_lr):
        for parameter in group["params"]:
            if not isinstance(parameter, torch.nn.Parameter):
                raise CheckFailed(f"a group's params hold a {type(parameter).__name__}: they must "
                                  "be the model's parameters themselves (model.named_parameters() "
                                  "gives (name, parameter) pairs)", near=("append", "params"))
            name = names.get(id(parameter), "a parameter that is not the model's")
            if name in found:
                raise CheckFailed(f"{name} is in two groups: each parameter must be in exactly one",
                                  near=("append", "params"))
            found[name] = (group["lr"], group["weight_decay"])
    frozen = [name for name, parameter in net.named_parameters() if not parameter.requires_grad]
    for name in frozen:
        if name in found:
            raise CheckFailed(f"frozen parameter {name} is in a group: leave out parameters with "
                              "requires_grad False, so they get no optimizer state",
                              near=("requires_grad", "named_parameters"))
    for name, parameter in net.named_parameters():
        if parameter.requires_grad and name not in found:
            raise CheckFailed(f"{name} is in no group: the optimizer would never train it",
                              near=("requires_grad", "named_parameters"))
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


def encoder_mistake(rates: dict[str, float], table: str) -> tuple[str, tuple] | None:
    """A known way to get the encoder's rates wrong that explains all of them, and where to look;
    None if none does."""
    encoder = [name for name in rates if depth(name) is not None]
    layer = lambda name: int(name.split(".")[2])  # encoder.layers.{i}.*, depth i + 1
    at = lambda rule: all(abs(rates[name] - rule(name)) < 1e-12 for name in encoder)
    right = lambda name: LR * DECAY ** (LAYERS - depth(name))
    on_layers = lambda rule: lambda name: rule(name) if name.startswith(
        "encoder.layers.") else right(name)
    mistakes = [
        (lambda name: LR, f"every encoder parameter trains at lr = {LR:g}: layer_decay ({DECAY}) "
                          "is not applied; depth k trains at lr * layer_decay ** (N - k)",
         ("**", "layer_decay", "'encoder.layers")),
        (lambda name: LR * DECAY ** depth(name),
         f"the embeddings train fastest and the top layer slowest ({table}): the exponent is the "
         "depth k where it should be N - k, so that the top layer, closest to the task, trains "
         "at lr", ("**",)),
        (lambda name: LR / DECAY ** (LAYERS - depth(name)),
         f"the rates grow toward the embeddings ({table}): lr / layer_decay ** (N - k) divides "
         "where it should multiply, lr * layer_decay ** (N - k), so lower layers train slower",
         ("**", "/")),
        *[(lambda name, shift=shift: LR * DECAY ** (LAYERS - depth(name) + shift),
           f"the exponent is off by one ({table}): depth k trains at lr * d ** (N - k); the top "
           f"layer ({LAYERS}) at lr, the embeddings (depth 0) at lr * d ** {LAYERS}", ("**",))
          for shift in (1, -1)],
        (on_layers(lambda name: LR * DECAY ** (LAYERS - layer(name))),
         f"the layers are counted from 0 ({table}): encoder.layers.i is at depth i + 1 (the "
         "embeddings are depth 0), so encoder.layers.0 trains at lr * d ** (N - 1)",
         (("split", "+"), "split", "int")),
        (on_layers(lambda name: LR * DECAY ** (LAYERS - int(str(layer(name))[0]) - 1)),
         f"encoder.layers.10 and encoder.layers.11 train at layer 2's rate ({table}): the layer "
         "number is read as one digit; take the whole number between the dots, "
         "int(name.split('.')[2])", ("int", "split")),
    ]
    for rule, message, near in mistakes:
        if at(rule):
            return message, near
    return None


def check_rates(candidate, norm_placement: str = "post", head_lr: float | None = None) -> str:
    found = settings(candidate, model(norm_placement), head_lr)
    wrong = [name for name, (rate, _) in found.items()
             if abs(rate - expected_rate(name, head_lr)) > 1e-9 * LR]
    table = rate_table(found)
    heads = heads_rate(LR, head_lr)
    rule = (f"head_lr = {head_lr:g}" if head_lr is not None
            else f"10 x lr = {heads:g}, since they start from random (head_lr not given)")
    if not wrong:
        return (f"lr * {DECAY} ** ({LAYERS} - depth), heads at {rule}: {table}")
    rates = {name: rate for name, (rate, _) in found.items()}
    encoder_wrong = [name for name in wrong if depth(name) is not None]
    if encoder_wrong:
        known = encoder_mistake(rates, table)
        if known:
            raise CheckFailed(known[0], near=known[1])
        name = encoder_wrong[0]
        if name.startswith("encoder.final_norm.") and abs(rates[name] - heads) < 1e-12:
            raise CheckFailed(f"{name} trains at the heads' rate ({heads:g}): the final LayerNorm "
                              f"is part of the encoder, at depth N = {LAYERS} with the top layer, "
                              f"so it trains at lr = {LR:g}",
                              near=(("heads_rate", 2), "'final_norm", "'heads"))
        part = name.split(".")[1]  # embeddings, layers or final_norm
        raise CheckFailed(f"{name} (depth {depth(name)}'s) trains at {rates[name]:.4g}, expected "
                          f"{expected_rate(name):.4g} ({table})", near=(f"'{part}", "**"))
    name = wrong[0]
    if head_lr is None and abs(rates[name] - LR) < 1e-12:
        raise CheckFailed(f"the heads train at lr = {LR:g}: they start from random, so they train "
                          f"at 10 x lr = {heads:g} unless head_lr is given (the rule of train.py "
                          "and --print-param-groups: TrainingOptions.heads_rate)",
                          near=("head_lr", "heads_rate", "'heads"))
    if head_lr is not None and abs(rates[name] - heads_rate(LR)) < 1e-12:
        raise CheckFailed(f"head_lr is not used: given head_lr = {head_lr:g}, the heads train at "
                          f"{rates[name]:g} (10 x lr); head_lr, when given, is their rate",
                          near=("head_lr", "heads_rate", "'heads"))
    raise CheckFailed(f"{name} (a head's) trains at {rates[name]:.4g}, expected {rule} "
                      f"({table})", near=("head_lr", "heads_rate", "'heads"))


def check_weight_decay(candidate) -> str:
    net = model()
    found = settings(candidate, net)
    for name, parameter in net.named_parameters():
        decay = found[name][1]
        if parameter.dim() >= 2 and decay != WEIGHT_DECAY:
            raise CheckFailed(f"{name}, a matrix, gets weight decay {decay}, expected "
                              f"{WEIGHT_DECAY}", near=("dim", "ndim", "weight_decay"))
        if parameter.dim() < 2 and decay != 0:
            kind = "a LayerNorm gain" if "norm" in name and name.endswith("weight") else "a bias"
            raise CheckFailed(f"{name} ({kind}) is decayed: decay only tensors with 2 or more "
                              "dimensions; pulling biases and gains toward 0 only shifts "
                              "activations", near=("dim", "ndim", "weight_decay"))
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
                              f"about {rate:.3g} (its rate)", near=("return",))
    return "one AdamW step moves every parameter by its own rate"


COMPONENT = Component(
    name="layer_rates",
    writes="a function parameter_groups(model, lr, weight_decay, layer_decay, head_lr), the "
           "groups of minitransformer.training.optimizer.parameter_groups",
    ours="minitransformer/exercise_checks/layer_rates.py:package_groups",
    signature=Signature("parameter_groups(model, lr, weight_decay=0.01, layer_decay=1.0, "
                        "head_lr=None) -> a list of dicts with 'params', 'lr' and 'weight_decay'",
                        function=(2, ("weight_decay", "layer_decay", "head_lr"))),
    checks=[
        Check("every trainable parameter in exactly one group", check_groups),
        Check("rates by depth, post-norm; heads at 10 x lr", check_rates),
        Check("rates by depth, pre-norm (the final LayerNorm at the top)",
              lambda candidate: check_rates(candidate, "pre")),
        Check(f"the heads at head_lr when it is given ({HEAD_LR:g})",
              lambda candidate: check_rates(candidate, head_lr=HEAD_LR)),
        Check("weight decay only on matrices", check_weight_decay),
        Check("frozen parameters left out", check_frozen),
        Check("one AdamW step", check_adamw_step),
    ],
)
