"""Training curves from RUN/metrics.jsonl: one run, or several overlaid to compare strategies.

    python -m minitransformer.plot --example --out curves.png      (a short run shipped here)
    python -m minitransformer.plot runs/default --out curves.png
    python -m minitransformer.plot runs/frozen runs/unfrozen --out compare.png --metrics all

The top row: the training loss of each task (smoothed, the raw values faint behind it), then a
panel per dev metric (by default each task's main metric, the one that picks the best
checkpoint). Colour tells the runs apart and line style the tasks, in one legend beside the
plots. The bottom row: a panel per run with the learning rate of every encoder depth over the
steps (depth 0 the embeddings, depth N the top layer), so that layer-wise decay and freezing are
seen, not only the top layer's rate that the log records.

The depth rates are not computed here a second time: they are the logged rate of the top layer
times what optim.parameter_groups gives each depth (lr * d**(N-k)), asked of a skeleton of the
run's encoder after freezing.py has frozen what the run froze, with the run's options, read
from its checkpoint (RUN/last or RUN/best). These are the functions the trainer itself asked.

Turning the log into series (`series_of`) needs nothing but the standard library; drawing
needs matplotlib, an optional extra imported only here:
    pip install 'minitransformer[plots]'      (or: pip install matplotlib)
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from .cli import PLOTS_INSTALL, CommandParser, check_writable, main_of, pyplot, save_figure
from .errors import InputError
from .loading import read_checkpoint_description
from .model.config import EncoderConfig
from .model.encoder import Encoder
from .storage.formats import BEST, LAST
from .storage.skeleton import build_skeleton
from .training.freezing import GradualUnfreezing, apply_freezing
from .training.optimizer import parameter_groups
from .training.progress import METRICS_FILE, read_metrics

FORMATS = (".png", ".svg", ".pdf")
LINE_STYLES = ("-", "--", ":", "-.")
# A short real run shipped in the package (how it was made: its README.md), so that the
# command draws something on a fresh clone: python -m minitransformer.plot --example --out F
EXAMPLE_RUN = Path(__file__).parent / "examples" / "curves"

Points = tuple[list[int], list[float]]  # (steps, values)


@dataclass
class Series:
    """The curves of one run, as (steps, values) pairs."""

    loss: dict[str, Points] = field(default_factory=dict)  # per task
    metrics: dict[str, dict[str, Points]] = field(default_factory=dict)  # task -> metric -> points
    main_metric: dict[str, str] = field(default_factory=dict)  # task -> its first metric
    lr: Points = field(default_factory=lambda: ([], []))  # the top layer's rate
    epoch_steps: int | None = None  # the last step of epoch 1 (steps per epoch, when it ended)


FLOAT32_MAX = 3.4028234663852886e38


def drawable(value: float) -> float:
    """A logged number as matplotlib can place it. Beyond float32's range (no run computes such
    a loss or metric; a log edited by hand may hold one) it becomes infinite, which matplotlib
    leaves out of the axes, as it does inf and NaN: 1e308 and -1e308 on one axis would make the
    tick computation overflow."""
    return value if abs(value) <= FLOAT32_MAX else math.copysign(math.inf, value)


def series_of(records: list[dict]) -> Series:
    """metrics.jsonl records (as read_metrics checks them) -> curves. Training records give the
    loss per task and the rate (once per step); evaluation records give every metric of every
    task; records of other types are passed over. A task's main metric is the first the log
    lists for it: the task kinds score their main metric first."""
    series = Series()
    for record in records:
        step = record["step"]
        if record["type"] == "train":
            steps, values = series.loss.setdefault(record["task"], ([], []))
            steps.append(step)
            values.append(drawable(record["loss"]))
            if not series.lr[0] or series.lr[0][-1] != step:
                series.lr[0].append(step)
                series.lr[1].append(drawable(record["lr"]))
            if record.get("epoch") == 1:  # (read_metrics does not require it)
                series.epoch_steps = max(series.epoch_steps or 0, step)
        elif record["type"] == "eval":
            for task, metrics in record["metrics"].items():
                series.main_metric.setdefault(task, next(iter(metrics), None))
                for name, value in metrics.items():
                    if value is None:  # undefined at this step (a correlation of equal scores)
                        continue
                    steps, values = series.metrics.setdefault(task, {}).setdefault(name, ([], []))
                    steps.append(step)
                    values.append(drawable(value))
    return series


def chosen_metrics(series: list[Series], wanted: str) -> list[str]:
    """The metric names to draw, a panel each: 'main' (each task's main metric), 'all', or a
    comma-separated list of names; an InputError names the metrics the runs have."""
    available = list(dict.fromkeys(name for one in series for metrics in one.metrics.values()
                                   for name in metrics))
    if wanted == "main":
        return list(dict.fromkeys(name for one in series for name in one.main_metric.values()
                                  if name in available))
    if wanted == "all":
        return available
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    unknown = [name for name in names if name not in available]
    if unknown or not names:
        raise InputError(f"--metrics {wanted}: the runs have {', '.join(available) or 'no metrics'}"
                         f" (or say main or all)")
    return names


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """Exponential moving average, the first value as it is: the trend of a noisy loss."""
    smoothed, last = [], None
    for value in values:
        last = value if last is None else weight * last + (1 - weight) * value
        smoothed.append(last)
    return smoothed


# ---- the learning rate of every depth ------------------------------------------------------

@dataclass
class DepthRates:
    """What the optimizer gave each encoder depth over a run's logged steps."""

    lr: float  # the run's --lr, the top layer's full rate
    layer_decay: float
    num_layers: int
    steps: list[int]
    rates: dict[int, list[float]]  # depth -> its rate at each step (0 while frozen)
    frozen: list[int]  # depths frozen for the whole run
    head_factor: float | None  # the heads' rate / the top layer's, None if not logged


def run_settings(directory: Path) -> dict | None:
    """The run's checkpoint description (encoder config, options, tasks), from RUN/last or
    else RUN/best; None before the run's first checkpoint."""
    for name in (LAST, BEST):
        if (directory / name).is_dir():
            return read_checkpoint_description(directory / name)
    return None


def depth_rates(settings: dict, series: Series, head_factor: float | None = None) -> DepthRates:
    """The rate of each depth k at each logged step: the logged top-layer rate (warm-up and
    decay included) times base(k) / lr, where base(k) is what optim.parameter_groups gives depth
    k (lr * d**(N-k)); 0 while freezing.py keeps the depth frozen. Both are asked of a skeleton
    of the run's encoder on the meta device (shapes only, no memory)."""
    options = settings["options"]
    encoder = build_skeleton(lambda: Encoder(EncoderConfig.from_dict(settings["encoder"])))
    skeleton = nn.Module()  # what freezing.py and optimizer.py look at: .encoder and .heads
    skeleton.encoder = encoder
    skeleton.heads = nn.ModuleDict({task["spec"]["name"]: nn.Identity()
                                    for task in settings["tasks"]})
    _, groups = parameter_groups(skeleton, options["lr"], layer_decay=options["layer_decay"])
    base = {group.depth: group.lr for group in groups if group.depth is not None}
    num_layers = encoder.config.num_layers
    steps, top = series.lr

    if options["unfreeze_every"]:
        unit = (series.epoch_steps or 1) if options["unfreeze_unit"] == "epochs" else 1
        every = options["unfreeze_every"] * unit  # in steps, as the trainer counts it
        unfreezing = GradualUnfreezing(skeleton, every)
        # The record at step s logs the rate of step s, trained with the depths unfrozen
        # after step s - 1 (the trainer unfreezes after each step).
        trainable_at = [range(num_layers + 1 - unfreezing.stage_at(step - 1), num_layers + 1)
                        for step in steps]
        frozen = []
    else:
        apply_freezing(skeleton, options["freeze"])
        kept = {group.depth for group in parameter_groups(skeleton, options["lr"])[1]}
        trainable_at = [kept] * len(steps)
        frozen = [depth for depth in base if depth not in kept]
    rates = {depth: [rate * base[depth] / options["lr"] if depth in trainable else 0.0
                     for rate, trainable in zip(top, trainable_at)]
             for depth in sorted(base, reverse=True)}
    return DepthRates(options["lr"], options["layer_decay"], num_layers, list(steps), rates,
                      frozen, head_factor)


def head_factor_of(records: list[dict]) -> float | None:
    """The heads' rate over the top layer's, from the first training record that logs both."""
    for record in records:
        if record["type"] == "train" and record.get("lr") and record.get("head_lr") is not None:
            return record["head_lr"] / record["lr"]
    return None


def depth_names(depths: list[int]) -> str:
    """[0, 1, 2, 3] -> 'depths 0-3', [2] -> 'depth 2' (consecutive depths, as freezing makes)."""
    if len(depths) == 1:
        return f"depth {depths[0]}"
    return f"depths {min(depths)}-{max(depths)}"


# ---- reading and drawing -------------------------------------------------------------------

@dataclass
class RunCurves:
    label: str
    series: Series
    rates: DepthRates | None  # None before the run's first checkpoint


def read_run(directory: Path, label: str) -> RunCurves:
    path = directory / METRICS_FILE
    if not path.is_file():
        raise InputError(f"{directory}: no {METRICS_FILE} (not a train.py run, or one made before "
                         f"runs kept a metrics log)")
    records = read_metrics(path)
    if not records:
        raise InputError(f"{path}: no records yet")
    series = series_of(records)
    settings = run_settings(directory)
    rates = None if settings is None else depth_rates(settings, series, head_factor_of(records))
    return RunCurves(label, series, rates)


def draw(runs: list[RunCurves], out: Path, metrics: str = "main") -> None:
    """The figure for `runs`, saved to `out`: the loss and a panel per metric in the top row
    (`chosen_metrics(.., metrics)`), a rate-per-depth panel per run in the bottom row."""
    plt = pyplot("drawing curves")
    from matplotlib.lines import Line2D

    names = chosen_metrics([run.series for run in runs], metrics)
    top_panels, bottom_panels = 1 + len(names), len(runs)
    width = max(4.3 * top_panels, 3.6 * bottom_panels) + 2.4  # + the legends on the right
    figure = plt.figure(figsize=(width, 7.6), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[1.0, 1.05])
    loss_axes, *metric_axes = top.subplots(1, top_panels, squeeze=False)[0]
    rate_axes = bottom.subplots(1, bottom_panels, squeeze=False)[0]

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    tasks = list(dict.fromkeys(task for run in runs for task in
                               [*run.series.loss, *run.series.metrics]))
    style = {task: LINE_STYLES[i % len(LINE_STYLES)] for i, task in enumerate(tasks)}
    for index, run in enumerate(runs):
        colour = colours[index % len(colours)]
        for task, (steps, values) in run.series.loss.items():
            loss_axes.plot(steps, values, color=colour, linestyle=style[task], alpha=0.2)
            loss_axes.plot(steps, smooth(values), color=colour, linestyle=style[task],
                           label=f"{run.label}: {task} loss")
        for axes, name in zip(metric_axes, names):
            for task, by_name in run.series.metrics.items():
                if name in by_name:
                    axes.plot(*by_name[name], color=colour, linestyle=style[task], marker="o",
                              markersize=3, label=f"{run.label}: {task} {name}")
    loss_axes.set_title("training loss (smoothed; raw values faint)")
    for axes, name in zip(metric_axes, names):
        axes.set_title(f"dev {name}")
    for axes in (loss_axes, *metric_axes):
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
    # One legend for all the top panels, outside them: a colour per run, a line style per task.
    handles = [Line2D([], [], color=colours[i % len(colours)], label=run.label)
               for i, run in enumerate(runs)]
    handles += [Line2D([], [], color="black", linestyle=style[task], label=task) for task in tasks]
    top.legend(handles=handles, loc="outside right upper", fontsize="small",
               title="colour: run\nline: task", alignment="left")

    highest = max((run.rates.num_layers for run in runs if run.rates), default=0)
    depth_colours = plt.get_cmap("viridis")
    colour_of = {depth: depth_colours(0.9 * depth / max(highest, 1))
                 for depth in range(highest + 1)}
    # One scale for every run's panel, so that rates compare across panels.
    highest_rate = max([rate for run in runs for values in
                        (run.rates.rates.values() if run.rates else [run.series.lr[1]])
                        for rate in values if math.isfinite(rate)] + [0.0])  # d > 1: lower faster
    for index, (axes, run) in enumerate(zip(rate_axes, runs)):
        draw_rates(axes, run, colour_of)
        axes.set_title(axes.get_title(), color=colours[index % len(colours)], fontsize=9)
        if highest_rate > 0:
            axes.set_ylim(0, 1.08 * highest_rate)
    if highest:
        handles = [Line2D([], [], color=colour_of[depth], linewidth=2,
                          label=f"depth {depth}" + (" (top layer)" if depth == highest else
                                                    " (embeddings)" if depth == 0 else ""))
                   for depth in range(highest, -1, -1)]
        bottom.legend(handles=handles, loc="outside right upper", fontsize="small",
                      title="colour: depth")
    save_figure(figure, out)


def draw_rates(axes, run: RunCurves, colour_of: dict) -> None:
    """One run's rate-per-depth panel: a line per depth, the top layer first and widest, so
    that depths at the same rate show as nested stripes instead of hiding each other."""
    rates = run.rates
    if rates is None:  # no checkpoint yet: only the logged top-layer rate is known
        axes.plot(*run.series.lr, color="black")
        axes.set_title(f"{run.label}\ntop layer only (no checkpoint yet to tell the depths)")
    else:
        for depth, values in rates.rates.items():
            axes.plot(rates.steps, values, color=colour_of[depth],
                      linewidth=1.2 + 0.5 * depth, label=f"depth {depth}")
        if rates.layer_decay == 1:
            rule = f"d = 1: every depth at lr {rates.lr:g} x the schedule"
        else:  # in two lines: one would be wider than the panel
            rule = (f"depth k at lr x d^({rates.num_layers}-k) x the schedule,\n"
                    f"lr {rates.lr:g}, d = {rates.layer_decay:g}")
        lines = [run.label, rule]
        if rates.frozen:
            lines.append(f"{depth_names(rates.frozen)} frozen (rate 0)")
        if rates.head_factor is not None:
            lines.append(f"heads: {rates.head_factor:g} x the top layer's rate")
        axes.set_title("\n".join(lines))
    axes.set_xlabel("step")
    axes.set_ylabel("learning rate")
    axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)


