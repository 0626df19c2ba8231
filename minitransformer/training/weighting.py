"""How the tasks' losses are weighted: fixed weights, or weights learned from each task's noise.

Each training step trains one task, so a weighting maps (task, loss) -> the loss to minimise.

Static:       loss' = w_task * loss                   (default w = 1 for every task)

Uncertainty (Kendall, Gal & Cipolla 2018): each task t gets a learned log-variance s_t and

              loss' = exp(-s_t) * loss + s_t / 2

the paper's form for a classification likelihood with sigma_t^2 = exp(s_t). A task whose loss
stays large (noisy or hard) raises its s_t and so lowers its own weight exp(-s_t); the + s_t / 2
term stops every weight from collapsing to 0. Learning s (not sigma) keeps the weight positive
and the optimisation stable. At the optimum, exp(-s_t) = 1 / (2 * loss_t).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError

WEIGHTINGS = ("static", "uncertainty")


class StaticWeighting(nn.Module):
    def __init__(self, task_names: list[str], weights: dict[str, float] | None = None):
        super().__init__()
        weights = weights or {}  # (options.check_run_options refuses unknown tasks)
        self.weights = {name: float(weights.get(name, 1.0)) for name in task_names}

    def forward(self, task: str, loss: torch.Tensor) -> torch.Tensor:
        return self.weights[task] * loss

    def current_weights(self) -> dict[str, float]:
        return dict(self.weights)


class UncertaintyWeighting(nn.Module):
    def __init__(self, task_names: list[str]):
        super().__init__()
        # s = 0: every task starts at weight 1, the static default.
        self.log_variances = nn.ParameterDict({name: nn.Parameter(torch.zeros(()))
                                               for name in task_names})

    def forward(self, task: str, loss: torch.Tensor) -> torch.Tensor:
        log_variance = self.log_variances[task]
        return torch.exp(-log_variance) * loss + 0.5 * log_variance

    def current_weights(self) -> dict[str, float]:
        return {name: float(torch.exp(-s.detach())) for name, s in self.log_variances.items()}


def make_weighting(kind: str, task_names: list[str], weights: dict[str, float] | None = None):
    if kind == "static":
        return StaticWeighting(task_names, weights)
    if kind == "uncertainty":  # (check_run_options refuses it with --loss-weight)
        return UncertaintyWeighting(task_names)
    raise InputError(f"unknown loss weighting {kind!r}; choose from {', '.join(WEIGHTINGS)}")
