"""TrainingOptions: every setting of the training loop, checked where it enters.

The fields are the one list of option names: a config file's "options" use them as keys, and
train.py makes a flag of each field that has a help text (runs.add_option_flags), so a new
option is one line here. Values are checked on creation, and `check_option` checks one value
with the name of its source ("--epochs", "configs/x.json: options.epochs") in the message.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..errors import InputError
from ..tasks.samplers import SAMPLERS
from .gradient_surgery import GRADIENT_SURGERIES
from .weighting import WEIGHTINGS

START = "start"  # --distill-from's default: the encoder the run starts from; another model is
# read by training/start.py (distillation_target), where every model a run starts from is read


def option(default, help: str, **extra):
    """A TrainingOptions field with its --help text (train.py makes a flag of each)."""
    return field(default=default, metadata={"help": help, **extra})


def _number(low: float, high: float = math.inf, integer: bool = False, low_open: bool = False,
            high_open: bool = False):
    """A check that a value is a number in a range; returns (test, what it must be)."""
    def test(value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            return False
        if not math.isfinite(value):
            return False
        return (low < value if low_open else low <= value) and \
            (value < high if high_open else value <= high)
    kind = "an integer" if integer else "a number"
    bounds = [f"{'>' if low_open else '>='} {low:g}"] + \
        ([f"{'<' if high_open else '<='} {high:g}"] if high != math.inf else [])
    return test, f"{kind} {' and '.join(bounds)}"


@dataclass
class TrainingOptions:
    """Everything the loop needs besides the model and the data. Every field is also a key of a
    config file's "options" and (most) a flag of train.py; values are checked on creation."""

    epochs: int = option(3, "passes over the training data")
    batch_size: int = option(16, "examples per step (the global batch under torchrun)")
    lr: float = option(5e-5, "learning rate of the encoder's top layer (from scratch: 1e-3)")
    head_lr: float | None = option(None, "learning rate of the heads (default: 10 x lr, since "
                                         "they start from random)")
    head_hidden_lr_factor: float = option(1.0, "an MLP head's hidden layer (--head-hidden) trains "
                                               "at this multiple of the head's rate")
    layer_decay: float = option(1.0, "layer-wise LR decay d: depth k trains at lr * d**(N-k); "
                                     "d < 1 keeps lower layers slower, d > 1 makes them faster")
    weight_decay: float = option(0.01, "AdamW weight decay (matrices only)")
    warmup: float = option(0.1, "fraction of all steps spent warming the learning rate up")
    max_grad_norm: float = option(1.0, "gradient clipping: largest global gradient norm")
    sampler: str = option("proportional", "which task each step trains", choices=SAMPLERS)
    batching: str = option("packed", "packed: batches drawn at random, the encoder run on their "
                           "real tokens only (packed.py: the same function as random, faster); "
                           "random: the same batches through the padded reference path; length: "
                           "batches of similar lengths in a random order (faster still, but it "
                           "changes the batches; speeds and scores: benchmarks/README.md)",
                           choices=("packed", "random", "length"))
    temperature: float = option(2.0, "T of the temperature sampler")
    loss_weights: dict[str, float] = field(default_factory=dict)  # per task, default 1.0
    loss_weighting: str = option("static", "static: the --loss-weight values; uncertainty: one "
                                           "learned log-variance per task (Kendall et al. 2018)",
                                 choices=WEIGHTINGS)
    # Levers that act under clipping (issue 30; docs/experiments.md, "Levers under clipping").
    step_scales: dict[str, float] = field(default_factory=dict)  # per task, default 1.0
    distill_weight: float = option(0.0, "weight of a term that holds each batch's sentence "
                                        "embeddings near the starting encoder's, 1 - cosine "
                                        "(distillation.py; 0: off, no copy of the encoder made)")
    distill_from: str = option(START, "whose embeddings --distill-weight holds them near: start "
                                        "(the encoder the run starts from), or a model or run "
                                        "with the same vocabulary (a single-task run, say)",
                               metavar="MODEL")
    # per task, default distill_weight: the term's weight on that task's batches (0: none there)
    distill_task_weights: dict[str, float] = field(default_factory=dict)
    # per task, default distill_from: whose embeddings that task's batches are held near, a model
    # or run, or the name of a task of the config (its single-task run, which train.py trains
    # first into RUN/teachers/NAME: teacher_stage.py)
    distill_teachers: dict[str, str] = field(default_factory=dict)
    ema_decay: float = option(0.0, "keep an exponential moving average of the weights with this "
                                   "decay (0.999: about the last 1,000 steps); evaluations and "
                                   "RUN/best use the average, training the live weights "
                                   "(callbacks/weight_averaging.py; 0: off)")
    tasks_per_step: int = option(1, "tasks mixed in one step: a batch of each, their gradients "
                                    "summed (or combined by --gradient-surgery)")
    gradient_surgery: str = option("none", "none: a mixed step sums its tasks' gradients; "
                                           "pcgrad: each is first projected off the others it "
                                           "conflicts with (Yu et al. 2020; gradient_surgery.py)",
                                   choices=GRADIENT_SURGERIES)
    freeze: str = option("none", "what does not train: a strategy of freezing.py",
                         metavar="STRATEGY")
    unfreeze_every: int = 0  # gradual unfreezing: one more depth from the top every N units
    unfreeze_unit: str = "epochs"  # epochs | steps
    eval_every: int = option(0, "also evaluate every N steps (0: at the end of each epoch only)")
    eval_start: bool = option(False, "also score the dev sets before the first step, so that "
                                     "RUN/best keeps the starting weights when no later "
                                     "evaluation beats them (a second stage from --init then "
                                     "never ends below its start on the dev sets)")
    log_every: int = option(50, "a training record in RUN/metrics.jsonl, and a progress line "
                                "when not on a terminal, every N steps")
    seed: int = option(0, "random seed: same seed, same run")

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            check_option(name, value)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def heads_rate(self) -> float:
        """The heads' learning rate: head_lr, or 10 x lr (they start from random)."""
        return self.head_lr if self.head_lr is not None else 10 * self.lr