@main_of
def main(argv=None) -> int:
    parser = CommandParser(
        prog="python -m minitransformer.plot",
        description="Draw training curves (loss per task, dev metrics, the learning rate of "
                    f"every depth) from the {METRICS_FILE} of one or more train.py runs; several "
                    f"runs are overlaid. Needs matplotlib: {PLOTS_INSTALL}.")
    parser.add_argument("runs", nargs="*", type=Path, metavar="RUN", help="run directories")
    parser.add_argument("--example", action="store_true",
                        help="draw the short run shipped with the package (first, if RUNs are "
                             f"given too; how it was made: {EXAMPLE_RUN.name}/README.md)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.png",
                        help=f"the picture to write ({', '.join(FORMATS)})")
    parser.add_argument("--label", action="append", default=[], metavar="NAME",
                        help="a legend name per run, in order (default: the directory names)")
    parser.add_argument("--metrics", default="main", metavar="main|all|A,B",
                        help="the dev metrics to draw, a panel each: each task's main metric, "
                             "all of them, or these names (default: %(default)s)")
    args = parser.parse_args(argv)
    check_writable(args.out, "--out")
    if args.out.suffix.lower() not in FORMATS:
        parser.error(f"argument --out: must end in {', '.join(FORMATS)}, got {args.out}")
    directories = ([EXAMPLE_RUN] if args.example else []) + args.runs
    if not directories:
        parser.error("give one or more RUN directories, or --example")
    if args.label and len(args.label) != len(directories):
        parser.error(f"argument --label: {len(args.label)} labels for {len(directories)} runs")
    labels = args.label or [("example run" if run == EXAMPLE_RUN else str(run))
                            for run in directories]
    draw([read_run(run, label) for run, label in zip(directories, labels)], args.out, args.metrics)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
