"""Training curves from RUN/metrics.jsonl: one run, or several overlaid to compare strategies.

    python -m minitransformer.plot --example --out curves.png      (a short run shipped here)
    python -m minitransformer.plot runs/default --out curves.png
    python -m minitransformer.plot runs/frozen runs/unfrozen --out compare.png --metrics all

Small multiples, two a row, a colour per run (one legend above them): the training loss of each
task, a panel per task and dev metric (by default each task's main metric, the one that picks
the best checkpoint), each on its own axis; then a panel per run with the learning rate of
every encoder depth over the steps (depth 0 the embeddings, depth N the top layer), so that
layer-wise decay, warm-up and freezing are seen, not only the top layer's rate that the log
records.

What every picture keeps to (tests/test_plot.py reads the drawn data back and checks it):
- A smoothed loss stays within the range of the records it averages. Each point is the mean
  loss per step over a window of records centred on it, about SMOOTH_STEPS steps, each record
  weighted by the steps it averages (`smooth`). An exponential average would lag a falling
  loss and lie above every record. Fewer than SMOOTH_FROM records, or records that each
  average SMOOTH_STEPS steps already, are drawn as they are, a point each.
- Every axis is labelled, with its unit.
- The figure is WIDTH inches wide, about 900 px at save_figure's 110 dpi, the width of a
  GitHub column, and no text is smaller than SMALL points (11 px there).
- No line hides another: depths that trained at the same rate at every logged step are one
  line, named as such ("embeddings + layers 1-6 (same rate)"), and a run whose curve repeats
  an earlier run's is not drawn again but named in the panel ("b: the same as a").

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

from .cli import PLOTS_INSTALL, CommandParser, check_writable, main_of, pyplot, save_figure, wrapped
from .errors import InputError
from .loading import read_checkpoint_description
from .model.config import EncoderConfig
from .model.encoder import Encoder
from .storage.formats import BEST, LAST
from .storage.skeleton import build_skeleton
from .training.freezing import GradualUnfreezing, apply_freezing
from .training.optimizer import parameter_groups
from .training.progress import METRICS_FILE, read_metrics
from .values import is_integer_at_least

FORMATS = (".png", ".svg", ".pdf")
# A short real run shipped in the package (how it was made: its README.md), so that the
# command draws something on a fresh clone: python -m minitransformer.plot --example --out F
EXAMPLE_RUN = Path(__file__).parent / "examples" / "curves"

# Drawn for a column of about 900 px: WIDTH inches at save_figure's 110 dpi. Text of SMALL
# points is 11 px there, of TEXT points 12 px.
WIDTH = 8.2
COLUMNS = 2  # panels a row
ROW_HEIGHT = 2.6  # inches a row of panels, titles and tick labels included
TEXT, SMALL = 8.0, 7.5
FONTS = {"font.size": TEXT, "axes.titlesize": TEXT, "axes.labelsize": TEXT,
         "xtick.labelsize": SMALL, "ytick.labelsize": SMALL, "legend.fontsize": SMALL,
         "legend.title_fontsize": SMALL, "figure.titlesize": TEXT}
LEGEND_COLUMN = 45  # characters of the longest run label that still leave room for two columns
SMOOTH_FROM = 20  # a task's records: fewer are drawn as they are, a point each
SMOOTH_STEPS = 10  # the training steps a smoothed point averages, about

# The y axis of each metric, with its unit; a metric not named here is labelled by its name.
# The losses are all natural-log losses (cross-entropy, CoSENT's log-sum-exp): nats.
LOSS_AXIS = "loss (nats)"
METRIC_AXES = {"accuracy": "accuracy (fraction)", "macro_f1": "macro-F1 (0 to 1)",
               "entity_f1": "entity F1 (0 to 1)", "spearman": "Spearman rho (-1 to 1)",
               "pearson": "Pearson r (-1 to 1)", "masked_accuracy": "accuracy (fraction)",
               "perplexity": "perplexity (e ** nats)", "masked_lm_loss": "loss (nats)"}
STEP_AXIS = "training step"
RATE_AXIS = "learning rate"

Points = tuple[list[int], list[float]]  # (steps, values)


@dataclass
class Series:
    """The curves of one run, as (steps, values) pairs."""

    loss: dict[str, Points] = field(default_factory=dict)  # per task
    loss_steps: dict[str, list[int]] = field(default_factory=dict)  # the steps each averages
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
    loss per task, with the number of steps it averages (its "steps"; 1 where a log lacks it),
    and the rate (once per step); evaluation records give every metric of every task; records
    of other types are passed over. A task's main metric is the first the log lists for it:
    the task kinds score their main metric first."""
    series = Series()
    for record in records:
        step = record["step"]
        if record["type"] == "train":
            steps, values = series.loss.setdefault(record["task"], ([], []))
            steps.append(step)
            values.append(drawable(record["loss"]))
            averaged = record.get("steps")  # (read_metrics does not require it)
            series.loss_steps.setdefault(record["task"], []).append(
                averaged if is_integer_at_least(averaged, 1) else 1)
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


