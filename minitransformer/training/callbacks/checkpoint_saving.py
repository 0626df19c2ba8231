"""CheckpointSaving: RUN/best and RUN/last written when they should be, and read back to resume.

    RUN/best  after an evaluation that beats the best mean dev score so far (or the first one)
    RUN/last  at the end of every epoch, and when the run is interrupted (Ctrl-C, SIGTERM) or
              stopped early by a callback (trainer.should_stop)

What a checkpoint holds, and what must match before a run may go on from one, is
RunCheckpoints' business (best_and_last.py); this callback decides when. Only rank 0 writes.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..best_and_last import RunCheckpoints
from ..state import TrainingState
from .base import Callback


class CheckpointSaving(Callback):
    def __init__(self, checkpoints: RunCheckpoints):
        self.checkpoints = checkpoints
        # Whether this run has written best/ and last/ (a resumed run: its own from the start).
        self.saved_best = self.saved_last = False

    def on_evaluated(self, trainer, entry: dict) -> None:
        state = trainer.state
        if entry.get("score", -math.inf) > state.best_score or not self.saved_best:
            state.best_score = entry.get("score", state.best_score)
            self.save(trainer, self.checkpoints.best, with_training_state=False)
            self.saved_best = True

    def on_epoch_end(self, trainer) -> None:
        if trainer.distributed.is_main:
            self.save(trainer, self.checkpoints.last, with_training_state=True)

    def on_end(self, trainer, interrupted: bool) -> None:
        if interrupted or trainer.should_stop:  # --resume then goes on from this very step
            trainer.log("\ninterrupted: saving the last checkpoint before exiting" if interrupted
                        else f"\nstopped at step {trainer.state.global_step}: saving the last "
                             f"checkpoint")
            if trainer.distributed.is_main:
                self.save(trainer, self.checkpoints.last, with_training_state=True)

    def save(self, trainer, directory: Path, with_training_state: bool) -> None:
        state = trainer.state
        training_state = None
        if with_training_state:
            training_state = {"optimizer": trainer.optimizer.state_dict(),
                              "weighting": trainer.weighting.state_dict(),
                              "losses": state.losses}
            if state.averaged_weights is not None:  # --ema-decay's average goes on too
                training_state["averaged_weights"] = state.averaged_weights
        self.checkpoints.save(directory, state.progress(), state.history, state.best_score,
                              training_state)
        self.saved_last |= directory == self.checkpoints.last

    def restore(self, trainer) -> None:
        """Continue from RUN/last of the same run: state, weights, optimizer and loss weights.
        A checkpoint of another run (other tasks, model or options) is refused with an
        InputError before anything changes."""
        point = self.checkpoints.read_resume_point()
        trainer.state = TrainingState.saved(point.progress, point.history, point.best_score,
                                            point.training_state["losses"],
                                            point.training_state.get("averaged_weights"))
        trainer.fire("on_restore")  # the optimizer gets the groups it had when it was saved
        self.checkpoints.load_into(point, trainer.optimizer, trainer.weighting)
        self.saved_last = True
        self.saved_best = self.checkpoints.best.exists()  # not if stopped before any evaluation
        trainer.log(f"resumed from {point.directory} at epoch {trainer.state.epoch + 1}, step "
                    f"{trainer.state.global_step}")
