"""The collaborators of the training loop, one file each (base.py lists the events).

default_callbacks gives a run's own, in the order they react to an event: the heap trim
first (part of a step's time), then the log that times the step, then what changes the
optimizer, then evaluation and the checkpoints that follow from it.
"""

from __future__ import annotations

from ..best_and_last import RunCheckpoints
from ..freezing import GradualUnfreezing
from ..options import TrainingOptions
from .base import Callback, StepDone
from .checkpoint_saving import CheckpointSaving
from .dev_evaluation import DevEvaluation
from .finite_loss import NonFiniteLoss, StopOnNonFiniteLoss
from .heap_trim import HeapTrim
from .padding_count import PaddingCount
from .training_log import TrainingLog
from .unfreezing import UnfreezeOnSchedule
from .weight_averaging import WeightAveraging

__all__ = ["Callback", "StepDone", "CheckpointSaving", "DevEvaluation", "HeapTrim",
           "NonFiniteLoss", "PaddingCount", "StopOnNonFiniteLoss", "TrainingLog",
           "UnfreezeOnSchedule", "WeightAveraging", "default_callbacks"]


def default_callbacks(checkpoints: RunCheckpoints, unfreezing: GradualUnfreezing | None,
                      options: TrainingOptions | None = None) -> list[Callback]:
    """options.ema_decay > 0: evaluations and RUN/best use an average of the weights."""
    ema_decay = options.ema_decay if options is not None else 0.0
    heap_trim, saving = HeapTrim(), CheckpointSaving(checkpoints)
    averaging = WeightAveraging(ema_decay) if ema_decay > 0 else None
    return [heap_trim, PaddingCount(), TrainingLog(),
            *([UnfreezeOnSchedule(unfreezing)] if unfreezing is not None else []),
            *([averaging] if averaging is not None else []),
            DevEvaluation(after_batch=heap_trim.after_batch,
                          weights=averaging and averaging.averaged_weights_in), saving,
            StopOnNonFiniteLoss(saving)]
