"""The optimizer's parameter groups, and the learning-rate schedule.

Layer-wise learning rates by depth (Howard & Ruder 2018; Clark et al. 2020 for ELECTRA):
depth 0 = embeddings, depths 1..N = encoder layers bottom to top, and with base rate `lr` and
decay `d` the parameters at depth k train at  lr * d**(N - k).  The top layer, closest to the
task, moves fastest; the embeddings, the most general features, move slowest. Heads train at
their own rate (`head_lrs`, else `lr`; a run gives them 10 x lr unless told: they start random).

Weight decay only on matrices: decaying biases and LayerNorm gains toward 0 has no
regularising meaning, it only shifts activations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn


@dataclass
class GroupInfo:
    name: str  # "embeddings", "layer 3", "head topic", "head topic hidden", "loss weights"
    depth: int | None  # encoder depth, None for heads
    lr: float
    weight_decay: float
    tensors: int
    parameters: int


def parameter_groups(model: nn.Module, lr: float, weight_decay: float = 0.01,
                     layer_decay: float = 1.0, head_lrs: dict[str, float] | None = None,
                     exclude: Iterable[nn.Parameter] = (), hidden_lr_factor: float = 1.0):
    """Optimizer groups for `model` (parameters named encoder.* and heads.NAME.*).

    Returns (groups for torch.optim, list of GroupInfo for printing). Frozen parameters
    (requires_grad False) are left out entirely, so they get no optimizer state. `exclude`:
    parameters already in an optimizer (gradual unfreezing asks only for the newly unfrozen).
    hidden_lr_factor: an MLP head's hidden layer trains at this multiple of its head's rate.
    Each group remembers its full rate as "base_lr"; the schedule scales "lr" from it.
    """
    num_layers = model.encoder.config.num_layers
    depth_of = {f"encoder.{name}": depth
                for name, depth in model.encoder.parameter_depths().items()}
    head_lrs = head_lrs or {}
    excluded = {id(parameter) for parameter in exclude}
    buckets: dict[tuple, list] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad or id(parameter) in excluded:
            continue
        depth = depth_of.get(name)  # None: a head's parameter
        if depth is None:
            head = name.split(".")[1]
            label, rate = f"head {head}", head_lrs.get(head, lr)
            if getattr(model.heads[head], "hidden", None) is not None:  # an MLP head: its layers
                part = name.split(".")[2]
                label += f" {part}"
                if part == "hidden":
                    rate *= hidden_lr_factor
        else:
            label = "embeddings" if depth == 0 else f"layer {depth}"
            rate = lr * layer_decay ** (num_layers - depth)
        decay = weight_decay if parameter.dim() >= 2 else 0.0  # matrices (embedding tables too)
        buckets.setdefault((label, depth, rate, decay), []).append((name, parameter))

    groups, infos = [], []
    for (label, depth, rate, decay), members in buckets.items():
        params = [parameter for _, parameter in members]
        groups.append({"params": params, "lr": rate, "base_lr": rate, "weight_decay": decay,
                       "name": label, "names": [name for name, _ in members]})
        infos.append(GroupInfo(label, depth, rate, decay, len(params),
                               sum(p.numel() for p in params)))
    trainable = [p for p in model.parameters() if p.requires_grad and id(p) not in excluded]
    grouped = [p for group in groups for p in group["params"]]
    assert len(grouped) == len(trainable) and \
        {id(p) for p in grouped} == {id(p) for p in trainable}, \
        "every trainable parameter must be in exactly one group"
    return groups, infos


def format_groups(infos: list[GroupInfo]) -> str:
    """A printable table of the parameter groups."""
    width = max([22] + [len(info.name) + 2 for info in infos])
    lines = [f"{'group':<{width}}{'depth':>6}{'lr':>12}{'decay':>8}{'tensors':>9}{'params':>12}"]
    for info in infos:
        depth = "-" if info.depth is None else str(info.depth)
        lines.append(f"{info.name:<{width}}{depth:>6}{info.lr:>12.3g}{info.weight_decay:>8.3g}"
                     f"{info.tensors:>9}{info.parameters:>12,}")
    lines.append(f"{'total':<{width}}{'':>6}{'':>12}{'':>8}{sum(i.tensors for i in infos):>9}"
                 f"{sum(i.parameters for i in infos):>12,}")
    return "\n".join(lines)


def make_adamw(groups: list[dict], lr: float) -> torch.optim.AdamW:
    """AdamW, with PyTorch's fused kernel where this torch and device have one (CPU: torch 2.4+).

    Same update rule; the fused kernel does the whole step in one pass over each tensor instead
    of a dozen elementwise passes, which on a CPU had been a large share of a training step
    (benchmarks/train_step.py times whole steps, with the machine it ran on).
    """
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel here: the default for-each
        return torch.optim.AdamW(groups, lr=lr)


def make_optimizer(model: nn.Module, weighting: nn.Module,
                   options) -> tuple[torch.optim.Optimizer, list[GroupInfo]]:
    """AdamW over the model's groups (layer-wise rates; every head at options.heads_rate) and,
    with learned loss weights, a group of their log-variances; and the groups' printable infos.
    options: a TrainingOptions."""
    head_lr = options.heads_rate
    head_lrs = {name: head_lr for name in model.heads}
    groups, infos = parameter_groups(model, options.lr, options.weight_decay, options.layer_decay,
                                     head_lrs=head_lrs,
                                     hidden_lr_factor=options.head_hidden_lr_factor)
    learned = list(weighting.parameters())
    if learned:  # learned log-variances: no decay, which would pull them to 0
        groups.append({"params": learned, "lr": head_lr, "base_lr": head_lr,
                       "weight_decay": 0.0, "name": "loss weights",
                       "names": [f"log_variance {name}" for name in model.heads]})
        infos.append(GroupInfo("loss weights", None, head_lr, 0.0, len(learned), len(learned)))
    return make_adamw(groups, options.lr), infos


def warmup_linear_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate multiplier at `step`: 0 -> 1 linearly over the warm-up, then down to 0.

    Warm-up keeps the first updates small while Adam's second-moment estimates are still noisy
    and the freshly initialised heads send large gradients into the pretrained encoder.
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def set_learning_rates(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Every group trains at factor x its own base rate (the layer-wise rates keep their ratios).

    Done by hand rather than with torch.optim.lr_scheduler so that groups added later (gradual
    unfreezing) follow the same schedule with nothing to re-register: the schedule's only
    state is the step number.
    """
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
