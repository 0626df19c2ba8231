"""Training curves from RUN/metrics.jsonl: one run, or several overlaid to compare strategies.

    python -m minitransformer.plot runs/default --out curves.png
    python -m minitransformer.plot runs/frozen runs/unfrozen --out compare.png

Three panels: the training loss of each task (smoothed, the raw values faint behind it), each
dev metric over steps, and the learning rate schedule (the encoder's top layer; the heads' is a
fixed multiple of it). Colour tells the runs apart, line style the tasks.

Turning the log into series (`series_of`) needs nothing but the standard library and is what the
tests check; drawing needs matplotlib, an optional extra imported only here:
    pip install 'minitransformer[plots]'      (or: pip install matplotlib)
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .cli import PLOTS_INSTALL, CommandParser, check_writable, main_of, pyplot, save_figure
from .errors import InputError
from .training.progress import METRICS_FILE, read_metrics

FORMATS = (".png", ".svg", ".pdf")
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "v", "D")


@dataclass
class Series:
    """The curves of one run, as (steps, values) pairs."""

    loss: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)  # per task
    metrics: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)  # "task metric"
    lr: tuple[list[int], list[float]] = field(default_factory=lambda: ([], []))


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
    task; records of other types are passed over."""
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
        elif record["type"] == "eval":
            for task, metrics in record["metrics"].items():
                for name, value in metrics.items():
                    if value is None:  # undefined at this step (a correlation of equal scores)
                        continue
                    steps, values = series.metrics.setdefault(f"{task} {name}", ([], []))
                    steps.append(step)
                    values.append(drawable(value))
    return series


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """Exponential moving average, the first value as it is: the trend of a noisy loss."""
    smoothed, last = [], None
    for value in values:
        last = value if last is None else weight * last + (1 - weight) * value
        smoothed.append(last)
    return smoothed


def read_run(directory: Path) -> Series:
    path = directory / METRICS_FILE
    if not path.is_file():
        raise InputError(f"{directory}: no {METRICS_FILE} (not a train.py run, or one made before "
                         f"runs kept a metrics log)")
    records = read_metrics(path)
    if not records:
        raise InputError(f"{path}: no records yet")
    return series_of(records)


def draw(runs: dict[str, Series], out: Path) -> None:
    """One figure of three panels for every run in `runs` ({label: series}), saved to `out`."""
    plt = pyplot("drawing curves")

    figure, (loss_axes, metric_axes, lr_axes) = plt.subplots(1, 3, figsize=(16, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    # The same task gets the same line style in every run, the same metric the same marker.
    tasks = sorted({task for series in runs.values() for task in series.loss} |
                   {name.split(" ")[0] for series in runs.values() for name in series.metrics})
    style = {task: LINE_STYLES[i % len(LINE_STYLES)] for i, task in enumerate(tasks)}
    markers = {}
    unbounded_axes = None
    for index, (label, series) in enumerate(runs.items()):
        colour = colours[index % len(colours)]
        prefix = f"{label}: " if len(runs) > 1 else ""
        for task, (steps, values) in series.loss.items():
            loss_axes.plot(steps, values, color=colour, linestyle=style[task], alpha=0.2)
            loss_axes.plot(steps, smooth(values), color=colour, linestyle=style[task],
                           label=f"{prefix}{task}")
        for name, (steps, values) in series.metrics.items():
            task, metric = name.split(" ", 1)
            marker = markers.setdefault(metric, MARKERS[len(markers) % len(MARKERS)])
            # Scores live in [0, 1]; a perplexity or a loss (masked-LM) would flatten them, so
            # those go on a second, logarithmic axis on the right.
            if all(0.0 <= value <= 1.0 for value in values):
                axes = metric_axes
            else:
                if unbounded_axes is None:
                    unbounded_axes = metric_axes.twinx()
                    unbounded_axes.set_yscale("log")
                    unbounded_axes.set_ylabel("loss, perplexity (log scale)")
                axes = unbounded_axes
            axes.plot(steps, values, color=colour, linestyle=style[task], marker=marker,
                      markersize=4, label=f"{prefix}{name}", alpha=1.0 if axes is metric_axes else 0.6)
        lr_axes.plot(*series.lr, color=colour, label=label)
    for axes, title in ((loss_axes, "training loss (smoothed)"), (metric_axes, "dev metrics"),
                        (lr_axes, "learning rate, top layer")):
        axes.set_title(title)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize="small", loc="upper left" if axes is metric_axes else "best")
    if unbounded_axes is not None:
        unbounded_axes.legend(fontsize="small", loc="upper right")
    save_figure(figure, out)


@main_of
def main(argv=None) -> int:
    parser = CommandParser(
        prog="python -m minitransformer.plot",
        description="Draw training curves (loss per task, dev metrics, learning rate) from the "
                    f"{METRICS_FILE} of one or more train.py runs; several runs are overlaid. "
                    f"Needs matplotlib: {PLOTS_INSTALL}.")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.png",
                        help=f"the picture to write ({', '.join(FORMATS)})")
    parser.add_argument("--label", action="append", default=[], metavar="NAME",
                        help="a legend name per run, in order (default: the directory names)")
    args = parser.parse_args(argv)
    if args.out is not None:
        check_writable(args.out, "--out")
    if args.out.suffix.lower() not in FORMATS:
        parser.error(f"argument --out: must end in {', '.join(FORMATS)}, got {args.out}")
    if args.label and len(args.label) != len(args.runs):
        parser.error(f"argument --label: {len(args.label)} labels for {len(args.runs)} runs")
    labels = args.label or [str(run) for run in args.runs]
    draw({label: read_run(run) for label, run in zip(labels, args.runs)}, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
