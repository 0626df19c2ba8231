"""Keeping the geometry: a term that holds each batch's sentence embeddings near the start's.

Learning without forgetting (Li & Hoiem 2016): to keep what a network could do before it learns
new tasks, record the old network's outputs on the *new* data and add a loss that keeps the
new network's outputs close to them; no old data is needed. What the encoder we start from
(MiniLM) does well is a cosine geometry of sentences, the one STS-B reads, and every other
task's head pulls it toward what that head needs (docs/experiments.md, "One model for every
task": STS-B ends below MiniLM's own score before any training). So the old outputs here are
the starting encoder's sentence embeddings of each training batch, and

    loss = w_task * loss_task + distill_weight * mean over the batch's sentences of
           (1 - cos(e_now, e_start))

(distill_weight: the task's own --distill-task-weight where one is given.)

e_start comes from a frozen copy of the encoder as it was when training began: no gradient,
eval mode (no dropout, so a fixed target), the same path (packed or padded) as the live one.

The target need not be the start. `--distill-from MODEL` holds the embeddings near another
encoder's instead, a model or run with the same vocabulary, width and pooling: a model trained
on one task alone, say, whose geometry the multi-task model should keep while the other tasks
train (the single-task teachers of Born-Again Multi-Task Networks, Clark et al. 2019; there
each task's outputs are distilled from its own teacher, here the one embedding that STS-B
reads is).

Why 1 - cos. For unit vectors |a - b|^2 = 2 (1 - cos(a, b)), so this is the mean squared
error of the normalised embeddings up to a constant factor; written as a cosine it lies in
[0, 2] whatever the width d, and it is the quantity the cosine-based tasks read. The raw
embeddings' squared error would also hold their lengths, which no cosine sees. Holding each
embedding's direction holds every cosine between two of them too (the relations STS-B scores),
and needs one vector per sentence rather than one number per pair of sentences.

Which sentences: every encoder call of the step, whatever the task (both sides of a pair; for
masked-LM batches the masked text the live encoder saw). The calls are recorded where every
head asks for token states, MultiTaskModel.states: the packed path bypasses Encoder.forward, so
a module hook on the encoder would miss them. `--distill-task-weight TASK=W` sets the weight on
one task's batches instead (0: the term is left out there, and so is the teacher's pass): a
tagger, say, whose steps should move the token states as freely as without the term.

A teacher per task. `--distill-teacher TASK=TEACHER` holds TASK's batches near TEACHER's
embeddings instead, so that each task can keep what its own single-task model knows (the
born-again recipe proper): TEACHER is a model or run, or the name of a task of the config, which
train.py then trains alone first, into RUN/teachers/TEACHER (training/teacher_stage.py).

Cost: one more forward pass of the frozen copy per encoder call (no_grad: its activations are
freed at once), and one more copy of the encoder's weights in memory (MiniLM: 22.7M parameters,
91 MB in float32), without gradients or optimizer state.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F

from ..fast.packed import packed_forward
from ..model.encoder import Encoder
from ..tasks.heads import MultiTaskModel

# (input_ids (B, T), attention_mask (B, T), the live encoder's token states (B, T, d))
Recorded = list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


class EmbeddingDistillation:
    def __init__(self, model: MultiTaskModel, weight: float, target: Encoder | None = None,
                 task_weights: dict[str, float] | None = None,
                 task_targets: dict[str, Encoder] | None = None):
        """Hold the embeddings near `target`'s, a frozen encoder; None: a copy of the model's
        encoder as it is now, the start. (`start` names whichever it is.) task_weights: the
        weight on some tasks' batches instead of `weight`; task_targets: another encoder for
        some tasks' batches (the names checked by options.check_run_options)."""
        self.model, self.weight = model, weight
        self.task_weights = dict(task_weights or {})
        device = next(model.parameters()).device
        target = copy.deepcopy(model.encoder) if target is None else target
        self.start = target.to(device).eval().requires_grad_(False)
        self.task_targets = {task: encoder.to(device).eval().requires_grad_(False)
                             for task, encoder in (task_targets or {}).items()}

    @contextmanager
    def recording(self) -> Iterator[Recorded]:
        """While open, every encoder pass of the model is recorded (ids, mask, states), through
        MultiTaskModel.state_listeners: the one door through which every head reaches the
        encoder (see the module docstring)."""
        recorded: Recorded = []

        def record(input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   states: torch.Tensor) -> None:
            recorded.append((input_ids, attention_mask, states))

        self.model.state_listeners.append(record)
        try:
            yield recorded
        finally:
            self.model.state_listeners.remove(record)

    def start_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         task: str | None = None) -> torch.Tensor:
        """(B, T) ids and mask -> the pooled embeddings (B, d) of the encoder that holds
        `task`'s batches (its teacher, else the start), no graph."""
        target = self.task_targets.get(task, self.start)
        with torch.no_grad():
            if self.model.packed:
                states = packed_forward(target, input_ids, attention_mask)
            else:
                states = target(input_ids, attention_mask)
            return self.model.pool(states, attention_mask)

    def term(self, recorded: Recorded, task: str | None = None) -> torch.Tensor:
        """The mean over every recorded sentence of 1 - cos(e_now, e_start); a scalar."""
        now = torch.cat([self.model.pool(states, mask) for _, mask, states in recorded])
        start = torch.cat([self.start_embeddings(ids, mask, task) for ids, mask, _ in recorded])
        return (1.0 - F.cosine_similarity(now, start, dim=-1)).mean()

    def weight_for(self, task: str) -> float:
        """The term's weight on `task`'s batches: its own, or distill_weight."""
        return self.task_weights.get(task, self.weight)

    def loss(self, recorded: Recorded, task: str) -> torch.Tensor:
        """The task's weight x term: what the step adds to the task's weighted loss."""
        return self.weight_for(task) * self.term(recorded, task)
