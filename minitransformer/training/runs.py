"""A training run: what to train, where it starts, and the model and trainer it builds.

    flags + configs/X.json --RunConfig.read--> RunConfig --start_encoder--> Start
        --prepare_run--> Run (tasks, MultiTaskModel, Trainer) --Trainer.train--> RUN/best, RUN/last

Precedence, written once (`RunConfig.read`): a flag beats the config file, which beats the
default. Every value is checked where it enters, and a bad one is reported with its source
("--epochs" or "configs/x.json: options.epochs"), before any file is written.

Same seed, same run: the seed fixes the scratch weights, the new heads (from any start, each by
its task's name; a run given to --init passes on its trained heads instead), the training
subsample, the data order, the task sampler and the dropout masks (trainer.py derives the last
three from it). One exception: a new WordPiece vocabulary (a
scratch start) may break ties between equally frequent merges differently from one process to
the next (see scratch_tokenizer).
"""

from __future__ import annotations

import argparse
import dataclasses
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import devices
from ..cli import check_writable
from ..config import PRESETS, EncoderConfig
from ..encoder import Encoder
from ..errors import InputError, about, is_integer_at_least, path_from_file, read_json, shown
from ..loading import (
    MINILM_NAMES,
    bert_mlm_head,
    load_sentence_encoder,
    minilm_directory,
    run_checkpoint,
)
from ..tasks.data import TaskData, TaskSpec, encode_examples, load_task
from ..tasks.evaluation import score_dataset
from ..tasks.heads import MaskedLanguageModelHead, MultiTaskModel, build_head
from ..tasks.kinds import SENTENCE_CLASSIFICATION, read_examples
from ..tokenizer import Tokenizer
from .checkpoint import FORMAT_NAME as CHECKPOINT_FORMAT
from .checkpoint import HEADS_DIRECTORY, TRAINING_STATE, load_checkpoint
from .distributed import DistributedContext
from .freezing import count_parameters
from .options import TrainingOptions, check_option
from .trainer import Trainer

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "default_data"
# With no --config: topic and sentiment of the small dataset that ships inside the package.
DEFAULT_TASKS = [
    {"name": name, "kind": SENTENCE_CLASSIFICATION, "train": str(DEFAULT_DATA / "train.jsonl"),
     "dev": str(DEFAULT_DATA / "dev.jsonl"), "label_field": name}
    for name in ("topic", "sentiment")]
CONFIG_KEYS = ("description", "tasks", "options", "init", "max_length", "max_train")
SCRATCH_LR = 1e-3  # random weights need much larger steps than fine-tuning (5e-5)
SCRATCH_VOCABULARY = 8000


@dataclass
class RunConfig:
    """Everything a run is made of, after flags and config file are merged and checked."""

    tasks: list[TaskSpec]
    options: TrainingOptions
    init: str  # "minilm", "scratch", or a model directory (never "auto": resolved on reading)
    run_dir: Path
    preset: str = "small"  # encoder preset when init is "scratch"
    norm_placement: str = "pre"  # of a scratch encoder: pre-norm trains more stably; post is a BERT
    max_length: int = 128  # tokens per input, [CLS] and [SEP] included
    max_train: int | None = None  # random subsample of at most this many examples per task
    pooling: str | None = None  # None: the starting model's own pooling
    device: str | None = None  # None: the best here (devices.py)
    resume: bool = False
    progress: str = "auto"  # auto | bar | lines | off (progress.Progress)
    config_file: Path | None = None

    @property
    def from_scratch(self) -> bool:
        return self.init == "scratch"

    @classmethod
    def read(cls, args: argparse.Namespace) -> "RunConfig":
        """Merge train.py's flags with the config file they name (if any), checking both."""
        path = args.config
        file = read_config_file(path) if path is not None else {"tasks": DEFAULT_TASKS}
        with about(path):
            specs = [TaskSpec.from_dict(task) for task in file["tasks"]]
        tasks = select_tasks(specs, args.tasks)
        if args.head_hidden is not None:  # the flag sizes every head that can have the layer
            tasks = [dataclasses.replace(spec, head_hidden=args.head_hidden)
                     if spec.task_kind.head_can_have_hidden_layer else spec for spec in tasks]

        def pick(name: str, default):  # flag > config file > default
            flag = getattr(args, name)
            return flag if flag is not None else file.get(name, default)

        init = pick("init", "auto")
        if init == "auto":
            init = "minilm" if minilm_directory() is not None else "scratch"
        options = dict(file.get("options", {}))
        if init == "scratch":
            options.setdefault("lr", SCRATCH_LR)
        flags = flag_options(args)
        if "loss_weights" in flags:  # per task: a flag replaces that task's weight only
            flags["loss_weights"] = {**options.get("loss_weights", {}), **flags["loss_weights"]}
        options.update(flags)
        config = cls(tasks=tasks, options=TrainingOptions(**options), init=init,
                     run_dir=args.run_dir or Path("runs") / (path.stem if path else "default"),
                     preset=args.preset, norm_placement=args.norm_placement,
                     max_length=pick("max_length", 128),
                     max_train=pick("max_train", None), pooling=args.pooling,
                     device=args.device, resume=args.resume, progress=args.progress,
                     config_file=path)
        config.check()
        return config

    def check(self) -> None:
        if not isinstance(self.init, str) or not self.init:
            raise InputError(f"init in the config must be minilm, scratch or a directory, got "
                             f"{self.init!r}")
        if self.preset not in PRESETS:
            raise InputError(f"--preset {self.preset}: choose one of {', '.join(PRESETS)}")
        if not is_integer_at_least(self.max_length, 4):
            raise InputError(f"max length (--max-length, or max_length in the config) must be "
                             f"an integer >= 4, got {self.max_length!r}")
        if self.max_train is not None and not is_integer_at_least(self.max_train, 1):
            raise InputError(f"max_train in the config must be an integer >= 1, got "
                             f"{self.max_train!r}")
        check_writable(self.run_dir, "--run-dir", directory=True)
        if self.resume and not (self.run_dir / "last" / TRAINING_STATE).is_file():
            raise InputError(f"--resume: nothing to resume in {self.run_dir} (no last/"
                             f"{TRAINING_STATE}); start without --resume")


