"""DevEvaluation: score every task's dev set when an evaluation is due, and tell the others.

Rank 0 scores while the other ranks wait at a barrier. The entry it appends to
trainer.state.history (and announces as on_evaluated) holds the metrics, the mean of the
tasks' main metrics as "score" (what RUN/best is chosen by), the loss weights and the clock.
With --ema-decay the averaged weights are scored, and on_evaluated (where RUN/best is saved)
is announced while the model holds them (weight_averaging.py).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager

from ...tasks.scoring import dev_results, format_results, main_score
from ..freezing import count_parameters
from .base import Callback


class DevEvaluation(Callback):
    def __init__(self, after_batch: Callable[[], object] | None = None,
                 weights: Callable[[object], ContextManager] | None = None):
        self.after_batch = after_batch  # called after each dev batch (HeapTrim.after_batch)
        # weights(trainer): a context in which the model holds the weights to score
        # (WeightAveraging.averaged_weights_in); None: the live ones
        self.weights = weights or (lambda trainer: nullcontext())

    def on_evaluation_due(self, trainer) -> None:
        if trainer.distributed.is_main:
            with self.weights(trainer):
                self.evaluate(trainer)
        trainer.distributed.barrier()

    def evaluate(self, trainer) -> None:
        """Score, append the entry to the history, log it and announce it (rank 0 only)."""
        state = trainer.state
        results = dev_results(trainer.model, trainer.tasks,
                              progress=trainer.progress_mode == "bar",
                              after_batch=self.after_batch)
        entry = {"epoch": state.epoch, "step": state.global_step, "metrics": results,
                 "loss_weights": trainer.weighting.current_weights(),
                 "train_seconds": round(state.train_seconds, 2),
                 "elapsed_s": round(state.elapsed(), 2),
                 "trainable_parameters": count_parameters(trainer.model)}
        if results and len(results) == len(trainer.tasks):
            score = main_score(results, trainer.tasks)
            if score is not None:  # None: a main metric is undefined (all scores equal)
                entry["score"] = score
        state.history.append(entry)
        trainer.log(format_results(results, title=f"dev after step {state.global_step}"))
        trainer.fire("on_evaluated", entry)
