"""What the loop tells the rest of a run: events, and the Callback that reacts to them.

The loop (trainer.py) knows epochs, steps and the arithmetic of a step. At each of these
moments it calls the method of that name on every callback, in order:

    on_start(trainer)                      training is about to begin (or go on, when resumed)
    on_restore(trainer)                    trainer.state was just read from RUN/last, before
                                           the optimizer's saved state is loaded into it
    on_step_begin(trainer, tasks, batches) a step's tasks were drawn and their batches taken
    on_loss(trainer, task, value)          one task's loss of this step (a float), known after
                                           backward and before the optimizer steps
    on_step_end(trainer, step)             the optimizer stepped (step: a StepDone)
    on_evaluation_due(trainer)             the dev sets should be scored now
    on_evaluated(trainer, entry)           they were: entry is the new trainer.state.history[-1]
    on_epoch_end(trainer)                  an epoch finished (and was evaluated)
    on_end(trainer, interrupted)           training ended; interrupted: by Ctrl-C or SIGTERM

on_end is not called when training ends in another exception (a non-finite loss, a bug): that
one reaches the caller as it is. A callback overrides only the events it needs. Whatever must
survive a resume it keeps in trainer.state, which the checkpoint saves. To stop a run early,
set trainer.should_stop: the loop ends after the current step or evaluation, on every rank
under torchrun, and RUN/last is saved there (docs/architecture.md has an example).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class StepDone:
    """One optimizer step, as on_step_end sees it."""

    tasks: list[str]  # one name, or k for a mixed step (tasks_per_step)
    examples: list[int]  # each task's batch size on this process
    losses: list[float]  # each task's logged loss
    started: float = field(default_factory=time.perf_counter)  # when the step began


class Callback:
    """Does nothing at every event; subclasses override what they react to."""

    def on_start(self, trainer) -> None: ...
    def on_restore(self, trainer) -> None: ...
    def on_step_begin(self, trainer, tasks: list[str], batches: list[dict]) -> None: ...
    def on_loss(self, trainer, task: str, value: float) -> None: ...
    def on_step_end(self, trainer, step: StepDone) -> None: ...
    def on_evaluation_due(self, trainer) -> None: ...
    def on_evaluated(self, trainer, entry: dict) -> None: ...
    def on_epoch_end(self, trainer) -> None: ...
    def on_end(self, trainer, interrupted: bool) -> None: ...
