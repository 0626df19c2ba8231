"""TrainingLog: RUN/metrics.jsonl's records and the progress shown to the person watching.

Every step's loss goes into a window (trainer.state.window, so that a resumed run goes on with
it); every `log_every` steps, and before each evaluation, the window becomes one "train" record
per task that trained in it; during the warm-up also at steps 1, 2, 4, 8, ... below `log_every`,
so that the curves show it. Each evaluation adds an "eval" record. progress.py has the format.
"""

from __future__ import annotations

import time

from ..memory import resident_mib
from ..optimizer import warmup_linear_factor
from ..progress import METRICS_FILE, MetricsLog, Progress
from .base import Callback, StepDone


class TrainingLog(Callback):
    def __init__(self):
        self.metrics: MetricsLog | None = None  # rank 0 only
        self.progress: Progress | None = None
        self.running: dict[str, float] = {}  # a smoothed loss per task, for the person watching

    def on_start(self, trainer) -> None:
        if trainer.distributed.is_main:  # a resumed run drops the records after its checkpoint
            self.metrics = MetricsLog(trainer.run_dir / METRICS_FILE,
                                      keep_until_step=trainer.state.global_step
                                      if trainer.resumed else None)
        self.progress = Progress(trainer.progress_mode, trainer.total_steps,
                                 trainer.options.log_every, trainer.log)

    def on_step_end(self, trainer, step: StepDone) -> None:
        state, window = trainer.state, trainer.state.window
        seconds = time.perf_counter() - step.started  # after HeapTrim, which is part of a step
        state.train_seconds += seconds  # training steps only: evaluations are not counted
        for name, examples, loss in zip(step.tasks, step.examples, step.losses):
            total = window.losses.setdefault(name, [0.0, 0])
            total[0], total[1] = total[0] + loss, total[1] + 1
            window.examples += examples * trainer.distributed.world_size  # the global batch
            window.seconds += seconds / len(step.tasks)
            self.running[name] = (0.9 * self.running[name] + 0.1 * loss
                                  if name in self.running else loss)
        shown = {t.spec.name: self.running[t.spec.name] for t in trainer.tasks
                 if t.spec.name in self.running}
        self.progress.update(state.global_step, state.epoch + 1, trainer.options.epochs, shown,
                             window.examples / max(window.seconds, 1e-9), state.elapsed())
        step, every = state.global_step, trainer.options.log_every
        early = step < every and step <= trainer.warmup_steps and step & (step - 1) == 0
        if step % every == 0 or early:  # early: steps 1, 2, 4, 8, ... of the warm-up, to show it
            self.write_training_records(trainer)

    def on_evaluation_due(self, trainer) -> None:
        if trainer.state.window.losses:  # the loss curve reaches every evaluation
            self.write_training_records(trainer)

    def on_evaluated(self, trainer, entry: dict) -> None:
        self.metrics.write({"type": "eval", "step": entry["step"], "epoch": entry["epoch"],
                            "metrics": entry["metrics"], "score": entry.get("score"),
                            "elapsed_s": entry["elapsed_s"], **resident_mib()})

    def on_epoch_end(self, trainer) -> None:
        self.running = {}

    def on_end(self, trainer, interrupted: bool) -> None:
        self.progress.close()

    def write_training_records(self, trainer) -> None:
        """One record per task that trained since the last one; empty the window."""
        state, options = trainer.state, trainer.options
        if self.metrics is not None:
            factor = warmup_linear_factor(state.global_step - 1, trainer.warmup_steps,
                                          trainer.total_steps)
            window = state.window
            for task, (loss_sum, steps) in window.losses.items():
                self.metrics.write({
                    "type": "train", "step": state.global_step, "epoch": state.epoch + 1,
                    "task": task, "loss": loss_sum / steps, "steps": steps,
                    "lr": options.lr * factor, "head_lr": options.heads_rate * factor,
                    "examples_per_s": round(window.examples / max(window.seconds, 1e-9), 2),
                    "elapsed_s": round(state.elapsed(), 2),
                    **resident_mib()})  # memory over steps (Linux), see memory.py
        state.window = type(state.window)()
