"""HeapTrim: give glibc's free heap pages back after a step when they have piled up.

Batches of changing sizes fragment glibc's heap: FDU-MTL's resident memory grew by ~15 MB a
step until its free pages were given back (memory.py says how and when, and where that was
measured). Ordered before TrainingLog, so that the trim counts as part of the step's time.
"""

from __future__ import annotations

from ..memory import heap_trimmer
from .base import Callback, StepDone


class HeapTrim(Callback):
    def __init__(self):
        self.trim = heap_trimmer()  # None where there is nothing to trim (no glibc)

    def after_batch(self) -> None:
        """Also called after every dev batch, whose sizes vary too (DevEvaluation)."""
        if self.trim is not None:
            self.trim()

    def on_step_end(self, trainer, step: StepDone) -> None:
        self.after_batch()
