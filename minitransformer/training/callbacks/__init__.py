"""The collaborators of the training loop, one file each (base.py lists the events).

default_callbacks gives a run's own, in the order they react to an event: the heap trim
first (part of a step's time), then the log that times the step, then what changes the
optimizer, then evaluation and the checkpoints that follow from it.
"""

from __future__ import annotations

from ..best_and_last import RunCheckpoints
from ..freezing import GradualUnfreezing
from .base import Callback, StepDone
from .checkpoint_saving import CheckpointSaving
from .dev_evaluation import DevEvaluation
from .finite_loss import NonFiniteLoss, StopOnNonFiniteLoss
from .heap_trim import HeapTrim
from .padding_count import PaddingCount
from .training_log import TrainingLog
from .unfreezing import UnfreezeOnSchedule

__all__ = ["Callback", "StepDone", "CheckpointSaving", "DevEvaluation", "HeapTrim",
           "NonFiniteLoss", "PaddingCount", "StopOnNonFiniteLoss", "TrainingLog",
           "UnfreezeOnSchedule", "default_callbacks"]


def default_callbacks(checkpoints: RunCheckpoints,
                      unfreezing: GradualUnfreezing | None) -> list[Callback]:
    heap_trim, saving = HeapTrim(), CheckpointSaving(checkpoints)
    return [heap_trim, PaddingCount(), TrainingLog(),
            *([UnfreezeOnSchedule(unfreezing)] if unfreezing is not None else []),
            DevEvaluation(after_batch=heap_trim.after_batch), saving,
            StopOnNonFiniteLoss(saving)]