def read_config_file(path: Path) -> dict:
    """A config file's content, checked; task file paths made relative to the file."""
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
    if isinstance(init, str) and init not in ("auto", "scratch") and init.lower() not in MINILM_NAMES:
        config["init"] = str(path_from_file(path.parent, init, f"{path}: init"))  # a model
    options = config.get("options", {})
    if not isinstance(options, dict):
        raise InputError(f"{path}: 'options' must be an object")
    for name, value in options.items():
        with about(path):
            check_option(name, value, label=f"options.{name}")
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
        raise InputError(f"--tasks: names no task (got {only!r}); give some of {', '.join(names)}")
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise InputError(f"--tasks: no task {', '.join(unknown)}; the tasks are {', '.join(names)}")
    return [spec for spec in specs if spec.name in wanted]


# ---- TrainingOptions as flags: the field list is the one list of option names ------------------
def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainingOptions field that has a help text (see options.option)."""
    for field in dataclasses.fields(TrainingOptions):
        if "help" not in field.metadata:
            continue
        default = field.default
        kind = float if default is None else type(default)  # head_lr: None means "10 x lr"
        metavar = field.metadata.get("metavar", {int: "N", float: "X"}.get(kind))
        parser.add_argument(
            "--" + field.name.replace("_", "-"), type=kind, default=None,
            choices=field.metadata.get("choices"), metavar=None if "choices" in field.metadata
            else metavar,
            help=field.metadata["help"] + ("" if default is None else f" (default {default})"))


def flag_options(args: argparse.Namespace) -> dict:
    """The TrainingOptions values given as flags, each checked and named by its flag."""
    values = {}
    for field in dataclasses.fields(TrainingOptions):
        value = getattr(args, field.name, None)
        if "help" in field.metadata and value is not None:
            check_option(field.name, value, label="--" + field.name.replace("_", "-"))
            values[field.name] = value
    if args.loss_weight:
        values["loss_weights"] = parse_loss_weights(args.loss_weight)
    if args.unfreeze_every is not None:
        values["unfreeze_every"], values["unfreeze_unit"] = parse_interval(args.unfreeze_every)
    return values


def parse_loss_weights(items: list[str]) -> dict[str, float]:
    """['topic=2', 'sentiment=0.5'] -> {'topic': 2.0, 'sentiment': 0.5}."""
    weights = {}
    for item in items:
        name, _, weight = item.partition("=")
        try:
            weights[name] = float(weight)
        except ValueError:
            raise InputError(f"--loss-weight takes TASK=NUMBER, got {item!r}") from None
    check_option("loss_weights", weights, label="--loss-weight")
    return weights


def parse_interval(text: str) -> tuple[int, str]:
    """'2' or '2epochs' -> (2, 'epochs'); '300steps' -> (300, 'steps')."""
    number, unit = text, "epochs"
    for suffix in ("epochs", "epoch", "steps", "step"):
        if text.endswith(suffix):
            number, unit = text[: -len(suffix)], suffix.rstrip("s") + "s"
            break
    if not number.strip().isdigit() or int(number) < 1:
        raise InputError(f"--unfreeze-every takes N, Nepochs or Nsteps with N >= 1, got {text!r}")
    return int(number), unit


# ---- where the encoder starts -------------------------------------------------------------------
@dataclass
class Start:
    """The encoder a run starts from, its tokenizer, and where they came from."""

    encoder: Encoder
    tokenizer: Tokenizer
    pooling: str
    description: str  # for people: "the pretrained all-MiniLM-L6-v2", "scratch: small preset ..."
    mlm_head: dict[str, torch.Tensor] | None = None  # a BERT checkpoint's own masked-LM head
    # A training run's heads, by task name: its saved task {"spec", "label_map"}, its weights
    heads: dict[str, tuple[dict, dict[str, torch.Tensor]]] = dataclasses.field(default_factory=dict)


def start_encoder(config: RunConfig, distributed: DistributedContext) -> Start:
    """A pretrained encoder (MiniLM, any model directory) or a new one with a new vocabulary."""
    if config.from_scratch:
        tokenizer = scratch_tokenizer(config, distributed)
        torch.manual_seed(config.options.seed)  # the random weights
        encoder_config = EncoderConfig.preset(
            config.preset, vocab_size=tokenizer.vocab_size, norm_placement=config.norm_placement,
            max_length=max(config.max_length, 128))
        return Start(Encoder(encoder_config), tokenizer, "mean", (
            f"from scratch: {config.preset} preset ({encoder_config.num_layers} x "
            f"{encoder_config.hidden_size}, {config.norm_placement}-norm, "
            f"{encoder_config.positional} positions), WordPiece "
            f"vocabulary of {tokenizer.vocab_size} trained on the training text"))
    heads = {}
    with about(f"--init {config.init}"):
        checkpoint = multitask_checkpoint(config.init)
        if checkpoint is None:  # MiniLM, a BERT directory, a saved SentenceEncoder
            model = load_sentence_encoder(config.init, "cpu")  # prepare_run moves it to --device
            encoder, tokenizer, pooling = model.encoder, model.tokenizer, model.pooling_name
        else:  # a run, checkpoint or exported run: its trained heads come with it
            model, tokenizer, description = load_checkpoint(checkpoint)
            encoder, pooling = model.encoder, model.pooling_name
            heads = {task["spec"]["name"]: (task, model.heads[task["spec"]["name"]].state_dict())
                     for task in description["tasks"]}
    tokenizer.set_max_length(min(config.max_length, tokenizer.max_length))
    name = "the pretrained all-MiniLM-L6-v2" if config.init == "minilm" else config.init
    return Start(encoder, tokenizer, pooling, f"from {name}", bert_mlm_head(config.init), heads)


def multitask_checkpoint(init: str) -> Path | None:
    """The checkpoint directory if --init names a training run, a checkpoint or an exported
    run (whose heads MT-DNN's recipe fine-tunes along with the encoder); else None."""
    path = Path(init)
    if init.lower() in MINILM_NAMES or not path.is_dir():
        return None
    if (path / "best" / "config.json").is_file():
        path = run_checkpoint(path)
    if (path / HEADS_DIRECTORY / "config.json").is_file():
        return path
    config_file = path / "config.json"
    if config_file.is_file() and read_json(config_file).get("format") == CHECKPOINT_FORMAT:
        return path
    return None


def carried_head(task: TaskData, saved: dict) -> str | None:
    """None if a run's head saved for `saved` (its task {"spec", "label_map"}) fits `task`;
    else what differs."""
    spec = TaskSpec.from_dict(saved["spec"])
    if spec.kind != task.spec.kind:
        return f"kind {spec.kind}"
    if saved.get("label_map") != task.label_map:
        return "other labels"
    if spec.head_hidden != task.spec.head_hidden:
        return f"head_hidden {spec.head_hidden}"
    return None


def scratch_tokenizer(config: RunConfig, distributed: DistributedContext) -> Tokenizer:
    """A WordPiece vocabulary trained on the training texts, made once per run.

    The `tokenizers` trainer breaks ties between equally frequent merges in hash-map order, so
    two trainings on the same text can differ by a few tokens. A resumed run therefore reuses
    the vocabulary of its checkpoint, and under torchrun rank 0 trains it and the other ranks
    read it from the run directory (the ranks' models must have identical shapes).
    """
    if config.resume:
        return Tokenizer.load(config.run_dir / "last", config.max_length)
    shared = config.run_dir / "scratch_tokenizer"
    if distributed.is_main:
        texts = [text for spec in config.tasks for example in spec.read("train")
                 for text in spec.task_kind.texts(example)]
        tokenizer = Tokenizer.train(texts, vocab_size=SCRATCH_VOCABULARY, min_frequency=2,
                                    max_length=config.max_length)
        if distributed.enabled:
            tokenizer.save(shared)
    distributed.barrier()
    if not distributed.is_main:
        tokenizer = Tokenizer.load(shared, config.max_length)
    return tokenizer


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
                         f"{len(task.dev) if task.dev else 0} dev examples{labels}")
        lines.append(f"training: {options.epochs} epochs x {trainer.steps_per_epoch} steps, batch "
                     f"{options.batch_size}, lr {options.lr:g}, sampler {options.sampler}, seed "
                     f"{options.seed}, {trainer.distributed.world_size} process(es) on "
                     f"{trainer.device}")
        frozen = f" (frozen: {', '.join(trainer.frozen)})" if trainer.frozen else ""
        lines.append(f"trainable parameters: {count_parameters(self.model):,} of "
                     f"{count_parameters(self.model, trainable_only=False):,}{frozen}")
        return "\n".join(lines)


