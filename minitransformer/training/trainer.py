"""The multi-task training loop: epochs, steps, and the arithmetic of a step.

Each step a sampler picks a task; the next batch of that task runs through the shared encoder
and the task's head, and the task's weighted loss  w_task * loss_task  is back-propagated (w
fixed or learned: weighting.py). AdamW on layer-wise rate groups (optimizer.py), clipping, warm-up
then linear decay. Three levers act inside the step, each off by default: a task's steps move
the encoder s times as far (step_scaling.py); a term holds the embeddings near another
encoder's (distillation.py); a step mixes k tasks' gradients (gradient_surgery.py).

The rest reacts to the loop's events, a callback each (callbacks/base.py lists them).

Same seed, same run: example order and task sampler come from (seed, epoch), step s's dropout
masks from (seed, s, rank), seeded afresh each step; a run resumed after k steps of an epoch
rebuilds its streams, skips their first k draws, and computes an uninterrupted run's losses.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from ..model.encoder import Encoder
from ..model.tokenizer import Tokenizer
from ..tasks.data import TaskData, endless_batches, to_device
from ..tasks.heads import MultiTaskModel
from ..tasks.samplers import draw_different, make_sampler
from .best_and_last import RunCheckpoints
from .callbacks import Callback, CheckpointSaving, StepDone, default_callbacks
from .distillation import EmbeddingDistillation
from .distributed import DistributedContext
from .freezing import freeze_for_run
from .gradient_surgery import mixed_task_gradients
from .optimizer import make_optimizer, set_learning_rates, warmup_linear_factor
from .options import TrainingOptions, check_run_options
from .progress import resolved_mode
from .seeds import derive_seed
from .state import TrainingState
from .step_scaling import StepScales
from .weighting import make_weighting


class Trainer:
    def __init__(self, model: MultiTaskModel, tokenizer: Tokenizer, tasks: list[TaskData],
                 options: TrainingOptions, run_dir: str | Path, log=print,
                 progress: str = "auto", distributed: DistributedContext = DistributedContext(),
                 distill_target: Encoder | None = None, callbacks: list[Callback] = (),
                 distill_teachers: dict[str, Encoder] | None = None):
        """progress: "auto", "bar", "lines" or "off"; distill_target: --distill-from's encoder
        (None: the start); distill_teachers: {task: its --distill-teacher's}; callbacks: yours."""
        self.model, self.tokenizer, self.tasks, self.options = model, tokenizer, tasks, options
        self.run_dir, self.distributed = Path(run_dir), distributed
        self.log = log if distributed.is_main else (lambda *args: None)  # rank 0 speaks
        self.progress_mode = resolved_mode(progress) if distributed.is_main else "off"
        self.device, self.task_by_name = next(model.parameters()).device, {
            task.spec.name: task for task in tasks}
        check_run_options(options, list(self.task_by_name), distributed.world_size, tasks)
        self.local_batch_size = options.batch_size // distributed.world_size
        batches = sum(math.ceil(len(t.train) / options.batch_size) for t in tasks)  # an epoch's
        self.steps_per_epoch = math.ceil(batches / options.tasks_per_step)  # k to a mixed step
        self.total_steps = self.steps_per_epoch * options.epochs
        self.warmup_steps = int(options.warmup * self.total_steps)
        model.packed = options.batching == "packed"  # the padding-free path, in training too
        self.step_scales = StepScales(list(self.task_by_name), options.step_scales)
        self.distillation = (EmbeddingDistillation(model, options.distill_weight, distill_target,
                                                   options.distill_task_weights, distill_teachers)
                             if options.distill_weight > 0 else None)
        self.frozen, unfreezing = freeze_for_run(model, options.freeze, options.unfreeze_every * (
            self.steps_per_epoch if options.unfreeze_unit == "epochs" else 1))
        self.weighting = make_weighting(options.loss_weighting, list(self.task_by_name),
                                        options.loss_weights).to(self.device)
        self.optimizer, self.group_infos = make_optimizer(model, self.weighting, options)
        self.wrap_for_distributed()
        self.state, self.resumed, self.should_stop = TrainingState(), False, False
        self.checkpoints = RunCheckpoints(self.run_dir, model, tokenizer, tasks, options)
        self.callbacks = default_callbacks(self.checkpoints, unfreezing, options) + [*callbacks]

    def fire(self, event: str, *arguments) -> None:
        """Call `event` (a Callback method's name) on every callback, in order."""
        for callback in self.callbacks:
            getattr(callback, event)(self, *arguments)

    def find(self, kind: type):  # the first callback of this type, or None
        return next((c for c in self.callbacks if isinstance(c, kind)), None)

    def _stopping(self) -> bool:
        """Whether a callback asked to stop, on any rank (all ranks must leave together)."""
        self.should_stop = self.distributed.any(self.should_stop)
        return self.should_stop

    def wrap_for_distributed(self) -> None:
        """The module the steps call: the model, or DDP around it (again when unfreezing)."""
        self.training_model = self.distributed.wrap(self.model)

    def restore(self) -> None:  # from RUN/last; another run's checkpoint is refused
        self.find(CheckpointSaving).restore(self)
        self.resumed = True

    def train(self, resume: bool = False) -> dict:
        """Train to the last epoch (resume: restore RUN/last first); the last evaluation."""
        if resume and not self.resumed:
            self.restore()
        self.state.started = time.perf_counter()
        self.fire("on_start")
        try:
            # The start is a candidate for RUN/best, so a run that only makes things worse keeps it
            if self.options.eval_start and self.state.global_step == 0 and \
                    not any(entry["step"] == 0 for entry in self.state.history):
                self.fire("on_evaluation_due")
            while self.state.epoch < self.options.epochs and not self._stopping():
                self._train_epoch()
                if self.state.step_in_epoch == self.steps_per_epoch:  # not stopped early
                    self.state.epoch, self.state.step_in_epoch = self.state.epoch + 1, 0
                    self.fire("on_evaluation_due")
                    self.fire("on_epoch_end")
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: RUN/last is saved, then it goes on up
            self.fire("on_end", True)
            raise
        self.fire("on_end", False)
        return self.state.history[-1] if self.state.history else {}

    def _train_epoch(self) -> None:
        state, options, seed = self.state, self.options, self.options.seed
        sampler = make_sampler(options.sampler, {t.spec.name: len(t.train) for t in self.tasks},
                               derive_seed(seed, "epoch", state.epoch, "tasks"),
                               options.temperature)
        streams = {name: endless_batches(task.train, self.local_batch_size,
                                         derive_seed(seed, "epoch", state.epoch, "batches", name),
                                         self.distributed.rank, self.distributed.world_size,
                                         by_length=options.batching == "length")
                   for name, task in self.task_by_name.items()}
        for _ in range(state.step_in_epoch):  # resuming mid-epoch: replay the draws
            for name in draw_different(sampler, options.tasks_per_step):
                next(streams[name])
        self.model.train_unfrozen()
        while state.step_in_epoch < self.steps_per_epoch and not self._stopping():
            started = time.perf_counter()
            names = draw_different(sampler, options.tasks_per_step)
            batches = [next(streams[name]) for name in names]
            self.fire("on_step_begin", names, batches)
            losses = ([self._step(names[0], batches[0])] if len(names) == 1 else
                      self._mixed_step(names, batches))
            self.fire("on_step_end", StepDone(
                names, [len(next(iter(b.values()))) for b in batches], losses, started))
            if options.eval_every and state.global_step % options.eval_every == 0:
                self.fire("on_evaluation_due")
                self.model.train_unfrozen()  # scoring left the model in eval mode

    def _step(self, name: str, batch: dict) -> float:
        """One step of one task; returns its logged loss."""
        self._begin_step()
        loss = self._task_loss(name, batch)
        if loss.requires_grad:  # else this task's head and the encoder are all frozen
            loss.backward()
        # After _begin_step set the schedule's rates: this step's encoder rate times its scale.
        self.step_scales.apply(self.optimizer, self.model.encoder, name)
        return self._end_step([name], [loss])[0]

    def _mixed_step(self, names: list[str], batches: list[dict]) -> list[float]:
        """One step of k tasks, their encoder gradients combined (gradient_surgery.py)."""
        self._begin_step()
        order = torch.Generator().manual_seed(derive_seed(self.options.seed, "pcgrad",
                                                          self.state.global_step))
        losses = mixed_task_gradients(self.model.encoder, [
            lambda name=name, batch=batch: self._task_loss(name, batch)
            for name, batch in zip(names, batches)], self.options.gradient_surgery, order)
        return self._end_step(names, losses)

    def _begin_step(self) -> None:
        # This step's dropout masks, each rank its own (manual_seed seeds CUDA too).
        torch.manual_seed(derive_seed(self.options.seed, "dropout", self.state.global_step,
                                      self.distributed.rank))
        set_learning_rates(self.optimizer, warmup_linear_factor(
            self.state.global_step, self.warmup_steps, self.total_steps))

    def _task_loss(self, name: str, batch: dict) -> torch.Tensor:
        """The weighted loss of one task's batch, plus the distillation term where it is on."""
        batch = to_device(batch, self.device)
        if self.distillation is None or self.distillation.weight_for(name) == 0:
            return self.weighting(name, self.training_model(name, batch).loss)
        with self.distillation.recording() as recorded:
            output = self.training_model(name, batch)
        return self.weighting(name, output.loss) + self.distillation.loss(recorded, name)

    def _end_step(self, names: list[str], losses: list[torch.Tensor]) -> list[float]:
        """Clip, step and count; returns the tasks' logged losses (under DDP the mean over
        ranks, so that a bad loss stops every rank); the step's is their sum."""
        values = [self.distributed.mean(loss.item()) for loss in losses]
        for name, value in zip(names, values):
            self.fire("on_loss", name, value)
        self.distributed.average_gradients(self.weighting.parameters())
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.options.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step_in_epoch += 1
        self.state.global_step += 1
        self.state.losses.append(sum(values))
        return values
