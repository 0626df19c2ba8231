"""Steps that mix tasks: each task's gradient on the shared encoder, combined into one.

A mixed step (--tasks-per-step k) runs a batch of k different tasks and keeps each task's
gradient on the shared encoder apart, as one flat vector g_i. They are then combined:

    none:    g = sum_i g_i
    pcgrad:  g = sum_i g_i', where g_i' is g_i projected off every g_j it conflicts with
             (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning", Algorithm 1):

                 g_i' <- g_i
                 for each other task j, in a random order:
                     if g_i' . g_j < 0:   g_i' <- g_i' - (g_i' . g_j / |g_j|^2) g_j

Why: two tasks conflict where their gradients point against each other (a negative dot
product); summed, each then undoes part of the other's step. Removing from g_i its component
along g_j leaves what task i wants that does not hurt task j to first order. Where tasks agree
nothing changes. Only the shared encoder is combined this way: a head's gradient comes from its
own task alone and is left as it is.

The projections use the original g_j (not g_j'), as the paper does; the random order matters
only for three tasks or more, and is seeded (trainer: by the run's seed and the step).
"""

from __future__ import annotations

import torch

GRADIENT_SURGERIES = ("none", "pcgrad")


def pcgrad(gradients: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(k, n) one flat gradient per task -> (k, n) each projected off those it conflicts with.

    `generator` draws the order of the other tasks for each task (None: torch's global one)."""
    projected = gradients.clone()
    tasks = len(gradients)
    for i in range(tasks):
        for j in torch.randperm(tasks, generator=generator).tolist():
            if j == i:
                continue
            dot = torch.dot(projected[i], gradients[j])
            if dot < 0:  # a conflict; also implies |g_j| > 0, so the division is safe
                projected[i] -= dot / gradients[j].square().sum() * gradients[j]
    return projected


def combine_gradients(gradients: torch.Tensor, surgery: str,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(k, n) per-task gradients -> (n,) the step's gradient: their sum, after PCGrad if asked."""
    if surgery == "pcgrad":
        gradients = pcgrad(gradients, generator)
    elif surgery != "none":
        raise ValueError(f"unknown gradient surgery {surgery!r}; choose from "
                         f"{', '.join(GRADIENT_SURGERIES)}")
    return gradients.sum(dim=0)


def take_gradients(parameters: list[torch.nn.Parameter], out: torch.Tensor) -> list[bool]:
    """Copy the parameters' gradients into the flat (n,) vector `out`, which starts at zero
    (and stays so where a parameter has no gradient), and empty them for the next task's
    backward pass; returns which parameters had one."""
    reached, offset = [], 0
    for parameter in parameters:
        size = parameter.numel()
        if parameter.grad is not None:
            out[offset:offset + size] = parameter.grad.flatten()
        reached.append(parameter.grad is not None)
        parameter.grad = None
        offset += size
    return reached


def put_gradients(parameters: list[torch.nn.Parameter], flat: torch.Tensor,
                  reached: list[bool]) -> None:
    """Write a flat (n,) gradient back into the parameters' .grad, in take_gradients' order.
    A parameter no task reached (`reached` False) keeps no gradient, so that AdamW skips it
    as it would in a one-task step (no update, no weight decay)."""
    offset = 0
    for parameter, has_gradient in zip(parameters, reached):
        size = parameter.numel()
        if has_gradient:
            parameter.grad = flat[offset:offset + size].view_as(parameter)  # views of `flat`
        offset += size


def mixed_task_gradients(encoder: torch.nn.Module, task_losses: list, surgery: str,
                         generator: torch.Generator) -> list[torch.Tensor]:
    """Back-propagate each task's loss in turn (task_losses: functions that compute one), keep
    each task's gradient on the trainable encoder parameters apart, and leave their combination
    in .grad. The heads' gradients come from their own task alone and stay where backward put
    them. Returns the losses."""
    shared = [p for p in encoder.parameters() if p.requires_grad]
    size = sum(p.numel() for p in shared)
    gradients = shared[0].new_zeros(len(task_losses), size) if shared else None  # (k, n)
    reached, losses = [False] * len(shared), []
    for index, task_loss in enumerate(task_losses):
        loss = task_loss()
        if loss.requires_grad:  # else this task's head and the encoder are all frozen
            loss.backward()
        if shared:
            task_reached = take_gradients(shared, gradients[index])
            reached = [a or b for a, b in zip(reached, task_reached)]
        losses.append(loss)
    if shared:
        put_gradients(shared, combine_gradients(gradients, surgery, generator), reached)
    return losses