def prepare_run(config: RunConfig, distributed: DistributedContext = DistributedContext(),
                log=print) -> Run:
    """Read the data, build the model (start encoder + a head per task: new, or a run's trained
    one) and its trainer, and restore RUN/last for --resume. Writes nothing (but the shared
    vocabulary of a scratch start under torchrun): the first file of the run is written when
    training starts."""
    device = pick_device(config.device, distributed)
    start = start_encoder(config, distributed)
    tasks = [load_task(spec, start.tokenizer, max_train=config.max_train, seed=config.options.seed)
             for spec in config.tasks]
    heads = {t.spec.name: new_head(t, start.encoder.config, config.options.seed)
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
    trainer = Trainer(model.to(device), start.tokenizer, tasks, config.options, config.run_dir,
                      log=log, progress=config.progress, distributed=distributed)
    if config.resume:  # before anything is written: a checkpoint that does not fit is refused
        trainer.restore(config.run_dir / "last")
    return Run(config, start, tasks, model, trainer)


def new_head(task: TaskData, encoder_config: EncoderConfig, seed: int):
    """A task's head, its initial weights fixed by (seed, task name): the same whatever the
    start consumed of the random stream, and whichever other tasks train beside it."""
    torch.manual_seed(seed * 100_003 + zlib.crc32(task.spec.name.encode("utf-8")))
    return build_head(task.spec.kind, encoder_config, task.label_map, hidden=task.spec.head_hidden)


def pick_device(name: str | None, distributed: DistributedContext) -> torch.device:
    """--device, or the best device here (devices.py); under torchrun with CUDA, this rank's GPU."""
    device = devices.pick_device(name, "--device")
    if device.type == "cuda" and distributed.enabled:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


# ---- a saved run, scored on labelled files ------------------------------------------------------
def evaluate_saved_run(path: str | Path, files: list[tuple[str, str]], batch_size: int = 64,
                       progress: bool | None = None,
                       device: torch.device | None = None) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} of a run's heads (RUN/best, or a checkpoint directory) on files
    in each task's format, with the label maps the heads were trained with; on `device`
    (None: the best here)."""
    model, tokenizer, description = load_checkpoint(run_checkpoint(path))
    model.to(device or devices.best_device())
    saved = {task["spec"]["name"]: task for task in description["tasks"]}
    results = {}
    for name, file in files:
        if name not in saved:
            raise InputError(f"--task {name}={file}: the run has no task {name!r}; it has "
                             f"{', '.join(saved)}")
        spec, labels = TaskSpec.from_dict(saved[name]["spec"]), saved[name]["label_map"]
        examples = read_examples(file, spec.kind, spec.text_field, spec.label_field,
                                 spec.second_text_field)
        data = encode_examples(examples, spec.kind, tokenizer, labels, file)
        results[name] = score_dataset(model, name, data, labels, batch_size, progress)
    return results

