"""StopOnNonFiniteLoss: a NaN or infinite loss ends the run before it reaches the weights.

The value it sees is taken after the step's backward passes and before the optimizer step, so
the weights never take a step from it; under torchrun it is the mean over ranks, so that all
ranks stop together.
"""

from __future__ import annotations

import math

from .base import Callback
from .checkpoint_saving import CheckpointSaving


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


class StopOnNonFiniteLoss(Callback):
    def __init__(self, saving: CheckpointSaving):
        self.saving = saving  # to say whether a good checkpoint of this run exists

    def on_loss(self, trainer, task: str, value: float) -> None:
        if math.isfinite(value):
            return
        kept = (f"the last good checkpoint of this run is kept in {self.saving.checkpoints.last}"
                if self.saving.saved_last else "no checkpoint of this run was written yet")
        raise NonFiniteLoss(f"task {task!r} gave a non-finite loss ({value}) at step "
                            f"{trainer.state.global_step + 1}; {kept}. Try a lower --lr.")
