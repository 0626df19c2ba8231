"""A run's two checkpoints, RUN/best and RUN/last, and resuming from RUN/last.

The CheckpointSaving callback decides *when* to save and the loop's state holds the counters;
this class knows *what* a run's checkpoint holds and what must match before a run may go on from
one: the same tasks in the same order, the same SAME_RUN_OPTIONS (batching, the issue-30
levers), an optimizer state of the same groups. A checkpoint that does not fit is refused
with an InputError before anything is changed.

    best/   the weights with the best mean dev score so far (no training state: for use)
    last/   the latest end of epoch (or the moment of Ctrl-C), with the training state: resumable
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import InputError
from ..loading import read_checkpoint_description
from ..model.tokenizer import Tokenizer
from ..storage.formats import BEST, LAST, WEIGHTS_FILE
from ..storage.safetensors_io import read_weights_into
from ..tasks.data import TaskData
from ..tasks.heads import MultiTaskModel
from .options import PER_TASK_FLAGS, TrainingOptions
from .saving import load_training_state, save_checkpoint

# Options that decide what a step computes or how many steps an epoch has (the batches,
# dropout masks and losses depend on them): a run must go on with its own. A checkpoint saved
# before an option existed ran with its default.
SAME_RUN_OPTIONS = ("batching", "tasks_per_step", "gradient_surgery", "distill_weight",
                    "distill_from", "step_scales", "distill_task_weights", "distill_teachers",
                    "ema_decay", "seed")


def as_flags(name: str, value) -> str:
    """An option's value as the flag(s) that give it: '--batching random'."""
    if name in PER_TASK_FLAGS:
        flag = PER_TASK_FLAGS[name]
        return " ".join(f"{flag} {task}={each:g}" if isinstance(each, float) else
                        f"{flag} {task}={each}" for task, each in value.items()) or f"no {flag}"
    return f"--{name.replace('_', '-')} {value}"


@dataclass
class ResumePoint:
    """What RUN/last says about where its run stood, checked against the run resuming it."""

    directory: Path
    progress: dict  # epoch, step_in_epoch, global_step, train_seconds, elapsed_s, window
    history: list[dict]  # one entry per evaluation
    best_score: float  # -inf before the first scored evaluation
    training_state: dict  # optimizer, weighting, losses (saving.load_training_state)


class RunCheckpoints:
    def __init__(self, run_dir: str | Path, model: MultiTaskModel, tokenizer: Tokenizer,
                 tasks: list[TaskData], options: TrainingOptions):
        self.run_dir = Path(run_dir)
        self.model, self.tokenizer, self.tasks, self.options = model, tokenizer, tasks, options
        self.last = self.run_dir / LAST
        self.best = self.run_dir / BEST

    def save(self, directory: Path, progress: dict, history: list[dict], best_score: float,
             training_state: dict | None = None) -> None:
        """Write one of the run's checkpoints (atomically: saving.save_checkpoint)."""
        tasks = [{"spec": t.spec.to_dict(), "label_map": t.label_map} for t in self.tasks]
        extra = {"options": self.options.to_dict(), "progress": progress,
                 "best_score": None if best_score == -math.inf else best_score,
                 "history": history}
        save_checkpoint(directory, self.model, self.tokenizer, tasks, extra, training_state)

    def read_resume_point(self) -> ResumePoint:
        """RUN/last, checked to belong to a run of these tasks and options; changes nothing."""
        description = read_checkpoint_description(self.last)
        saved = [task["spec"]["name"] for task in description["tasks"]]
        ours = [t.spec.name for t in self.tasks]
        if saved != ours:
            raise InputError(f"{self.last}: saved with tasks {', '.join(saved)}, not "
                             f"{', '.join(ours)}; resume with the command that started the run")
        defaults = TrainingOptions().to_dict()
        for name in SAME_RUN_OPTIONS:
            theirs = description["options"].get(name, defaults[name])
            ours = getattr(self.options, name)
            if theirs != ours:
                raise InputError(f"{self.last}: the run trained with {as_flags(name, theirs)}, "
                                 f"not {as_flags(name, ours)}; resume with "
                                 f"{as_flags(name, theirs)}")
        best = description["best_score"]
        return ResumePoint(self.last, description["progress"], description["history"],
                           -math.inf if best is None else best, load_training_state(self.last))

    def load_into(self, point: ResumePoint, optimizer: torch.optim.Optimizer,
                  weighting: torch.nn.Module) -> None:
        """The saved weights into the model, and the saved states into an optimizer that has
        the groups it had when it was saved (CheckpointSaving.restore has them rebuilt first)."""
        read_weights_into(self.model, point.directory / WEIGHTS_FILE)
        try:
            optimizer.load_state_dict(point.training_state["optimizer"])
            weighting.load_state_dict(point.training_state["weighting"])
        except (ValueError, KeyError, RuntimeError, TypeError) as error:
            raise InputError(f"{point.directory}: the saved optimizer does not fit this run's "
                             f"options ({str(error).splitlines()[0]}); resume with the command "
                             f"that started the run") from None
