"""TrainingState: where a run stands, the one thing a resumed run needs back besides weights and
optimizer.

The loop moves the counters; the callbacks (callbacks/) read them and keep their own part here
too (the metrics window, the evaluations, the best score), so that saving the state saves all
of it and a callback holds nothing a resumed run would miss. RUN/last/config.json's "progress",
"history" and "best_score", and training_state.pt's "losses" (and "averaged_weights"), are this
object written out.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class MetricsWindow:
    """The steps since the last training record, which the next record averages."""

    losses: dict[str, list[float]] = field(default_factory=dict)  # task: [loss sum, steps]
    examples: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"losses": self.losses, "examples": self.examples, "seconds": self.seconds}


@dataclass
class TrainingState:
    epoch: int = 0  # epochs finished
    step_in_epoch: int = 0  # steps taken in the epoch under way
    global_step: int = 0  # steps taken in all
    losses: list[float] = field(default_factory=list)  # every step's logged loss
    history: list[dict] = field(default_factory=list)  # one entry per dev evaluation
    best_score: float = -math.inf  # the best mean dev score so far (-inf: none scored yet)
    window: MetricsWindow = field(default_factory=MetricsWindow)
    train_seconds: float = 0.0  # time in training steps (not evaluation), all sessions
    elapsed_before: float = 0.0  # wall seconds of the earlier sessions of a resumed run
    started: float = field(default_factory=time.perf_counter)  # this session's clock
    # --ema-decay's average of each parameter (callbacks/weight_averaging.py), else None
    averaged_weights: dict | None = None

    def elapsed(self) -> float:
        """Wall seconds since the run began, earlier sessions of a resumed run included."""
        return self.elapsed_before + time.perf_counter() - self.started

    def progress(self) -> dict:
        """The checkpoint's "progress" object."""
        return {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                "global_step": self.global_step, "train_seconds": round(self.train_seconds, 2),
                "elapsed_s": round(self.elapsed(), 2), "window": self.window.to_dict()}

    @classmethod
    def saved(cls, progress: dict, history: list[dict], best_score: float,
              losses: list[float], averaged_weights: dict | None = None) -> "TrainingState":
        """The state a checkpoint wrote (the inverse of progress() with the rest)."""
        window = progress["window"]
        return cls(epoch=progress["epoch"], step_in_epoch=progress["step_in_epoch"],
                   global_step=progress["global_step"], losses=list(losses), history=history,
                   best_score=best_score,
                   window=MetricsWindow({task: list(total)
                                         for task, total in window["losses"].items()},
                                        window["examples"], window["seconds"]),
                   train_seconds=progress["train_seconds"], elapsed_before=progress["elapsed_s"],
                   averaged_weights=averaged_weights)
