"""RunConfig: what a run is made of, from train.py's flags and a config file in one pass.

Precedence, written once (`RunConfig.read`): a flag beats the config file, which beats the
field's default. Each default is written once, in the field: the flags are made from the
fields (`add_run_flags`, and `add_option_flags` for TrainingOptions), so a new setting is one
field with its help text. Every value is checked where it enters and a bad one is reported with
its source ("--epochs" or "configs/x.json: options.epochs"), before any file is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..cli import check_writable
from ..errors import InputError, about, shown
from ..loading import is_minilm, minilm_directory
from ..model.config import MAX_SIZES, PRESETS
from ..model.pooling import POOLINGS
from ..storage.formats import BEST, LAST, TEACHERS
from ..storage.text import path_from_file, read_json
from ..tasks.data import TaskSpec
from ..tasks.kinds import SENTENCE_CLASSIFICATION
from ..values import flag_type, is_integer_at_least, parse_float, parse_int
from .options import MAX_COUNT, PER_TASK_FLAGS, START, TrainingOptions, check_option
from .progress import METRICS_FILE, PROGRESS_MODES
from .record import RECORD_FILE
from .saving import TRAINING_STATE

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "default_data"
# With no --config: topic and sentiment of the small dataset that ships inside the package.
DEFAULT_TASKS = [
    {"name": name, "kind": SENTENCE_CLASSIFICATION, "train": str(DEFAULT_DATA / "train.jsonl"),
     "dev": str(DEFAULT_DATA / "dev.jsonl"), "label_field": name}
    for name in ("topic", "sentiment")]
CONFIG_KEYS = ("description", "tasks", "options", "init", "max_length", "max_train")
SCRATCH_LR = 1e-3  # random weights need much larger steps than fine-tuning (5e-5)
RUN_FILES = (RECORD_FILE, METRICS_FILE, BEST, LAST)  # what a run leaves in its directory


def flag(default, help: str, in_config_file: bool = False, **argparse_options):
    """A RunConfig field that train.py offers as a flag --NAME (in_config_file: also a
    top-level key of a config file, which the flag overrides)."""
    return field(default=default, metadata={"help": help, "in_config_file": in_config_file,
                                            **argparse_options})


@dataclass
class RunConfig:
    """Everything a run is made of, after flags and config file are merged and checked."""

    tasks: list[TaskSpec]
    options: TrainingOptions
    init: str = flag(
        "auto", "start from the pretrained MiniLM, from scratch (new WordPiece vocabulary, random "
        "weights), or from a model directory (BERT format, a saved model or a run, whose trained "
        "heads carry over to tasks of the same name and labels); auto: minilm if installed, else "
        "scratch", in_config_file=True, metavar="minilm|scratch|auto|DIR")
    run_dir: Path | None = flag(
        None, "where the run is written (default: runs/<config name> or runs/default)",
        type=Path, metavar="DIR")
    preset: str = flag("small", "encoder preset for --init scratch", choices=tuple(PRESETS))
    norm_placement: str = flag(
        "pre", "LayerNorm placement of a scratch encoder: pre (trains more stably) or post "
        "(BERT's, so python -m minitransformer.export can write it as a BERT)",
        choices=("pre", "post"))
    max_length: int = flag(128, "truncate inputs to N tokens, [CLS] and [SEP] included",
                           in_config_file=True, type=flag_type(parse_int), metavar="N")
    max_train: int | None = flag(
        None, "use a random subsample of at most N training examples per task (a task's own "
        "max_train in the config: the smaller wins)", in_config_file=True,
        type=flag_type(parse_int, low=1), metavar="N")
    pooling: str | None = flag(None, "sentence pooling (default: the starting model's own)",
                               choices=tuple(POOLINGS))
    device: str | None = flag(None, "cpu, cuda, cuda:N or mps (default: the best here: cuda, "
                                    "then mps, then cpu)", metavar="NAME")
    resume: bool = flag(False, "continue from RUN_DIR/last where an earlier run stopped",
                        action="store_true")
    overwrite: bool = flag(False, "replace the run that RUN_DIR holds (without it, a directory "
                                  "holding another run is refused)", action="store_true")
    print_param_groups: bool = flag(False, "print the optimizer's parameter groups and exit "
                                           "(writes nothing)", action="store_true")
    progress: str = flag("auto", "how progress is shown: a bar on a terminal, else lines "
                                 "(auto), or always bar or lines, or off", choices=PROGRESS_MODES)
    config_file: Path | None = None
    # The tasks of the config whose single-task runs teach (options.distill_teachers names them):
    # trained first, into RUN/teachers/NAME (teacher_stage.py)
    teachers: dict[str, TaskSpec] = field(default_factory=dict)

    @property
    def from_scratch(self) -> bool:
        return self.init == "scratch"

    @classmethod
    def read(cls, flags: dict) -> "RunConfig":
        """Merge train.py's flags ({name: value}, None where not given) with the config file
        they name (if any), checking both."""
        path = flags.get("config")
        file = read_config_file(path) if path is not None else {"tasks": DEFAULT_TASKS}
        with about(path):
            specs = [TaskSpec.from_dict(task) for task in file["tasks"]]
        hidden = flags.get("head_hidden")
        if hidden is not None:  # the flag sizes every head that can have the layer
            specs = [dataclasses.replace(spec, head_hidden=hidden)
                     if spec.task_kind.head_can_have_hidden_layer else spec for spec in specs]
        tasks = select_tasks(specs, flags.get("tasks"))
        values = {}
        for item in dataclasses.fields(cls):  # flag > config file > the field's default
            if "help" not in item.metadata:
                continue
            value = flags.get(item.name)
            if value is None and item.metadata["in_config_file"]:
                value = file.get(item.name)
            values[item.name] = item.default if value is None else value
        if values["init"] == "auto":
            values["init"] = "minilm" if minilm_directory() is not None else "scratch"
        if values["run_dir"] is None:
            values["run_dir"] = Path("runs") / (path.stem if path else "default")
        options = merged_options(file, flags, values["init"], [spec.name for spec in tasks])
        teachers = {spec.name: spec for spec in specs
                    if spec.name in options.distill_teachers.values()}
        config = cls(tasks=tasks, options=options, config_file=path, teachers=teachers,
                     **values)
        config.check()
        return config

    def check(self) -> None:
        if not isinstance(self.init, str) or not self.init.strip() or \
                self.init != self.init.strip():  # 'scratch ' would be read as a directory
            raise InputError(f"init (--init, or init in the config) must be minilm, scratch or "
                             f"a directory, without spaces at its ends, got {self.init!r}")
        largest = MAX_SIZES["max_length"]
        if not is_integer_at_least(self.max_length, 4) or self.max_length > largest:
            raise InputError(f"max length (--max-length, or max_length in the config) must be "
                             f"an integer from 4 to {largest:,}, got {self.max_length!r}")
        if self.max_train is not None and not is_integer_at_least(self.max_train, 1):
            raise InputError(f"max_train in the config must be an integer >= 1, got "
                             f"{self.max_train!r}")
        if self.resume and self.overwrite:
            raise InputError("--resume continues the run in --run-dir and --overwrite replaces "
                             "it: give one of them")
        if not self.print_param_groups:  # which writes nothing
            check_run_directory(self.run_dir, self.resume, self.overwrite, bool(self.teachers))


def check_run_directory(run_dir: Path, resume: bool, overwrite: bool,
                        teacher_stage: bool = False) -> None:
    """A run directory is another run's until said otherwise: refuse to write into one that
    holds a run unless --resume (go on with it) or --overwrite (replace it). teacher_stage:
    the run trains teachers first, so --resume may find it stopped among them (RUN/teachers)."""
    check_writable(run_dir, "--run-dir", directory=True)
    if resume:
        if teacher_stage and (run_dir / TEACHERS).is_dir():
            return
        if not (run_dir / LAST / TRAINING_STATE).is_file():
            raise InputError(f"--resume: nothing to resume in {run_dir} (no {LAST}/"
                             f"{TRAINING_STATE}); start without --resume")
        return
    held = [name for name in RUN_FILES if (run_dir / name).exists()]
    if held and not overwrite:
        raise InputError(f"--run-dir {run_dir}: holds another run ({', '.join(held)}); continue "
                         f"it with --resume, replace it with --overwrite, or choose another "
                         f"--run-dir")


def remove_earlier_run(run_dir: Path) -> None:
    """Delete what an earlier run left in `run_dir` (--overwrite, once the new run is ready)."""
    for name in RUN_FILES:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def merged_options(file: dict, flags: dict, init: str,
                   task_names: list[str] | None = None) -> TrainingOptions:
    """The training options: a flag beats the config file's "options", which beat the defaults
    (a scratch start's learning rate: SCRATCH_LR). The file's per-task options apply to the
    tasks of the run (task_names: those --tasks chose; None: all); --distill-weight 0 turns the
    term off with the file's per-task settings of it (a plain single-task run, say)."""
    options = dict(file.get("options", {}))
    if task_names is not None:
        for name in PER_TASK_FLAGS:
            if name in options:
                options[name] = {task: value for task, value in options[name].items()
                                 if task in task_names}
    if init == "scratch":
        options.setdefault("lr", SCRATCH_LR)
    given = flag_options(flags)
    if given.get("distill_weight") == 0:
        for name in ("distill_task_weights", "distill_teachers"):
            options.pop(name, None)
    # per task: a flag replaces that task's value only
    for name in PER_TASK_FLAGS:
        if name in given:
            given[name] = {**options.get(name, {}), **given[name]}
    options.update(given)
    return TrainingOptions(**options)


def read_config_file(path: Path) -> dict:
    """A config file's content, checked; the paths in it (task files, init, distill_from) taken
    relative to the file."""
    config = read_json(path)
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise InputError(f"{path}: unknown key(s) {', '.join(map(shown, unknown))}; a config has "
                         f"{', '.join(CONFIG_KEYS)}")
    tasks = config.get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, dict) for t in tasks):
        raise InputError(f"{path}: 'tasks' must be a non-empty list of task objects")
    for task in tasks:
        for split in ("train", "dev"):
            if isinstance(task.get(split), str):
                task[split] = str(path_from_file(path.parent, task[split], f"{path}: {split}"))
    init = config.get("init")
    if isinstance(init, str) and init.strip() and init not in ("auto", "scratch") \
            and not is_minilm(init):
        config["init"] = str(path_from_file(path.parent, init, f"{path}: init"))  # a model
    options = config.get("options", {})
    if not isinstance(options, dict):
        raise InputError(f"{path}: 'options' must be an object")
    for name, value in options.items():
        with about(path):
            check_option(name, value, label=f"options.{name}")
    teacher = options.get("distill_from", START)
    if teacher != START and not is_minilm(teacher):  # a model, like init: relative to the file
        options["distill_from"] = str(path_from_file(path.parent, teacher,
                                                     f"{path}: options.distill_from"))
    names = {task.get("name") for task in tasks}
    for task, teacher in options.get("distill_teachers", {}).items():
        if teacher not in names and not is_minilm(teacher):  # a model: relative to the file
            options["distill_teachers"][task] = str(path_from_file(
                path.parent, teacher, f"{path}: options.distill_teachers.{task}"))
    return config


