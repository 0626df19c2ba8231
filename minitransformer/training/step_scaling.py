"""Per-task step scales: how far one step of a task moves the shared encoder, set after clipping.

Why a loss weight cannot do this. The gradient is clipped to a global norm of max_grad_norm
(1.0) before AdamW; a task whose gradient is above that (STS-B's CoSENT gradient: 63-94 at
the start from MiniLM) is cut to the same length whatever its weight, unless the weight takes
it below 1 / norm (docs/experiments.md, "The STS-B gap"). So every step moves the encoder
about as far, and a task's share of the encoder's movement is its share of the steps.

What a scale s does. A step of task t runs at s_t times the learning rate of every encoder
group (default 1):

    theta <- theta - (lr * s_t) * (m_hat / (sqrt(v_hat) + eps) + weight_decay * theta)

Why the rate, not the clipped gradient. Adam divides by the running root-mean-square of the
gradients, so a gradient scaled by s mostly comes back out of the update: on the first step
exactly (m_hat / sqrt(v_hat) = sign(g)), later partly, in proportion to the task's share of
v. Scaling the step's rate instead multiplies the whole AdamW update, weight decay included,
by exactly s, and leaves the moment estimates m and v as they would have been (they do not
depend on the rate). The heads keep their rate: they belong to one task each, so the scale
would only repeat --head-lr.
"""

from __future__ import annotations

import torch


class StepScales:
    def __init__(self, task_names: list[str], scales: dict[str, float] | None = None):
        scales = scales or {}  # (options.check_run_options refuses unknown tasks)
        # Only the scales that change something: a scale of 1 leaves the step as it was.
        self.scales = {name: float(scale) for name, scale in scales.items() if scale != 1.0}

    def apply(self, optimizer: torch.optim.Optimizer, encoder: torch.nn.Module, task: str) -> None:
        """Multiply the rate of every encoder group by the task's scale, for this step only:
        the trainer sets every group's rate from its base rate before each step."""
        scale = self.scales.get(task)
        if scale is None:
            return
        shared = {id(parameter) for parameter in encoder.parameters()}
        for group in optimizer.param_groups:
            if id(group["params"][0]) in shared:  # a group holds one depth, or one head
                group["lr"] *= scale
