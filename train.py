"""Train a multi-task model (one shared encoder, a head per task), or evaluate a saved run.

    python train.py                                  # two tasks on the embedded default dataset
    python train.py --config configs/sst3_agnews.json
    python train.py evaluate runs/default --task topic=FILE.jsonl [--task ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from minitransformer.checkpoint import build_head, load_checkpoint
from minitransformer.config import EncoderConfig
from minitransformer.data import TaskData, TaskSpec, encode_examples, load_task
from minitransformer.distributed import init_distributed, shutdown_distributed
from minitransformer.encoder import Encoder
from minitransformer.freezing import STRATEGY_HELP, count_parameters
from minitransformer.heads import MultiTaskModel
from minitransformer.loading import MINILM_INSTALL, minilm_directory, run_checkpoint
from minitransformer.metrics import bio_spans
from minitransformer.optim import format_groups
from minitransformer.pretrained import load_bert_sentence_encoder
from minitransformer.readers import DataError, SENTENCE_CLASSIFICATION, TOKEN_CLASSIFICATION
from minitransformer.tokenizer import Tokenizer
from minitransformer.trainer import (NonFiniteLoss, Trainer, TrainingOptions, evaluate_task,
                                     format_results, word_tags)
from minitransformer.weighting import WEIGHTINGS

DEFAULT_DATA = Path(__file__).resolve().parent / "minitransformer" / "default_data"
DEFAULT_TASKS = [
    {"name": "topic", "kind": SENTENCE_CLASSIFICATION, "train": str(DEFAULT_DATA / "train.jsonl"),
     "dev": str(DEFAULT_DATA / "dev.jsonl"), "label_field": "topic"},
    {"name": "sentiment", "kind": SENTENCE_CLASSIFICATION,
     "train": str(DEFAULT_DATA / "train.jsonl"), "dev": str(DEFAULT_DATA / "dev.jsonl"),
     "label_field": "sentiment"},
]
OPTION_FLAGS = ("epochs", "batch_size", "lr", "head_lr", "layer_decay", "weight_decay", "warmup",
                "max_grad_norm", "sampler", "temperature", "eval_every", "seed", "freeze",
                "loss_weighting")


# ---- training -------------------------------------------------------------------------------
def training_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train one shared encoder with a head per task. With no arguments: topic and "
                    "sentiment on the embedded default dataset, from the pretrained MiniLM when "
                    f"it is installed ({MINILM_INSTALL}), else from scratch. To score a saved run "
                    "on a labelled file: `train.py evaluate RUN --task NAME=FILE [--json]` "
                    "(see `train.py evaluate --help`).")
    parser.add_argument("--config", type=Path, metavar="FILE.json",
                        help="tasks and options in a JSON file (see configs/); paths in it are "
                             "relative to the file. Flags given here override its options.")
    parser.add_argument("--tasks", metavar="NAME[,NAME]",
                        help="train only these tasks of the config (e.g. one task alone, to "
                             "compare with multi-task training)")
    parser.add_argument("--run-dir", type=Path, metavar="DIR",
                        help="where checkpoints go (default: runs/<config name> or runs/default)")
    parser.add_argument("--init", default="auto", metavar="minilm|scratch|DIR",
                        help="start from the pretrained MiniLM, from scratch (new WordPiece "
                             "vocabulary and random weights), or from a BERT-format directory; "
                             "auto = minilm if installed, else scratch (default: auto)")
    parser.add_argument("--preset", default="small",
                        help="encoder preset for --init scratch (default: %(default)s)")
    parser.add_argument("--max-length", type=int, metavar="N",
                        help="truncate inputs to N tokens (default: 128)")
    parser.add_argument("--max-train", type=int, metavar="N",
                        help="use a random subsample of at most N training examples per task")
    parser.add_argument("--pooling", choices=("mean", "cls", "max"), default=None,
                        help="sentence pooling (default: the model's own, else mean)")
    parser.add_argument("--epochs", type=int, help="passes over the training data (default 3)")
    parser.add_argument("--batch-size", type=int, help="examples per step (default 16)")
    parser.add_argument("--lr", type=float, help="learning rate of the encoder's top layer "
                                                  "(default 5e-5; 1e-3 from scratch)")
    parser.add_argument("--head-lr", type=float, help="learning rate of the heads (default 10 x lr)")
    parser.add_argument("--layer-decay", type=float,
                        help="layer-wise LR decay d: depth k trains at lr * d**(N-k) (default 1)")
    parser.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0.01)")
    parser.add_argument("--warmup", type=float, help="fraction of steps to warm up (default 0.1)")
    parser.add_argument("--max-grad-norm", type=float, help="gradient clipping (default 1.0)")
    parser.add_argument("--sampler", choices=("round_robin", "proportional", "temperature"),
                        help="which task each step trains (default proportional)")
    parser.add_argument("--temperature", type=float, help="T of the temperature sampler (default 2)")
    parser.add_argument("--loss-weight", action="append", default=[], metavar="TASK=W",
                        help="weight of a task's loss (default 1.0 each); repeatable")
    parser.add_argument("--loss-weighting", choices=WEIGHTINGS,
                        help="static: the --loss-weight values; uncertainty: one learned "
                             "log-variance per task (Kendall et al. 2018) (default static)")
    parser.add_argument("--freeze", metavar="STRATEGY",
                        help=f"what does not train: {STRATEGY_HELP} (default none; see "
                             "minitransformer/freezing.py)")
    parser.add_argument("--unfreeze-every", metavar="N[epochs|steps]",
                        help="gradual unfreezing: heads only at first, then one more encoder "
                             "layer from the top every N epochs (e.g. 1) or steps (e.g. 200steps)")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:1, ... (default: cuda if available, else cpu)")
    parser.add_argument("--eval-every", type=int, metavar="N",
                        help="also evaluate every N steps (default: end of each epoch only)")
    parser.add_argument("--seed", type=int, help="random seed; same seed, same run (default 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from RUN_DIR/last where an earlier run stopped")
    parser.add_argument("--print-param-groups", action="store_true",
                        help="print the optimizer's parameter groups and exit")
    return parser


def read_config(path: Path | None, only: str | None = None) -> dict:
    config = {"tasks": DEFAULT_TASKS} if path is None else load_config_file(path)
    if only:
        names = [name.strip() for name in only.split(",")]
        known = [task["name"] for task in config["tasks"]]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise SystemExit(f"error: --tasks: no task {', '.join(unknown)}; the config has "
                             f"{', '.join(known)}")
        config["tasks"] = [task for task in config["tasks"] if task["name"] in names]
    return config


def load_config_file(path: Path) -> dict:
    config = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(config) - {"tasks", "options", "max_train", "init", "max_length", "description"}
    if unknown:
        raise SystemExit(f"error: {path}: unknown key(s) {', '.join(sorted(unknown))}")
    for task in config["tasks"]:  # paths are relative to the config file
        for split in ("train", "dev"):
            if task.get(split):
                task[split] = str((path.parent / task[split]).resolve())
    return config


def build_options(args, config: dict, from_scratch: bool) -> TrainingOptions:
    values = dict(config.get("options", {}))
    if from_scratch and "lr" not in values:
        values["lr"] = 1e-3  # random weights need much larger steps than fine-tuning
    for name in OPTION_FLAGS:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.unfreeze_every is not None:
        values["unfreeze_every"], values["unfreeze_unit"] = parse_interval(args.unfreeze_every)
    weights = dict(values.pop("loss_weights", {}))
    for item in args.loss_weight:
        name, _, weight = item.partition("=")
        weights[name] = float(weight)
    try:
        return TrainingOptions(**values, loss_weights=weights)
    except TypeError as error:
        raise SystemExit(f"error: bad training option: {error}")


def parse_interval(text: str) -> tuple[int, str]:
    """'2' or '2epochs' -> (2, 'epochs'); '300steps' -> (300, 'steps')."""
    number, unit = text, "epochs"
    for suffix in ("epochs", "epoch", "steps", "step"):
        if text.endswith(suffix):
            number, unit = text[: -len(suffix)], suffix.rstrip("s") + "s"
            break
    if not number.strip().isdigit() or int(number) < 1:
        raise SystemExit(f"error: --unfreeze-every takes N, Nepochs or Nsteps with N >= 1, "
                         f"got {text!r}")
    return int(number), unit


def start_encoder(init: str, preset: str, specs: list[TaskSpec], max_length: int, seed: int,
                  run_dir: Path, resume: bool, distributed):
    """(encoder, tokenizer, pooling, description) for --init."""
    if init == "auto":
        init = "minilm" if minilm_directory() is not None else "scratch"
    if init == "scratch":
        tokenizer = scratch_tokenizer(specs, max_length, run_dir, resume, distributed)
        torch.manual_seed(seed)
        config = EncoderConfig.preset(preset, vocab_size=tokenizer.vocab_size,
                                      max_length=max(max_length, 128), norm_placement="pre")
        return Encoder(config), tokenizer, "mean", (
            f"from scratch: {preset} preset ({config.num_layers} x {config.hidden_size}, "
            f"pre-norm, sinusoidal positions), WordPiece vocabulary of {tokenizer.vocab_size} "
            f"trained on the training text")
    if init == "minilm":
        directory = minilm_directory()
        if directory is None:
            raise SystemExit(f"error: --init minilm needs the pretrained package: {MINILM_INSTALL}")
        name = "pretrained all-MiniLM-L6-v2"
    else:
        directory, name = Path(init), f"pretrained BERT checkpoint {init}"
    model = load_bert_sentence_encoder(directory)
    model.tokenizer.set_max_length(min(max_length, model.tokenizer.max_length))
    return model.encoder, model.tokenizer, model.pooling_name, f"from the {name}"


def scratch_tokenizer(specs: list[TaskSpec], max_length: int, run_dir: Path, resume: bool,
                      distributed) -> Tokenizer:
    """A WordPiece vocabulary trained on the training texts, made once per run.

    The `tokenizers` trainer breaks ties between equally frequent merges in hash-map order, so
    two trainings on the same text can differ by a few tokens. A resumed run therefore reuses
    the vocabulary of its checkpoint, and under torchrun rank 0 trains it and the other ranks
    read it from the run directory (the ranks' models must have identical shapes).
    """
    if resume and (run_dir / "last" / "tokenizer.json").exists():
        return Tokenizer.load(run_dir / "last", max_length)
    shared = run_dir / "scratch_tokenizer"
    if distributed.is_main:
        texts = [text for spec in specs for example in spec.read("train")
                 for text in example_texts(example)]
        tokenizer = Tokenizer.train(texts, vocab_size=8000, min_frequency=2, max_length=max_length)
        if distributed.enabled:
            tokenizer.save(shared)
    distributed.barrier()
    if not distributed.is_main:
        tokenizer = Tokenizer.load(shared, max_length)
    return tokenizer


def example_texts(example) -> list[str]:
    if hasattr(example, "text"):
        return [example.text]
    if hasattr(example, "tokens"):
        return [" ".join(example.tokens)]
    return [example.text_a, example.text_b]


def show_examples(model: MultiTaskModel, tasks: list[TaskData], count: int = 5) -> None:
    """A few dev sentences with every sentence head's prediction, and the entities each
    token-classification head finds in a few of its own dev sentences."""
    model.eval()
    lines = sentence_examples(model, tasks, count) + token_examples(model, tasks, count=3)
    if lines:
        print("\nexample predictions (dev):")
        print("\n".join(lines))


def sentence_examples(model: MultiTaskModel, tasks: list[TaskData], count: int) -> list[str]:
    sentence_tasks = [t for t in tasks if t.spec.kind == SENTENCE_CLASSIFICATION and t.dev]
    if not sentence_tasks:
        return []
    first = sentence_tasks[0]
    items = [first.dev[i] for i in range(min(count, len(first.dev)))]
    batch = first.dev.collate(items)
    with torch.inference_mode():  # one encoder pass, every sentence head on the same embedding
        states = model.encoder(batch["input_ids"], batch["attention_mask"])
        pooled = model.pool(states, batch["attention_mask"])
        guesses = {t.spec.name: [t.label_map[i] for i in model.heads[t.spec.name](pooled)
                                 .argmax(-1).tolist()] for t in sentence_tasks}
    lines = []
    for row, example in enumerate(first.dev.examples[: len(items)]):
        labels = ", ".join(f"{name}={values[row]}" for name, values in guesses.items())
        lines.append(f"  {example.text[:70]!r}\n      -> {labels}")
    return lines


def token_examples(model: MultiTaskModel, tasks: list[TaskData], count: int) -> list[str]:
    lines = []
    for task in tasks:
        if task.spec.kind != TOKEN_CLASSIFICATION or not task.dev:
            continue
        items = [task.dev[i] for i in range(min(count, len(task.dev)))]
        batch = task.dev.collate(items)
        with torch.inference_mode():
            predicted = model(task.spec.name, batch).predictions  # (B, T) tag ids
        for row, example in enumerate(task.dev.examples[: len(items)]):
            tags = word_tags(predicted[row], batch["labels"][row], task.label_map)
            words = example.tokens[: len(tags)]  # truncation may cut the last words
            entities = [f"{' '.join(words[start:end])} ({kind})"
                        for kind, start, end in sorted(bio_spans(tags), key=lambda s: s[1])]
            lines.append(f"  {' '.join(example.tokens)[:70]!r}\n      -> {task.spec.name}: "
                         f"{', '.join(entities) or 'no entities'}")
    return lines


def train(argv) -> int:
    args = training_parser().parse_args(argv)
    distributed = init_distributed()  # rank 0 of 1 without torchrun
    try:
        return run_training(args, distributed)
    finally:
        shutdown_distributed(distributed)


def run_training(args, distributed) -> int:
    say = print if distributed.is_main else (lambda *a, **k: None)  # only rank 0 prints
    config = read_config(args.config, args.tasks)
    run_dir = args.run_dir or Path("runs") / (args.config.stem if args.config else "default")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and distributed.enabled:
        device = torch.device("cuda", torch.cuda.current_device())  # this rank's GPU
    try:
        specs = [TaskSpec.from_dict(task) for task in config["tasks"]]
        options_seed = args.seed if args.seed is not None else config.get("options", {}).get("seed", 0)
        init = config.get("init", args.init) if args.init == "auto" else args.init
        encoder, tokenizer, pooling, origin = start_encoder(
            init, args.preset, specs, args.max_length or config.get("max_length", 128), options_seed,
            run_dir, args.resume, distributed)
        options = build_options(args, config, from_scratch=origin.startswith("from scratch"))
        max_train = args.max_train if args.max_train is not None else config.get("max_train")
        started = time.perf_counter()
        tasks = [load_task(spec, tokenizer, max_train=max_train, seed=options.seed)
                 for spec in specs]
        heads = {t.spec.name: build_head(t.spec.kind, encoder.config.hidden_size,
                                         len(t.label_map) if t.label_map else None) for t in tasks}
        model = MultiTaskModel(encoder, heads, pooling=args.pooling or pooling).to(device)
        trainer = Trainer(model, tokenizer, tasks, options, run_dir, log=say,
                          distributed=distributed)
    except (DataError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.print_param_groups:
        say(format_groups(trainer.group_infos))
        return 0

    say(f"model: {origin}")
    for task in tasks:
        labels = f", {len(task.label_map)} labels" if task.label_map else ""
        say(f"task {task.spec.name}: {task.spec.kind}, {len(task.train)} train / "
            f"{len(task.dev) if task.dev else 0} dev examples{labels}")
    say(f"training: {options.epochs} epochs x {trainer.steps_per_epoch} steps, batch "
        f"{options.batch_size}, lr {options.lr:g}, sampler {options.sampler}, seed {options.seed}, "
        f"{distributed.world_size} process(es) on {device}")
    frozen = f" (frozen: {', '.join(trainer.frozen)})" if trainer.frozen else ""
    say(f"trainable parameters: {count_parameters(model):,} of "
        f"{count_parameters(model, trainable_only=False):,}{frozen}")
    try:
        trainer.train(resume=args.resume)
    except NonFiniteLoss as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        say(f"saved to {run_dir / 'last'}; continue with --resume", file=sys.stderr)
        return 130
    if not distributed.is_main:
        return 0
    best, _, description = load_checkpoint(run_dir / "best")
    best_entry = max((h for h in description["history"] if "score" in h),
                     key=lambda h: h["score"], default=None)
    if best_entry:
        print("\n" + format_results(best_entry["metrics"],
                                    title=f"best dev results (step {best_entry['step']})"))
    show_examples(best, tasks)
    print(f"\ntrained in {time.perf_counter() - started:.0f} s; saved to {run_dir} "
          f"(best/ and last/). Embed with: python embed.py --model {run_dir} \"a sentence\"")
    return 0


# ---- evaluation of a saved run ---------------------------------------------------------------
def evaluate(argv) -> int:
    parser = argparse.ArgumentParser(
        prog="train.py evaluate",
        description="Score a saved run's heads on labelled files: prints each task's metrics "
                    "(accuracy and macro_f1, entity_f1, or spearman and pearson).")
    parser.add_argument("run", type=Path, help="a run directory (or one of its checkpoints)")
    parser.add_argument("--task", action="append", required=True, metavar="NAME=FILE",
                        help="a task of the run and a file in its format; repeatable")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object: {task: {metric: value}}")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    args = parser.parse_args(argv)
    try:
        model, tokenizer, description = load_checkpoint(run_checkpoint(args.run))
        saved = {task["spec"]["name"]: task for task in description["tasks"]}
        results = {}
        for item in args.task:
            name, separator, path = item.partition("=")
            if not separator or not path:
                raise ValueError(f"--task takes NAME=FILE, got {item!r}")
            if name not in saved:
                raise ValueError(f"the run has no task {name!r}; it has {', '.join(saved)}")
            spec = TaskSpec.from_dict({**saved[name]["spec"], "train": path, "dev": path})
            labels = saved[name]["label_map"]
            data = encode_examples(spec.read("dev"), spec.kind, tokenizer, labels, path)
            task = TaskData(spec, labels, data, data)
            results[name] = evaluate_task(model, task, args.batch_size)
    except (DataError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(results, indent=2) if args.json else format_results(results, "results"))
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "evaluate":
        return evaluate(argv[1:])
    return train(argv)


if __name__ == "__main__":
    sys.exit(main())