# Upper bounds, so that nothing computed from an option overflows: a count of steps or epochs
# (total steps, warm-up steps as floats); a rate (the layer rates lr * d**(N-k) for up to
# MAX_SIZES' 128 layers stay below 10 * 10**128, far inside a float); a weight on a loss.
MAX_COUNT = 10**9
MAX_RATE = 10.0  # lr and head_lr: no Adam rate is larger; and the layer decay d
MAX_WEIGHT = 1e6  # loss and distillation weights, step scales, weight decay, the MLP factor

# The per-task options, {task name: a number >= 0, or a teacher}, and the flag that gives each.
PER_TASK_FLAGS = {"loss_weights": "--loss-weight", "step_scales": "--step-scale",
                  "distill_task_weights": "--distill-task-weight",
                  "distill_teachers": "--distill-teacher"}
_task_numbers = (lambda v: isinstance(v, dict) and all(
    isinstance(k, str) and _number(0, MAX_WEIGHT)[0](w) for k, w in v.items()),
    f"an object of task names to numbers >= 0 and <= {MAX_WEIGHT:g}")

# What each option must be: (test, description). Choices are checked from the fields' metadata.
OPTION_CHECKS = {
    "epochs": _number(1, MAX_COUNT, integer=True),
    "batch_size": _number(1, MAX_COUNT, integer=True),
    "lr": _number(0, MAX_RATE, low_open=True), "layer_decay": _number(0, MAX_RATE, low_open=True),
    "head_hidden_lr_factor": _number(0, MAX_WEIGHT, low_open=True),
    "weight_decay": _number(0, MAX_WEIGHT), "warmup": _number(0, 1, high_open=True),
    "max_grad_norm": _number(0, low_open=True), "temperature": _number(0, low_open=True),
    "unfreeze_every": _number(0, MAX_COUNT, integer=True),
    "eval_every": _number(0, MAX_COUNT, integer=True),
    "log_every": _number(1, MAX_COUNT, integer=True),
    "distill_weight": _number(0, MAX_WEIGHT), "ema_decay": _number(0, 1, high_open=True),
    "tasks_per_step": _number(1, MAX_COUNT, integer=True),
    "seed": _number(0, 2**32 - 1, integer=True),  # torch's seeds; derived seeds stay in 64 bits
    "head_lr": (lambda v: v is None or _number(0, MAX_RATE, low_open=True)[0](v),
                _number(0, MAX_RATE, low_open=True)[1]),
    "freeze": (lambda v: isinstance(v, str), "a string"),
    "distill_from": (lambda v: isinstance(v, str) and v.strip() != "", "start or a model name"),
    "unfreeze_unit": (lambda v: v in ("epochs", "steps"), "epochs or steps"),
    "eval_start": (lambda v: isinstance(v, bool), "true or false"),
    "loss_weights": _task_numbers, "step_scales": _task_numbers,
    "distill_task_weights": _task_numbers,
    "distill_teachers": (lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(w, str) and w.strip() for k, w in v.items()),
        "an object of task names to teachers (a task name or a model)"),
}


