"""A training run, ready to train: the tasks' data, the model and its trainer; and a saved run
scored on labelled files.

    flags + configs/X.json --RunConfig.read--> RunConfig        (run_config.py)
        --start_encoder--> Start                                (start.py)
        --prepare_run--> Run (tasks, MultiTaskModel, Trainer) --Trainer.train--> RUN/best, RUN/last

Same seed, same run: the seed fixes the scratch weights, the new heads (from any start, each by
its task's name; a run given to --init passes on its trained heads instead), the training
subsample, the data order, the task sampler and the dropout masks, each through its own
derived seed (seeds.py); a scratch start's WordPiece vocabulary is the same in every process
too (model/tokenizer.py, Tokenizer.train).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import devices
from ..errors import InputError
from ..loading import load_model_with_heads
from ..storage.formats import BEST
from ..tasks.data import TaskData, TaskSpec, encode_examples, load_task
from ..tasks.dev_split import PARTS, REPORT, SELECT, split_parts
from ..tasks.heads import MaskedLanguageModelHead, MultiTaskModel
from ..tasks.kinds import read_examples
from ..tasks.scoring import dev_results, format_results, report_results, score_dataset
from .callbacks import Callback, WeightAveraging
from .distributed import DistributedContext
from .freezing import count_parameters
from .memory import heap_trimmer
from .options import check_run_options
from .run_config import RunConfig
from .seeds import derive_seed
from .start import Start, carried_head, distillation_target, new_head, start_encoder
from .teacher_stage import teacher_path
from .trainer import Trainer


# ---- the whole run, ready to train --------------------------------------------------------------
@dataclass
class Run:
    config: RunConfig
    start: Start
    tasks: list[TaskData]
    model: MultiTaskModel
    trainer: Trainer

    def summary(self) -> str:
        """What is about to train, in a few lines for a person."""
        options, trainer = self.config.options, self.trainer
        lines = [f"model: {self.start.description}"]
        for task in self.tasks:
            labels = f", {len(task.label_map)} labels" if task.label_map else ""
            lines.append(f"task {task.spec.name}: {task.spec.kind}, {len(task.train)} train / "
                         f"{len(task.dev) if task.dev else 0} dev examples to select and "
                         f"{len(task.report) if task.report else 0} to report{labels}")
        lines.append(f"training: {options.epochs} epochs x {trainer.steps_per_epoch} steps, batch "
                     f"{options.batch_size}, lr {options.lr:g}, sampler {options.sampler}, seed "
                     f"{options.seed}, {trainer.distributed.world_size} process(es) on "
                     f"{trainer.device}")
        frozen = f" (frozen: {', '.join(trainer.frozen)})" if trainer.frozen else ""
        lines.append(f"trainable parameters: {count_parameters(self.model):,} of "
                     f"{count_parameters(self.model, trainable_only=False):,}{frozen}")
        return "\n".join(lines)


def prepare_run(config: RunConfig, distributed: DistributedContext = DistributedContext(),
                log=print, callbacks: list[Callback] = ()) -> Run:
    """Check the options, read the data, build the model (start encoder + a head per task:
    new, or a run's trained one) and its trainer (with your `callbacks` after its own), and
    restore RUN/last for --resume. Writes nothing (but the shared vocabulary of a scratch
    start under torchrun): the first file of the run is written when training starts."""
    check_run_options(config.options, [spec.name for spec in config.tasks],
                      distributed.world_size)
    device = device_for_rank(config.device, distributed)
    start = start_encoder(config, distributed)
    tasks = [load_task(spec, start.tokenizer, max_train=config.max_train,
                       seed=derive_seed(config.options.seed, "subsample", spec.name))
             for spec in config.tasks]
    heads = {t.spec.name: new_head(t, start.encoder.config, start.tokenizer, config.options.seed)
             for t in tasks}
    carried = []
    for task in tasks:
        name, head = task.spec.name, heads[task.spec.name]
        if isinstance(head, MaskedLanguageModelHead) and start.mlm_head is not None:
            head.load_state_dict(start.mlm_head)  # the checkpoint's own, not a new one
            log(f"task {name}: the masked-LM head of {config.init}")
        if name in start.heads and not config.resume:  # (a resumed run restores its own)
            saved, weights = start.heads[name]
            differs = carried_head(task, saved)
            if differs is None:
                head.load_state_dict(weights)
                carried.append(name)
                log(f"task {name}: its trained head from {config.init}")
            else:
                log(f"task {name}: a new head ({config.init}'s head of that name has {differs})")
    if carried:  # run.json records the start's description
        start.description += f", with its trained head(s) for {', '.join(carried)}"
    model = MultiTaskModel(start.encoder, heads, pooling=config.pooling or start.pooling)
    target = (distillation_target(config.options.distill_from, start, model.pooling_name)
              if config.options.distill_weight > 0 else None)  # no weight: refused before
    teachers = {task: distillation_target(teacher_path(config, teacher), start,
                                          model.pooling_name, f"--distill-teacher {task}")
                for task, teacher in config.options.distill_teachers.items()}
    trainer = Trainer(model.to(device), start.tokenizer, tasks, config.options, config.run_dir,
                      log=log, progress=config.progress, distributed=distributed,
                      distill_target=target, distill_teachers=teachers, callbacks=callbacks)
    if config.resume:  # before anything is written: a checkpoint that does not fit is refused
        trainer.restore()
    return Run(config, start, tasks, model, trainer)


def device_for_rank(name: str | None, distributed: DistributedContext) -> torch.device:
    """--device, or the best device here (devices.py); under torchrun with CUDA, this rank's GPU."""
    device = devices.pick_device(name, "--device")
    if device.type == "cuda" and distributed.enabled:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


# ---- a finished run, scored on both parts of its dev sets ---------------------------------------
def score_both_parts(run: Run) -> dict:
    """RUN/best (chosen on the select part) and the final weights (the model as training left
    it), each scored on every dev set's select and report parts (tasks/dev_split.py):

        {"best": {"step": s, "select": {task: {metric: value}}, "report": {...}},
         "final": {"step": s, "select": {...}, "report": {...}}}

    With --ema-decay also "averaged": the final average of the weights (RUN/best is then an
    average too, and "final" the live weights training left).

    The report numbers are the ones to publish: nothing read them while choosing."""
    scored = {}
    best_step = max((e for e in run.trainer.state.history if "score" in e),
                    key=lambda e: e["score"], default={"step": None})["step"]
    best = load_model_with_heads(run.config.run_dir / BEST).model.to(run.trainer.device)
    for name, model, step in (("best", best, best_step),
                              ("final", run.model, run.trainer.state.global_step)):
        scored[name] = {"step": step, SELECT: dev_results(model, run.tasks),
                        REPORT: report_results(model, run.tasks)}
    averaging = run.trainer.find(WeightAveraging)
    if averaging is not None:  # --ema-decay: the final average too, beside the live weights
        with averaging.averaged_weights_in(run.trainer):
            scored["averaged"] = {"step": run.trainer.state.global_step,
                                  SELECT: dev_results(run.model, run.tasks),
                                  REPORT: report_results(run.model, run.tasks)}
    return scored


def format_both_parts(scored: dict) -> str:
    """The tables of score_both_parts, for a person."""
    return "\n".join(format_results(results, title=f"{name} (step {entry['step']}), {part} part")
                     for name, entry in scored.items() for part in PARTS
                     if (results := entry[part]))


# ---- a saved run, scored on labelled files ------------------------------------------------------
def evaluate_saved_run(path: str | Path, files: list[tuple[str, str]], batch_size: int = 64,
                       progress: bool | None = None, device: torch.device | None = None,
                       part: str = "all") -> dict[str, dict[str, float]]:
    """{task: {metric: value}} of a run's heads (RUN/best, or a checkpoint directory) on files
    in each task's format, with the label maps the heads were trained with; on `device`
    (None: the best here). part: "all" the whole file, or only its "select" or "report" part
    (tasks/dev_split.py: the same rule that splits a run's dev sets)."""
    model, tokenizer, description = load_model_with_heads(path)
    model.to(device or devices.best_device())
    saved = {task["spec"]["name"]: task for task in description["tasks"]}
    results, trim_heap = {}, heap_trimmer()  # a long file's batches vary in size (memory.py)
    for name, file in files:
        if name not in saved:
            raise InputError(f"--task {name}={file}: the run has no task {name!r}; it has "
                             f"{', '.join(saved)}")
        spec, labels = TaskSpec.from_dict(saved[name]["spec"]), saved[name]["label_map"]
        examples = read_examples(file, spec.kind, spec.text_field, spec.label_field,
                                 spec.second_text_field)
        if part != "all":
            examples = split_parts(examples)[part]
            if not examples:
                raise InputError(f"--task {name}={file}: no example of this file falls in its "
                                 f"{part} part")
        data = encode_examples(examples, spec.kind, tokenizer, labels, file)
        results[name] = score_dataset(model, name, data, labels, batch_size, progress, trim_heap)
    return results

