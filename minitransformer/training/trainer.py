"""The multi-task training loop.

Each step: a sampler picks a task, the next batch of that task runs through the shared encoder
and that task's head, and the task's weighted loss is back-propagated:

    loss = w_task * loss_task(head_task(encoder(batch)))      (one task per step)

with w fixed or learned (weighting.py; the logged loss is the weighted one, so with learned
weights it includes their regulariser and can go below 0). AdamW on layer-wise learning-rate
groups (optim.py), gradient clipping, warm-up then linear decay; parts of the model can be
frozen or unfrozen gradually (freezing.py), and several processes share the work under
torchrun (distributed.py). At the end of every epoch (and every `eval_every` steps, or before
the first step with `eval_start`, on request) every task is scored on its dev set; the best
checkpoint (by the mean of the tasks' main metrics) is kept in RUN/best, the latest in RUN/last
(resumable); what those checkpoints hold and what resuming checks is RunCheckpoints' business
(run_checkpoints.py).

Levers that act under clipping (issue 30), each off by default: a task's steps can move the
encoder s times as far (step_scaling.py); a term can hold the embeddings near the starting
encoder's or another model's (distillation.py; the logged loss includes it); and a step can mix k tasks, their
encoder gradients kept apart and summed, or first projected off each other where they
conflict (gradient_surgery.py; the step's logged loss is then the sum of its tasks').

Exact resumption: all randomness is derived from the seed (seeds.derive_seed). The order of
each task's examples and the task sampler come from (seed, epoch); the dropout masks of step s
from (seed, s, rank), seeded afresh before every step, so no random-number state has to be
saved, on any rank or device. Resuming from a checkpoint taken after k steps of an epoch
rebuilds that epoch's streams and skips their first k draws, so the losses equal those of an uninterrupted run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from ..encoder import Encoder
from ..errors import InputError
from ..tasks.data import TaskData, endless_batches, to_device
from ..tasks.evaluation import dev_results, format_results, main_score
from ..tasks.heads import MultiTaskModel
from ..tasks.samplers import make_sampler
from ..tokenizer import Tokenizer
from .distillation import START, EmbeddingDistillation
from .distributed import DistributedContext
from .freezing import GradualUnfreezing, apply_freezing, count_parameters
from .gradient_surgery import combine_gradients, put_gradients, take_gradients
from .memory import heap_trimmer, resident_mib
from .optim import GroupInfo, make_adamw, parameter_groups, set_learning_rates, warmup_linear_factor
from .options import TrainingOptions
from .progress import METRICS_FILE, MetricsLog, Progress
from .run_checkpoints import RunCheckpoints
from .seeds import derive_seed
from .step_scaling import StepScales
from .weighting import make_weighting


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


class Trainer:
    def __init__(self, model: MultiTaskModel, tokenizer: Tokenizer, tasks: list[TaskData],
                 options: TrainingOptions, run_dir: str | Path, log=print,
                 progress: str = "auto", distributed: DistributedContext = DistributedContext(),
                 distill_target: Encoder | None = None):
        """progress: "auto" (a bar on a terminal, else lines), "bar", "lines" or "off";
        distill_target: the encoder --distill-from names (start.distillation_target reads it),
        None for the start."""
        self.model, self.tokenizer, self.tasks, self.options = model, tokenizer, tasks, options
        self.run_dir = Path(run_dir)
        self.distributed = distributed
        self.log = log if distributed.is_main else (lambda *args: None)
        self.progress_mode = progress if distributed.is_main else "off"
        self.device = next(model.parameters()).device
        self.task_by_name = {task.spec.name: task for task in tasks}
        too_small = [t.spec.name for t in tasks if len(t.train) < distributed.world_size]
        if too_small:  # a rank with an empty shard would wait for a batch forever
            raise InputError(f"task(s) {', '.join(too_small)} have fewer training examples than "
                             f"the {distributed.world_size} processes")
        if options.batch_size % distributed.world_size:
            raise InputError(f"batch_size (--batch-size) {options.batch_size}, the global batch, "
                             f"must be a multiple of the number of processes, "
                             f"{distributed.world_size}")
        self.local_batch_size = options.batch_size // distributed.world_size
        self._check_levers(options, distributed)
        # An epoch is as many batches as one-task steps would take; a mixed step takes k of them.
        batches = sum(math.ceil(len(t.train) / options.batch_size) for t in tasks)
        self.steps_per_epoch = math.ceil(batches / options.tasks_per_step)
        self.total_steps = self.steps_per_epoch * options.epochs
        self.warmup_steps = int(options.warmup * self.total_steps)
        self.head_lr = options.head_lr if options.head_lr is not None else 10 * options.lr
        model.packed = options.batching == "packed"  # the padding-free path, in training too
        self.step_scales = StepScales(list(self.task_by_name), options.step_scales)
        # The copy of the start, before anything trains (a resumed run rebuilds the same start
        # in prepare_run before restore() loads RUN/last into the live model).
        if options.distill_weight > 0 and (options.distill_from == START) != (distill_target is None):
            raise ValueError("give the encoder --distill-from names as distill_target "
                             "(training.start.distillation_target reads it), and only then")
        self.distillation = (EmbeddingDistillation(model, options.distill_weight, distill_target,
                                                   options.distill_task_weights)
                             if options.distill_weight > 0 else None)

        self.frozen = apply_freezing(model, options.freeze)
        self.unfreezing = None
        if options.unfreeze_every:
            if options.freeze != "none" and not options.freeze.startswith("head:"):
                raise InputError("gradual unfreezing starts from a frozen encoder by itself; it "
                                 "combines only with --freeze none or head:NAME")
            every = options.unfreeze_every * (self.steps_per_epoch
                                              if options.unfreeze_unit == "epochs" else 1)
            self.unfreezing = GradualUnfreezing(model, every)
            self.frozen = ["the encoder, unfrozen from the top one depth every "
                           f"{every} steps"] + self.frozen
        self.weighting = make_weighting(options.loss_weighting, list(self.task_by_name),
                                        options.loss_weights).to(self.device)
        groups, self.group_infos = parameter_groups(
            model, options.lr, options.weight_decay, options.layer_decay,
            head_lrs={t.spec.name: self.head_lr for t in tasks},
            hidden_lr_factor=options.head_hidden_lr_factor)
        weighting_parameters = list(self.weighting.parameters())
        if weighting_parameters:  # learned log-variances: no decay, which would pull them to 0
            groups.append({"params": weighting_parameters, "lr": self.head_lr,
                           "base_lr": self.head_lr, "weight_decay": 0.0, "name": "loss weights",
                           "names": [f"log_variance {name}" for name in self.task_by_name]})
            self.group_infos.append(GroupInfo("loss weights", None, self.head_lr, 0.0,
                                              len(weighting_parameters), len(weighting_parameters)))
        if count_parameters(model) == 0:
            raise InputError(f"freeze (--freeze) {options.freeze} leaves nothing of the model "
                             f"to train")
        self.optimizer = make_adamw(groups, options.lr)
        self.training_model = self._wrap_for_distributed()
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.history: list[dict] = []  # one entry per evaluation
        self.losses: list[float] = []  # every step's weighted loss, for tests and plots
        self.best_score = -math.inf
        self.train_seconds = 0.0  # time spent in training steps (not evaluation), all epochs
        # Token positions of this session's training batches: real tokens, and all positions
        # (padding included, both sides of a pair); their ratio gives the padding fraction.
        self.real_tokens, self.token_positions = 0, 0
        self.elapsed_before = 0.0  # wall seconds of the earlier sessions of a resumed run
        self.resumed = False  # continued from RUN/last (restore)
        self.started = time.perf_counter()
        self.metrics_log: MetricsLog | None = None
        self.checkpoints = RunCheckpoints(self.run_dir, model, tokenizer, tasks, options)
        # Whether this run has written best/ and last/ (a resumed run: its own from the start).
        self.saved_best = self.saved_last = False
        self.progress: Progress | None = None
        self.trim_heap = None  # set by train(): glibc gives free heap pages back (memory.py)
        # Since the last training record: per task [loss sum, steps]; examples and seconds.
        self.window_losses: dict[str, list[float]] = {}
        self.window_examples, self.window_seconds = 0, 0.0

    def _check_levers(self, options: TrainingOptions, distributed: DistributedContext) -> None:
        """Refuse combinations of the issue-30 levers that would not do what they say."""
        k = options.tasks_per_step
        if k > len(self.tasks):
            raise InputError(f"tasks_per_step (--tasks-per-step) {k}: a step mixes different "
                             f"tasks, and this run has {len(self.tasks)}")
        if options.gradient_surgery != "none" and k < 2:
            raise InputError(f"gradient surgery (--gradient-surgery {options.gradient_surgery}) "
                             f"acts on steps that mix tasks: give --tasks-per-step 2 or more")
        if k > 1 and options.step_scales:
            raise InputError("step scales (--step-scale) act on one-task steps; in a mixed step "
                             "(--tasks-per-step) the loss weights (--loss-weight) set each "
                             "task's share, since clipping shrinks the summed gradient as a whole")
        if k > 1 and distributed.enabled:
            raise InputError("--tasks-per-step above 1 is not supported under torchrun yet")
        if options.distill_from != START and options.distill_weight == 0:
            raise InputError(f"--distill-from {options.distill_from} names whose embeddings to "
                             f"hold near; give the term a weight too (--distill-weight X > 0)")
        if options.distill_task_weights and options.distill_weight == 0:
            raise InputError("--distill-task-weight sets the distillation term's weight on some "
                             "tasks; turn the term on too (--distill-weight X > 0)")
        unknown = set(options.distill_task_weights) - set(self.task_by_name)
        if unknown:
            raise InputError(f"--distill-task-weight for unknown task(s) "
                             f"{', '.join(sorted(unknown))}; tasks: {', '.join(self.task_by_name)}")

    def _wrap_for_distributed(self):
        """The module the training steps call: the model itself, or DDP around it. Rebuilt when
        gradual unfreezing adds parameters: DDP syncs only those trainable when it was built."""
        if not self.distributed.enabled:
            return self.model
        # Each step trains one task, so the other heads get no gradient: DDP must look for
        # unused parameters instead of waiting for their gradients forever.
        return DistributedDataParallel(self.model, find_unused_parameters=True)

    # ---- the streams of one epoch, all derived from (seed, epoch) -------------------------
    def _epoch_streams(self, epoch: int):
        seed = self.options.seed
        sizes = {t.spec.name: len(t.train) for t in self.tasks}
        sampler = make_sampler(self.options.sampler, sizes,
                               seed=derive_seed(seed, "epoch", epoch, "tasks"),
                               temperature=self.options.temperature)
        rank, world_size = self.distributed.rank, self.distributed.world_size
        by_length = self.options.batching == "length"
        streams = {name: endless_batches(t.train, self.local_batch_size,
                                         derive_seed(seed, "epoch", epoch, "batches", name),
                                         rank, world_size, by_length)
                   for name, t in self.task_by_name.items()}
        return sampler, streams

    def train(self, resume: bool = False) -> dict:
        """Train to the last epoch; resume: first restore RUN/last (unless `restore` was called)."""
        if resume and not self.resumed:
            self.restore()
        self.started = time.perf_counter()
        if self.distributed.is_main:
            self.metrics_log = MetricsLog(self.run_dir / METRICS_FILE,
                                          keep_until_step=self.global_step if self.resumed else None)
        self.progress = Progress(self.progress_mode, self.total_steps, self.options.log_every,
                                 self.log)
        # Batches of changing sizes fragment glibc's heap: FDU-MTL's resident memory grew by
        # ~15 MB a step until its free pages were given back whenever they piled up (memory.py).
        self.trim_heap = heap_trimmer()
        self._unfreeze_due()
        try:
            if self.options.eval_start and self.global_step == 0 and \
                    not any(entry["step"] == 0 for entry in self.history):
                # The start is a candidate for RUN/best like any later evaluation (the same dev
                # sets), so a run that only makes things worse keeps what it began with. A run
                # resumed at step 0 (Ctrl-C while the start was scored) still holds the start.
                self._evaluate_and_save(end_of_epoch=False)
            while self.epoch < self.options.epochs:
                self._train_epoch()
                self.epoch, self.step_in_epoch = self.epoch + 1, 0
                self._evaluate_and_save(end_of_epoch=True)
        except KeyboardInterrupt:
            self.progress.close()
            self.log("\ninterrupted: saving the last checkpoint before exiting")
            if self.distributed.is_main:
                self._save(self.checkpoints.last, with_training_state=True)
            raise
        self.progress.close()
        return self.history[-1] if self.history else {}

    def elapsed(self) -> float:
        """Wall seconds since the run began, earlier sessions of a resumed run included."""
        return self.elapsed_before + time.perf_counter() - self.started

    def _train_epoch(self) -> None:
        sampler, streams = self._epoch_streams(self.epoch)
        for _ in range(self.step_in_epoch):  # resuming mid-epoch: replay the draws, no compute
            for name in self._draw_tasks(sampler):
                next(streams[name])
        self.model.train_unfrozen()
        running: dict[str, float] = {}  # a smoothed loss per task, for the person watching
        while self.step_in_epoch < self.steps_per_epoch:
            started = time.perf_counter()
            names = self._draw_tasks(sampler)
            batches = [next(streams[name]) for name in names]
            for name, batch in zip(names, batches):
                self._count_tokens(name, batch)
            losses = ([self._step(names[0], batches[0])] if len(names) == 1 else
                      self._mixed_step(names, batches))
            if self.trim_heap is not None:
                self.trim_heap()  # inside the step's time: it is part of what a step costs
            seconds = time.perf_counter() - started
            self.train_seconds += seconds
            for name, batch, loss in zip(names, batches, losses):
                self._count(name, loss, len(next(iter(batch.values()))), seconds / len(names))
                running[name] = 0.9 * running[name] + 0.1 * loss if name in running else loss
            shown = {t.spec.name: running[t.spec.name] for t in self.tasks if t.spec.name in running}
            self.progress.update(self.global_step, self.epoch + 1, self.options.epochs, shown,
                                 self.window_examples / max(self.window_seconds, 1e-9),
                                 self.elapsed())
            if self.global_step % self.options.log_every == 0:
                self._write_training_records()
            # Before any checkpoint of this step: a saved optimizer must hold every group the
            # step count calls for, or a resumed run could not load it.
            self._unfreeze_due()
            if self.options.eval_every and self.global_step % self.options.eval_every == 0:
                self._evaluate_and_save(end_of_epoch=False)
                self.model.train_unfrozen()

    def _draw_tasks(self, sampler) -> list[str]:
        """The tasks of the next step: the sampler's next draw; with tasks_per_step k, its next
        k different tasks (a draw of a task already in the step is passed over)."""
        names: list[str] = []
        while len(names) < self.options.tasks_per_step:
            name = next(sampler)
            if name not in names:
                names.append(name)
        return names

    def _count_tokens(self, name: str, batch: dict) -> None:
        real, positions = self.task_by_name[name].spec.task_kind.count_tokens(batch)
        self.real_tokens += real
        self.token_positions += positions

    def padding_fraction(self) -> float | None:
        """The share of the training batches' token positions that were padding (this session).
        The reference and length-grouped batching compute all of them in every layer; the packed
        path computes only the real tokens outside attention."""
        if self.token_positions == 0:
            return None
        return 1.0 - self.real_tokens / self.token_positions

    def _count(self, task: str, loss: float, examples: int, seconds: float) -> None:
        """Add one step to the window that the next training record averages."""
        total = self.window_losses.setdefault(task, [0.0, 0])
        total[0], total[1] = total[0] + loss, total[1] + 1
        self.window_examples += examples * self.distributed.world_size  # the global batch
        self.window_seconds += seconds

    def _write_training_records(self) -> None:
        """One metrics.jsonl record per task that trained since the last one; empty the window."""
        if self.metrics_log is not None:
            factor = warmup_linear_factor(self.global_step - 1, self.warmup_steps, self.total_steps)
            for task, (loss_sum, steps) in self.window_losses.items():
                self.metrics_log.write({
                    "type": "train", "step": self.global_step, "epoch": self.epoch + 1,
                    "task": task, "loss": loss_sum / steps, "steps": steps,
                    "lr": self.options.lr * factor, "head_lr": self.head_lr * factor,
                    "examples_per_s": round(self.window_examples / max(self.window_seconds, 1e-9), 2),
                    "elapsed_s": round(self.elapsed(), 2),
                    **resident_mib()})  # memory over steps (Linux), see memory.py
        self.window_losses, self.window_examples, self.window_seconds = {}, 0, 0.0

    def _step(self, name: str, batch: dict) -> float:
        """One step of one task; returns its logged loss."""
        self._begin_step()
        loss, value = self._task_loss(name, batch)
        if loss.requires_grad:  # else this task's head and the encoder are all frozen
            loss.backward()
        # After _begin_step set the schedule's rates: this step's encoder rate times its scale.
        self.step_scales.apply(self.optimizer, self.model.encoder, name)
        self._end_step(value)
        return value

    def _mixed_step(self, names: list[str], batches: list[dict]) -> list[float]:
        """One step of k tasks (tasks_per_step): each task's gradient on the shared encoder is
        taken apart after its backward pass, then combined (summed, after PCGrad if asked) and
        clipped as one. A head's gradient comes from its own task only, so it is left in place.
        Returns the tasks' logged losses; the step's is their sum."""
        self._begin_step()
        shared = [p for p in self.model.encoder.parameters() if p.requires_grad]
        size = sum(p.numel() for p in shared)
        gradients = shared[0].new_zeros(len(names), size) if shared else None  # (k, n)
        reached, values = [False] * len(shared), []
        for index, (name, batch) in enumerate(zip(names, batches)):
            loss, value = self._task_loss(name, batch)
            if loss.requires_grad:
                loss.backward()
            if shared:
                task_reached = take_gradients(shared, gradients[index])
                reached = [a or b for a, b in zip(reached, task_reached)]
            values.append(value)
        if shared:
            order = torch.Generator().manual_seed(derive_seed(self.options.seed, "pcgrad",
                                                              self.global_step))
            put_gradients(shared, combine_gradients(gradients, self.options.gradient_surgery,
                                                    order), reached)
        self._end_step(sum(values))
        return values

    def _begin_step(self) -> None:
        # The dropout masks of this step: each rank its own, as its own examples; on every
        # device, since manual_seed seeds CUDA too.
        torch.manual_seed(derive_seed(self.options.seed, "dropout", self.global_step,
                                      self.distributed.rank))
        set_learning_rates(self.optimizer, warmup_linear_factor(
            self.global_step, self.warmup_steps, self.total_steps))

    def _task_loss(self, name: str, batch: dict) -> tuple[torch.Tensor, float]:
        """The weighted loss of one task's batch (plus the distillation term when on), and its
        value for the log, checked to be finite."""
        if self.distillation is None or self.distillation.weight_for(name) == 0:
            output = self.training_model(name, to_device(batch, self.device))
            loss = self.weighting(name, output.loss)
        else:
            with self.distillation.recording() as recorded:
                output = self.training_model(name, to_device(batch, self.device))
            loss = self.weighting(name, output.loss) + self.distillation.loss(recorded, name)
        # After the forward pass, before backward: only for logging and the NaN check. Under
        # DDP the mean over ranks, so that all ranks stop together on a bad loss.
        value = self.distributed.mean(loss.item())
        if not math.isfinite(value):
            kept = (f"the last good checkpoint of this run is kept in {self.checkpoints.last}"
                    if self.saved_last else "no checkpoint of this run was written yet")
            raise NonFiniteLoss(f"task {name!r} gave a non-finite loss ({value}) at step "
                                f"{self.global_step + 1}; {kept}. Try a lower --lr.")
        return loss, value

    def _end_step(self, value: float) -> None:
        """Clip the gradients, take the optimizer step, count it and log its loss."""
        self.distributed.average_gradients(self.weighting.parameters())
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.options.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_in_epoch += 1
        self.global_step += 1
        self.losses.append(value)

    def _unfreeze_due(self) -> None:
        """Gradual unfreezing: give the depths due by now to the optimizer, at their own rates."""
        if self.unfreezing is None:
            return
        newly = self.unfreezing.advance(self.global_step)
        if not newly:
            return
        in_optimizer = [p for group in self.optimizer.param_groups for p in group["params"]]
        groups, infos = parameter_groups(
            self.model, self.options.lr, self.options.weight_decay, self.options.layer_decay,
            exclude=in_optimizer)
        # Top depth first, the order in which depths join one at a time: a resumed run that
        # unfreezes several at once must rebuild the same group order to load the saved state.
        for group, info in sorted(zip(groups, infos), key=lambda pair: -pair[1].depth):
            self.optimizer.add_param_group(group)  # the other groups keep their Adam state
            self.group_infos.append(info)
        self.model.train_unfrozen()  # the unfrozen blocks leave eval mode
        self.training_model = self._wrap_for_distributed()
        self.log(f"\nstep {self.global_step}: unfroze " +
                 ", ".join("embeddings" if depth == 0 else f"layer {depth}" for depth in newly) +
                 f" ({count_parameters(self.model):,} trainable parameters)")

    # ---- evaluation and checkpoints --------------------------------------------------------
    def _evaluate_and_save(self, end_of_epoch: bool) -> None:
        """Rank 0 scores the dev sets and writes the checkpoints while the others wait."""
        if self.window_losses:  # the loss curve reaches every evaluation
            self._write_training_records()
        if self.distributed.is_main:
            results = dev_results(self.model, self.tasks, progress=self.progress.mode == "bar",
                                  after_batch=self.trim_heap)  # flat through scoring too
            entry = {"epoch": self.epoch, "step": self.global_step, "metrics": results,
                     "loss_weights": self.weighting.current_weights(),
                     "train_seconds": round(self.train_seconds, 2),
                     "elapsed_s": round(self.elapsed(), 2),
                     "trainable_parameters": count_parameters(self.model)}
            if results and len(results) == len(self.tasks):
                score = main_score(results, self.tasks)
                if score is not None:  # None: a main metric is undefined (all scores equal)
                    entry["score"] = score
            self.history.append(entry)
            self.metrics_log.write({"type": "eval", "step": self.global_step, "epoch": self.epoch,
                                    "metrics": results, "score": entry.get("score"),
                                    "elapsed_s": entry["elapsed_s"], **resident_mib()})
            self.log(format_results(results, title=f"dev after step {self.global_step}"))
            if entry.get("score", -math.inf) > self.best_score or not self.saved_best:
                self.best_score = entry.get("score", self.best_score)
                self._save(self.checkpoints.best, with_training_state=False)
                self.saved_best = True
            if end_of_epoch:
                self._save(self.checkpoints.last, with_training_state=True)
        self.distributed.barrier()

    def _save(self, directory: Path, with_training_state: bool) -> None:
        progress = {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                    "global_step": self.global_step,
                    "train_seconds": round(self.train_seconds, 2),
                    "elapsed_s": round(self.elapsed(), 2),
                    # the steps since the last training record, which it will average
                    "window": {"losses": self.window_losses, "examples": self.window_examples,
                               "seconds": self.window_seconds}}
        state = None
        if with_training_state:
            state = {"optimizer": self.optimizer.state_dict(),
                     "weighting": self.weighting.state_dict(), "losses": self.losses}
        self.checkpoints.save(directory, progress, self.history, self.best_score, state)
        self.saved_last |= directory == self.checkpoints.last

    def restore(self) -> None:
        """Continue from RUN/last of the same run: weights, optimizer, loss weights, progress
        and history. A checkpoint of another run (other tasks, model or options) is refused
        with an InputError before anything changes."""
        point = self.checkpoints.read_resume_point()
        progress = point.progress
        self.epoch, self.step_in_epoch = progress["epoch"], progress["step_in_epoch"]
        self.global_step = progress["global_step"]
        self._unfreeze_due()  # the optimizer must have the groups it had when it was saved
        self.checkpoints.load_into(point, self.optimizer, self.weighting)
        self.losses = list(point.training_state["losses"])
        self.history, self.best_score = point.history, point.best_score
        self.train_seconds = progress["train_seconds"]
        self.elapsed_before = progress["elapsed_s"]
        window = progress["window"]
        self.window_losses = {task: list(total) for task, total in window["losses"].items()}
        self.window_examples, self.window_seconds = window["examples"], window["seconds"]
        self.resumed = self.saved_last = True
        self.saved_best = self.checkpoints.best.exists()  # not if stopped before any evaluation
        self.log(f"resumed from {point.directory} at epoch {self.epoch + 1}, step "
                 f"{self.global_step}")