def check_option(name: str, value, label: str | None = None) -> None:
    """Raise InputError unless `value` is valid for the TrainingOptions field `name`; the
    message calls the option `label` (a flag, say), by default "option NAME"."""
    label = label or f"option {name}"
    fields = {f.name: f for f in dataclasses.fields(TrainingOptions)}
    if name not in fields:
        raise InputError(f"unknown training option {label!r}; the options are "
                         f"{', '.join(fields)}")
    choices = fields[name].metadata.get("choices")
    if choices is not None and value not in choices:
        raise InputError(f"{label} must be one of {', '.join(choices)}, got {value!r}")
    if name in OPTION_CHECKS and not OPTION_CHECKS[name][0](value):
        raise InputError(f"{label} must be {OPTION_CHECKS[name][1]}, got {value!r}")


def check_run_options(options: TrainingOptions, task_names: list[str], processes: int,
                      tasks: list | None = None) -> None:
    """Refuse combinations of options that would not do what they say with these tasks and
    this many processes (torchrun's); each value alone was checked on creation. Called before
    any data is read or any model is built (runs.prepare_run), and by a Trainer built by hand;
    given the loaded `tasks` (TaskData), also that each has a training example per process."""
    k = options.tasks_per_step
    if options.batch_size % processes:
        raise InputError(f"batch_size (--batch-size) {options.batch_size}, the global batch, "
                         f"must be a multiple of the number of processes, {processes}")
    if k > len(task_names):
        raise InputError(f"tasks_per_step (--tasks-per-step) {k}: a step mixes different "
                         f"tasks, and this run has {len(task_names)}")
    if options.gradient_surgery != "none" and k < 2:
        raise InputError(f"gradient surgery (--gradient-surgery {options.gradient_surgery}) "
                         f"acts on steps that mix tasks: give --tasks-per-step 2 or more")
    if k > 1 and options.step_scales:
        raise InputError("step scales (--step-scale) act on one-task steps; in a mixed step "
                         "(--tasks-per-step) the loss weights (--loss-weight) set each "
                         "task's share, since clipping shrinks the summed gradient as a whole")
    if k > 1 and processes > 1:
        raise InputError("--tasks-per-step above 1 is not supported under torchrun yet")
    if options.distill_from != START and options.distill_weight == 0:
        raise InputError(f"--distill-from {options.distill_from} names whose embeddings to "
                         f"hold near; give the term a weight too (--distill-weight X > 0)")
    if options.distill_task_weights and options.distill_weight == 0:
        raise InputError("--distill-task-weight sets the distillation term's weight on some "
                         "tasks; turn the term on too (--distill-weight X > 0)")
    if options.distill_teachers and options.distill_weight == 0:
        raise InputError("--distill-teacher names whose embeddings some tasks' batches are held "
                         "near; turn the term on too (--distill-weight X > 0)")
    for name, flag in PER_TASK_FLAGS.items():
        unknown = set(getattr(options, name)) - set(task_names)
        if unknown:
            raise InputError(f"{flag} for unknown task(s) {', '.join(sorted(unknown))}; "
                             f"tasks: {', '.join(task_names)}")
    if options.loss_weighting == "uncertainty" and options.loss_weights:
        raise InputError("--loss-weight and uncertainty weighting exclude each other: "
                         "uncertainty weighting learns the weights")
    too_small = [t.spec.name for t in tasks or () if len(t.train) < processes]
    if too_small:  # a rank with an empty shard would wait for a batch forever
        raise InputError(f"task(s) {', '.join(too_small)} have fewer training examples than "
                         f"the {processes} processes")
    if (options.unfreeze_every and options.freeze != "none"
            and not options.freeze.startswith("head:")):
        raise InputError("gradual unfreezing starts from a frozen encoder by itself; it "
                         "combines only with --freeze none or head:NAME")