def select_tasks(specs: list[TaskSpec], only: str | None) -> list[TaskSpec]:
    """The specs named by --tasks (all when None); names must be unique and known."""
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"task name(s) {', '.join(repeated)} used twice")
    if only is None:
        return specs
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    if not wanted:
        raise InputError(f"--tasks {only!r}: names no task; the tasks are {', '.join(names)}")
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise InputError(f"--tasks: no task {', '.join(unknown)}; the tasks are {', '.join(names)}")
    return [spec for spec in specs if spec.name in wanted]


# ---- the flags, made from the fields -------------------------------------------------------------
def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """--config, --tasks and --head-hidden, then one flag per RunConfig field with a help text."""
    parser.add_argument("--config", type=Path, metavar="FILE.json",
                        help="tasks and options in a JSON file (see configs/); paths in it are "
                             "relative to the file. Flags given here override its options.")
    parser.add_argument("--tasks", metavar="NAME[,NAME]",
                        help="train only these tasks of the config")
    parser.add_argument("--head-hidden", type=flag_type(parse_int, low=1), metavar="N",
                        help="give every classification head a hidden layer of N units (d -> N "
                             "-> ReLU -> classes) instead of one linear layer; per task: "
                             "head_hidden in the config")
    for item in dataclasses.fields(RunConfig):
        if "help" not in item.metadata:
            continue
        options = {key: value for key, value in item.metadata.items()
                   if key not in ("help", "in_config_file")}
        default = "" if item.default in (None, False) else f" (default {item.default})"
        parser.add_argument("--" + item.name.replace("_", "-"), default=None,
                            help=item.metadata["help"] + default, **options)


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainingOptions field that has a help text (see options.option), and the
    options that take their own syntax: --loss-weight, --step-scale, --distill-task-weight and
    --unfreeze-every."""
    for item in dataclasses.fields(TrainingOptions):
        if "help" not in item.metadata:
            continue
        default = item.default
        if isinstance(default, bool):  # --eval-start / --no-eval-start; None: not given
            parser.add_argument("--" + item.name.replace("_", "-"),
                                action=argparse.BooleanOptionalAction, default=None,
                                help=item.metadata["help"] + f" (default {str(default).lower()})")
            continue
        kind = float if default is None else type(default)  # head_lr: None means "10 x lr"
        metavar = item.metadata.get("metavar", {int: "N", float: "X"}.get(kind))
        # numbers through values.py (ASCII digits, finite); their ranges: check_option
        convert = {int: flag_type(parse_int), float: flag_type(parse_float)}.get(kind, kind)
        parser.add_argument(
            "--" + item.name.replace("_", "-"), type=convert, default=None,
            choices=item.metadata.get("choices"), metavar=None if "choices" in item.metadata
            else metavar,
            help=item.metadata["help"] + ("" if default is None else f" (default {default})"))
    parser.add_argument("--loss-weight", action="append", default=[], metavar="TASK=W",
                        help="weight of a task's loss (default 1.0 each); repeatable")
    parser.add_argument("--step-scale", action="append", default=[], metavar="TASK=S",
                        help="a step of TASK moves the encoder S times as far, after clipping "
                             "(default 1.0 each; step_scaling.py); repeatable")
    parser.add_argument("--distill-task-weight", action="append", default=[], metavar="TASK=W",
                        help="the --distill-weight term's weight on TASK's batches instead "
                             "(0: not on them); repeatable")
    parser.add_argument("--distill-teacher", action="append", default=[], metavar="TASK=TEACHER",
                        help="hold TASK's batches near TEACHER's embeddings instead of "
                             "--distill-from's: a model or run, or a task of the config, whose "
                             "single-task run is then trained first, into RUN/teachers/TEACHER "
                             "(a finished one is reused); repeatable")
    parser.add_argument("--unfreeze-every", metavar="N[epochs|steps]",
                        help="gradual unfreezing: heads only at first, then one more encoder "
                             "layer from the top every N epochs (e.g. 1) or steps (200steps)")


def flag_options(flags: dict) -> dict:
    """The TrainingOptions values given as flags, each checked and named by its flag."""
    values = {}
    for item in dataclasses.fields(TrainingOptions):
        value = flags.get(item.name)
        if "help" in item.metadata and value is not None:
            check_option(item.name, value, label="--" + item.name.replace("_", "-"))
            values[item.name] = value
    if flags.get("loss_weight"):
        values["loss_weights"] = parse_task_numbers(flags["loss_weight"], "loss_weights",
                                                    "--loss-weight")
    if flags.get("step_scale"):
        values["step_scales"] = parse_task_numbers(flags["step_scale"], "step_scales",
                                                   "--step-scale")
    if flags.get("distill_task_weight"):
        values["distill_task_weights"] = parse_task_numbers(
            flags["distill_task_weight"], "distill_task_weights", "--distill-task-weight")
    if flags.get("distill_teacher"):
        values["distill_teachers"] = parse_task_teachers(flags["distill_teacher"])
    if flags.get("unfreeze_every") is not None:
        values["unfreeze_every"], values["unfreeze_unit"] = parse_interval(flags["unfreeze_every"])
    return values


def parse_task_numbers(items: list[str], option: str, flag: str) -> dict[str, float]:
    """['topic=2', 'sentiment=0.5'] -> {'topic': 2.0, 'sentiment': 0.5}, checked as the
    per-task TrainingOptions field `option`; errors name `flag`. A task given twice is refused
    (the later value would silently replace the earlier)."""
    numbers = {}
    for item in items:
        name, equals, number = item.partition("=")
        if not equals:
            raise InputError(f"{flag} takes TASK=NUMBER, got {item!r}")
        if name in numbers:
            raise InputError(f"{flag} gives task {name!r} twice ({numbers[name]:g} and "
                             f"{number!r}): give each task once")
        numbers[name] = parse_float(number, f"{flag} {name!r}=NUMBER")
    check_option(option, numbers, label=flag)  # the range: the option's own check
    return numbers


def parse_task_teachers(items: list[str]) -> dict[str, str]:
    """['stsb=stsb', 'sst3=runs/x'] -> {'stsb': 'stsb', 'sst3': 'runs/x'}."""
    teachers = {}
    for item in items:
        name, _, teacher = item.partition("=")
        if not name or not teacher.strip():
            raise InputError(f"--distill-teacher takes TASK=TEACHER, got {item!r}")
        teachers[name] = teacher
    return teachers


def parse_interval(text: str) -> tuple[int, str]:
    """'2' or '2epochs' -> (2, 'epochs'); '300steps' -> (300, 'steps')."""
    number, unit = text, "epochs"
    for suffix in ("epochs", "epoch", "steps", "step"):
        if text.endswith(suffix):
            number, unit = text[: -len(suffix)], suffix.rstrip("s") + "s"
            break
    return parse_int(number, f"--unfreeze-every {text!r}: N (of N, Nepochs or Nsteps)", 1,
                     MAX_COUNT), unit