def smoothing_half_width(steps: list[int]) -> int:
    """How many records either side a smoothed point averages, given the steps each record
    averages: enough for a window of about SMOOTH_STEPS training steps, at most a tenth of the
    records. 0, the records as they are, for fewer than SMOOTH_FROM records, or for records
    that each average SMOOTH_STEPS steps already (a mean of 100 steps needs no smoothing)."""
    if len(steps) < SMOOTH_FROM:
        return 0
    per_record = sum(steps) / len(steps)
    return max(0, min(len(steps) // 10, math.ceil((SMOOTH_STEPS / per_record - 1) / 2)))


def smooth(values: list[float], steps: list[int], half_width: int) -> list[float]:
    """Each record's loss averaged with up to `half_width` records either side, each weighted
    by the `steps` it averages: the mean loss per step over the window. The window is
    centred, so it narrows to the record itself at both ends: a falling loss is not pulled up
    by its past, as an exponential average pulls it. A weighted mean lies within the range of
    the values it averages."""
    smoothed = []
    for index in range(len(values)):
        reach = min(half_width, index, len(values) - 1 - index)
        window = range(index - reach, index + reach + 1)
        total = sum(values[j] * steps[j] for j in window)
        smoothed.append(total / sum(steps[j] for j in window))
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


def layer_names(depths: list[int]) -> str:
    """Depths as a reader names them, depth 0 the embeddings and depth k layer k: [0, 1, 2, 3]
    -> 'embeddings + layers 1-3', [4, 5, 6] -> 'layers 4-6', [5] -> 'layer 5',
    [1, 2, 4] -> 'layers 1-2, 4'."""
    layers = sorted(depth for depth in depths if depth > 0)
    spans: list[list[int]] = []  # runs of consecutive layers
    for layer in layers:
        if spans and layer == spans[-1][-1] + 1:
            spans[-1].append(layer)
        else:
            spans.append([layer])
    names = ["embeddings"] if 0 in depths else []
    if layers:
        names.append(("layers " if len(layers) > 1 else "layer ") + ", ".join(
            f"{span[0]}-{span[-1]}" if len(span) > 1 else f"{span[0]}" for span in spans))
    return " + ".join(names)


def depth_groups(rates: DepthRates) -> list[tuple[list[int], str]]:
    """The depths that trained at the same rate at every logged step, a group each, the top
    depth's group first, with the group's label: 'embeddings + layers 1-6 (same rate)',
    'embeddings + layers 1-3 (frozen: rate 0)', 'layer 5'. A group is drawn as one line: seven
    identical lines would look like one while a legend listed seven."""
    same: dict[tuple[float, ...], list[int]] = {}
    for depth, values in rates.rates.items():  # the top depth first
        same.setdefault(tuple(values), []).append(depth)
    groups = []
    for depths in same.values():
        label = layer_names(depths)
        if set(depths) <= set(rates.frozen):
            label += " (frozen: rate 0)"
        elif len(depths) > 1:
            label += " (same rate)"
        groups.append((depths, label))
    return groups


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
    """The figure for `runs`, saved to `out`: COLUMNS panels a row, first the loss of each
    task, then a panel per task and metric (`chosen_metrics(.., metrics)`), then a
    rate-per-depth panel per run; one legend above them, a colour per run."""
    plt = pyplot("drawing curves")
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    names = chosen_metrics([run.series for run in runs], metrics)
    tasks = list(dict.fromkeys(task for run in runs for task in
                               [*run.series.loss, *run.series.metrics]))
    losses = [task for task in tasks if any(task in run.series.loss for run in runs)]
    scores = [(task, name) for name in names for task in tasks
              if any(name in run.series.metrics.get(task, {}) for run in runs)]
    count = len(losses) + len(scores) + len(runs)
    rows = -(-count // COLUMNS)  # ceiling division
    with plt.rc_context(FONTS):
        figure = plt.figure(figsize=(WIDTH, ROW_HEIGHT * rows + 0.5), layout="constrained")
        panels = list(figure.subplots(rows, COLUMNS, squeeze=False).flat)
        for unused in panels[count:]:
            unused.remove()
        loss_panels = panels[:len(losses)]
        score_panels = panels[len(losses):len(losses) + len(scores)]
        rate_panels = panels[len(losses) + len(scores):count]
        cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        colours = [cycle[index % len(cycle)] for index in range(len(runs))]

        for axes, task in zip(loss_panels, losses):
            drawn, repeats = each_once(runs, colours, lambda run: run.series.loss.get(task))
            smoothed = {draw_loss(axes, run, task, colour) for run, colour in drawn}
            name_repeats(axes, repeats)
            smoothing = f"smoothed over ~{SMOOTH_STEPS} steps (faint: the records)"
            how = {frozenset([True]): smoothing, frozenset([False]): "a point per record",
                   frozenset([True, False]): f"{smoothing}, or a point per record"}
            axes.set_title(f"{task}: training loss\n{how[frozenset(smoothed)]}")
            axes.set_ylabel(LOSS_AXIS)
        for axes, (task, name) in zip(score_panels, scores):
            drawn, repeats = each_once(runs, colours,
                                       lambda run: run.series.metrics.get(task, {}).get(name))
            for run, colour in drawn:
                axes.plot(*run.series.metrics[task][name], color=colour, marker="o",
                          markersize=3, label=f"{run.label}: {task} {name}")
            name_repeats(axes, repeats)
            axes.set_title(f"{task}: dev {name}")  # each task its own axis: its own range
            axes.set_ylabel(METRIC_AXES.get(name, name))
        for axes in (*loss_panels, *score_panels):
            axes.set_xlabel(STEP_AXIS)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps: whole numbers
            axes.grid(alpha=0.3)

        highest = max((run.rates.num_layers for run in runs if run.rates), default=0)
        depth_colours = plt.get_cmap("viridis")
        colour_of = {depth: depth_colours(0.9 * depth / max(highest, 1))
                     for depth in range(highest + 1)}
        # One scale for every run's panel, so that rates compare across panels.
        highest_rate = max([rate for run in runs for values in
                            (run.rates.rates.values() if run.rates else [run.series.lr[1]])
                            for rate in values if math.isfinite(rate)] + [0.0])  # d > 1
        for axes, run, colour in zip(rate_panels, runs, colours):
            draw_rates(axes, run, colour_of)
            axes.title.set_color(colour)
            if highest_rate > 0:
                axes.set_ylim(0, 1.08 * highest_rate)
        handles = [Line2D([], [], color=colour, linewidth=2, label=run.label)
                   for run, colour in zip(runs, colours)]
        wide = max(len(run.label) for run in runs) > LEGEND_COLUMN  # then one run a row
        figure.legend(handles=handles, loc="outside upper center", title="colour: run",
                      ncols=1 if wide else min(len(runs), COLUMNS))
        save_figure(figure, out)


def each_once(runs: list[RunCurves], colours: list, points_of) -> tuple[list, list]:
    """The runs a panel draws, each line once: ([(run, colour)] of the runs whose points
    (`points_of(run)`, None where it has none) no earlier run has, [(run, colour, the earlier
    run)] of those that repeat an earlier run's). A line drawn twice would hide the first."""
    drawn, repeats, first = [], [], {}
    for run, colour in zip(runs, colours):
        points = points_of(run)
        if points is None:
            continue
        key = (tuple(points[0]), tuple(points[1]))
        if key in first:
            repeats.append((run, colour, first[key]))
        else:
            first[key] = run
            drawn.append((run, colour))
    return drawn, repeats


def name_repeats(axes, repeats: list) -> None:
    """A legend in the panel for the runs `each_once` did not draw again: 'b: the same as a'."""
    if repeats:
        from matplotlib.lines import Line2D

        axes.legend(handles=[Line2D([], [], color=colour, label=wrapped(
            f"{run.label}: the same as {earlier.label}", WIDTH / COLUMNS - 1.2, SMALL))
            for run, colour, earlier in repeats], loc="best")


def draw_loss(axes, run: RunCurves, task: str, colour) -> bool:
    """One run's loss of `task`: smoothed over its records (`smooth`), the records faint
    behind, or where `smoothing_half_width` says 0, the records themselves, a point each.
    Whether it smoothed."""
    steps, values = run.series.loss[task]
    averaged = run.series.loss_steps[task]
    label = f"{run.label}: {task} loss"
    half_width = smoothing_half_width(averaged)
    trend = smooth(values, averaged, half_width) if half_width else values
    if trend == values:  # (also a straight line of equal windows, which smooths to itself)
        axes.plot(steps, values, color=colour, marker="o", markersize=2.5, label=label)
        return False
    axes.plot(steps, values, color=colour, alpha=0.25, linewidth=1)
    axes.plot(steps, trend, color=colour, label=label)
    return True


def draw_rates(axes, run: RunCurves, colour_of: dict) -> None:
    """One run's rate-per-depth panel: a line per group of depths at the same rate
    (`depth_groups`), the top layer's first and widest, so that depths that share a rate for a
    while (gradual unfreezing) show as nested stripes instead of hiding each other."""
    from matplotlib.ticker import MaxNLocator

    rates = run.rates
    if rates is None:  # no checkpoint yet: only the logged top-layer rate is known
        axes.plot(*run.series.lr, color="black", label="top layer")
        axes.set_title(f"{wrapped(run.label, WIDTH / COLUMNS - 0.4, TEXT)}\n"
                       f"top layer only (no checkpoint yet to tell the depths)")
    else:
        groups = depth_groups(rates)
        for rank, (depths, label) in enumerate(groups):
            top = max(depths)
            axes.plot(rates.steps, rates.rates[top], color=colour_of[top],
                      linewidth=1.2 + 0.5 * (len(groups) - 1 - rank), label=label)
        if rates.layer_decay == 1:
            rule = f"d = 1: every depth at lr {rates.lr:g} x the schedule"
        else:  # in two lines: one would be wider than the panel
            rule = (f"depth k at lr x d^({rates.num_layers}-k) x the schedule,\n"
                    f"lr {rates.lr:g}, d = {rates.layer_decay:g}")
        lines = [wrapped(run.label, WIDTH / COLUMNS - 0.4, TEXT), rule]
        if rates.head_factor is not None:
            lines.append(f"heads: {rates.head_factor:g} x the top layer's rate")
        axes.set_title("\n".join(lines))
    short = all(len(line.get_label()) <= 12 for line in axes.get_lines())
    axes.legend(loc="upper right", ncols=2 if short and len(axes.get_lines()) > 3 else 1,
                handlelength=1.5, columnspacing=1.0)
    axes.set_xlabel(STEP_AXIS)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(RATE_AXIS)
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
