"""Curves from metrics.jsonl: the series read from the log (checked without drawing), then the
lines actually drawn: the loss and metric lines hold the log's values, the default draws only
each task's main metric, and the rate-per-depth panel holds lr * d**(N-k) times the schedule,
0 for frozen depths (computed by hand here, not by the code under test).

Then the rules every picture keeps, read back from the drawn figures and the saved PNGs
(`check_picture_rules`): a smoothed loss within the range of the records it averages, never
above all of them; every axis labelled; about 900 px wide with no text under 10 px in a 900 px
column; no two lines of a panel the same; each task's metric on its own axis; the warm-up's
first steps logged. The attention picture's rules: test_attention_picture.py."""

import json
import struct
import sys
from pathlib import Path

import pytest
from test_callbacks import stand_in

from minitransformer import cli, plot
from minitransformer.model.config import EncoderConfig
from minitransformer.plot import series_of, smooth, smoothing_half_width
from minitransformer.storage.formats import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from minitransformer.training.callbacks import StepDone, TrainingLog
from minitransformer.training.options import TrainingOptions
from minitransformer.training.progress import read_metrics

RECORDS = [
    {"type": "train", "step": 2, "epoch": 1, "task": "topic", "loss": 1.5, "steps": 1, "lr": 1e-4,
     "head_lr": 1e-3},
    {"type": "train", "step": 2, "epoch": 1, "task": "sentiment", "loss": 1.0, "steps": 1,
     "lr": 1e-4, "head_lr": 1e-3},
    {"type": "train", "step": 4, "epoch": 1, "task": "topic", "loss": 0.5, "steps": 2, "lr": 5e-5,
     "head_lr": 5e-4},
    {"type": "eval", "step": 4, "epoch": 1, "score": 0.7,
     "metrics": {"topic": {"accuracy": 0.8, "macro_f1": 0.75}, "sentiment": {"accuracy": 0.6}}},
    {"type": "train", "step": 6, "epoch": 2, "task": "topic", "loss": 0.25, "steps": 2,
     "lr": 2.5e-5, "head_lr": 2.5e-4},
    {"type": "eval", "step": 6, "epoch": 2, "score": 0.8,
     "metrics": {"topic": {"accuracy": 0.9, "macro_f1": 0.85}, "sentiment": {"accuracy": 0.7}}},
]
NUM_LAYERS = 3


def write_run(directory, records, options=None):
    """A run directory: its log and, given options, the checkpoint description the plot reads
    the encoder's depth and the options from (RUN/last/config.json, as train.py writes it)."""
    directory.mkdir()
    (directory / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if options is not None:
        (directory / "last").mkdir()
        config = EncoderConfig(vocab_size=100, hidden_size=32, num_heads=4, num_layers=NUM_LAYERS,
                               ff_size=64)
        description = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
                       "encoder": config.to_dict(), "pooling": "mean", "max_length": 64,
                       "tasks": [{"spec": {"name": name}, "label_map": []}
                                 for name in ("topic", "sentiment")],
                       "options": TrainingOptions(**options).to_dict()}
        (directory / "last" / "config.json").write_text(json.dumps(description))
    return directory


def drawn_figure(monkeypatch, argv, saved: Path | None = None):
    """Run the command and keep the figure it would have saved; with `saved`, also save it
    there as the command saves it (cli.save_figure), to read the picture back (slower: only
    where a test reads it)."""
    pytest.importorskip("matplotlib")
    figures = []

    def keep(figure, out):
        figures.append(figure)
        if saved is not None:
            cli.save_figure(figure, saved)

    monkeypatch.setattr(plot, "save_figure", keep)
    assert plot.main(argv) == 0
    return figures[0]


def lines_by_label(figure) -> dict:
    return {line.get_label(): line for axes in figure.get_axes() for line in axes.get_lines()
            if not line.get_label().startswith("_")}


def panel(figure, title_start: str):
    matches = [axes for axes in figure.get_axes() if axes.get_title().startswith(title_start)]
    assert len(matches) == 1, [axes.get_title() for axes in figure.get_axes()]
    return matches[0]


# ---- the rules every picture keeps, read back from a drawn figure and its PNG -------------------
COLUMN_PX = 900  # the width a picture is read at: a GitHub column
WIDEST_PX = 1000  # a picture's width, at most (wider ones are shrunk, their text with them)
SMALLEST_PX = 10  # the smallest text, in pixels, once shown in COLUMN_PX


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header (its IHDR chunk)."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24])


def check_text_sizes(figure, png: Path) -> None:
    """The figure as saved in `png`: at most WIDEST_PX wide, and every text at least
    SMALLEST_PX tall once the picture is shown in a COLUMN_PX column."""
    from matplotlib.text import Text

    width, _ = png_size(png)
    assert width <= WIDEST_PX, width
    pixels_per_point = width / (figure.get_figwidth() * 72)
    shown = min(1.0, COLUMN_PX / width)
    texts = [text for text in figure.findobj(Text)
             if text.get_visible() and text.get_text().strip()]
    assert texts
    for text in texts:
        assert text.get_fontsize() * pixels_per_point * shown >= SMALLEST_PX, text.get_text()


def check_picture_rules(figure, png: Path) -> None:
    """`check_text_sizes`, every axis labelled, no two lines of a panel the same (identical
    lines are drawn once)."""
    check_text_sizes(figure, png)
    for axes in figure.get_axes():
        assert axes.get_xlabel().strip() and axes.get_ylabel().strip(), axes.get_title()
        drawn = [(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in axes.get_lines()]
        assert len(set(drawn)) == len(drawn), axes.get_title()


def outside_the_window(smoothed: list[float], raw: list[float], half_width: int) -> list[int]:
    """The indices where `smoothed` leaves the range of the raw values at most `half_width`
    records away."""
    return [index for index, value in enumerate(smoothed)
            if not min(raw[max(0, index - half_width):index + half_width + 1]) - 1e-12 <= value
            <= max(raw[max(0, index - half_width):index + half_width + 1]) + 1e-12]


def check_loss_line(line, records: list[dict]) -> None:
    """A drawn loss line against the task's training records: at their steps; smoothed, it
    stays within the range of the records near each point (at most a tenth of them away) and
    is not above every record; otherwise it is the records themselves, each a marked point."""
    raw = [r["loss"] for r in records]
    assert list(line.get_xdata()) == [r["step"] for r in records]
    drawn = list(line.get_ydata())
    if drawn == raw:
        assert line.get_marker() not in (None, "", "None", " ")  # a point per record
        return
    half_width = smoothing_half_width([r["steps"] for r in records])
    assert 1 <= half_width <= len(raw) // 10
    assert outside_the_window(drawn, raw, half_width) == []
    assert not all(value > record for value, record in zip(drawn, raw))


def loss_records(records: list[dict], task: str) -> list[dict]:
    return [r for r in records if r["type"] == "train" and r["task"] == task]


# ---- the series, the smoothing, the lines drawn --------------------------------------------------
def test_series_per_task_per_metric_and_one_rate_per_step():
    series = series_of(RECORDS)
    assert series.loss == {"topic": ([2, 4, 6], [1.5, 0.5, 0.25]), "sentiment": ([2], [1.0])}
    assert series.loss_steps == {"topic": [1, 2, 2], "sentiment": [1]}
    assert series.metrics == {"topic": {"accuracy": ([4, 6], [0.8, 0.9]),
                                        "macro_f1": ([4, 6], [0.75, 0.85])},
                              "sentiment": {"accuracy": ([4, 6], [0.6, 0.7])}}
    assert series.main_metric == {"topic": "accuracy", "sentiment": "accuracy"}
    assert series.lr == ([2, 4, 6], [1e-4, 5e-5, 2.5e-5])
    assert series.epoch_steps == 4


def test_the_main_metric_is_the_first_the_log_lists():
    records = [{"type": "eval", "step": 1, "epoch": 1, "metrics": {
        "mlm": {"masked_accuracy": 0.1, "perplexity": 400.0}, "sts": {"spearman": None}}}]
    assert series_of(records).main_metric == {"mlm": "masked_accuracy", "sts": "spearman"}


def test_smoothing_by_hand():
    # A centred window, each record weighted by its steps; one record at each end:
    # (4*1 + 1*3 + 2*1) / 5 = 1.8, (1*3 + 2*1 + 6*1) / 5 = 2.2
    assert smooth([4.0, 1.0, 2.0, 6.0], [1, 3, 1, 1], 1) == pytest.approx([4.0, 1.8, 2.2, 6.0])
    # half-width 2, the middle one: (5*1 + 3*1 + 1*2 + 2*1 + 0*4) / 9 = 12 / 9
    assert smooth([5.0, 3.0, 1.0, 2.0, 0.0], [1, 1, 2, 1, 4], 2)[2] == pytest.approx(12 / 9)
    # Windows of about 10 steps, at most a tenth of the records; none for few records or
    # records that average 10 steps already.
    assert smoothing_half_width([1] * 19) == 0
    assert smoothing_half_width([1] * 40) == 4  # ceil((10 - 1) / 2) = 5, a tenth of 40: 4
    assert smoothing_half_width([2, 3] * 20) == 2  # 2.5 a record: ceil((4 - 1) / 2)
    assert smoothing_half_width([100] * 30) == 0


def test_the_range_check_catches_an_average_that_lags():
    """A loss that falls at once: the exponential average the plot drew before (weight 0.6)
    stays above every record after the fall; the centred mean does not leave the window."""
    raw, steps = [3.0] * 20 + [0.3] * 20, [1] * 40
    lagging, last = [], None
    for value in raw:
        last = value if last is None else 0.6 * last + 0.4 * value
        lagging.append(last)
    half_width = smoothing_half_width(steps)
    assert outside_the_window(lagging, raw, half_width) != []
    assert outside_the_window(smooth(raw, steps, half_width), raw, half_width) == []


def test_few_irregular_records_are_drawn_as_they_are(tmp_path, monkeypatch):
    """A newcomer's first run: 7 records at irregular steps (every 50 and at each epoch's end)
    are drawn as logged, a point each; an average over them would put step 100 far above its
    record (0.73 against 0.28 with the exponential average drawn before)."""
    losses = [(50, 1.1, 50), (76, 0.9, 26), (100, 0.28, 24), (150, 0.45, 50), (152, 0.3, 2),
              (200, 0.35, 48), (228, 0.2, 28)]
    records = [{"type": "train", "step": step, "epoch": 1, "task": "topic", "loss": loss,
                "steps": steps, "lr": 1e-4} for step, loss, steps in losses]
    run = write_run(tmp_path / "run", records)
    figure = drawn_figure(monkeypatch, [str(run), "--label", "r", "--out",
                                        str(tmp_path / "c.png")])
    line = lines_by_label(figure)["r: topic loss"]
    assert list(line.get_ydata()) == [loss for _, loss, _ in losses]
    check_loss_line(line, records)
    assert len(panel(figure, "topic: training loss").get_lines()) == 1  # no faint copy
    assert panel(figure, "topic: training loss").get_title().endswith("a point per record")


def test_drawn_lines_hold_the_log_s_values(tmp_path, monkeypatch):
    first = write_run(tmp_path / "first", RECORDS)
    second = write_run(tmp_path / "second", [
        dict(r, loss=r["loss"] / 2) if "loss" in r else
        dict(r, metrics={task: {name: value - 0.1 for name, value in metrics.items()}
                         for task, metrics in r["metrics"].items()}) if "metrics" in r else r
        for r in RECORDS])
    figure = drawn_figure(monkeypatch, [str(first), str(second), "--label", "a", "--label", "b",
                                        "--out", str(tmp_path / "c.png")])
    lines = lines_by_label(figure)
    assert list(lines["a: topic loss"].get_xdata()) == [2, 4, 6]
    assert list(lines["a: topic loss"].get_ydata()) == [1.5, 0.5, 0.25]  # 3 records: as logged
    assert list(lines["b: topic loss"].get_ydata()) == [0.75, 0.25, 0.125]
    assert list(lines["a: topic accuracy"].get_xdata()) == [4, 6]
    assert list(lines["a: topic accuracy"].get_ydata()) == [0.8, 0.9]
    assert list(lines["b: sentiment accuracy"].get_ydata()) == pytest.approx([0.5, 0.6])
    # A panel per task: its loss, its main metric (no macro-F1 by default), on its own axes.
    titles = [axes.get_title() for axes in figure.get_axes()]
    assert {"topic: dev accuracy", "sentiment: dev accuracy"} <= set(titles)
    assert {"topic: training loss", "sentiment: training loss"} <= {t.split("\n")[0]
                                                                    for t in titles}
    assert not any("macro_f1" in label for label in lines)
    for task in ("topic", "sentiment"):
        drawn = panel(figure, f"{task}: dev accuracy").get_lines()
        assert {line.get_label() for line in drawn} == {f"a: {task} accuracy",
                                                        f"b: {task} accuracy"}
    # One legend for the runs, above the panels (a figure legend): a colour per run.
    texts = [[text.get_text() for text in legend.get_texts()] for legend in figure.legends]
    assert texts == [["a", "b"]]
    colours = {line.get_label(): line.get_color() for line in lines.values()}
    assert colours["a: topic loss"] == colours["a: sentiment accuracy"] \
        != colours["b: topic loss"]


def test_more_metrics_on_request_each_in_its_own_panel(tmp_path, monkeypatch, capsys):
    run = write_run(tmp_path / "run", RECORDS)
    out = str(tmp_path / "c.png")
    figure = drawn_figure(monkeypatch, [str(run), "--metrics", "all", "--out", out])
    titles = [axes.get_title() for axes in figure.get_axes()]
    assert "topic: dev accuracy" in titles and "topic: dev macro_f1" in titles
    assert "sentiment: dev macro_f1" not in titles  # the sentiment task has no macro-F1
    assert list(lines_by_label(figure)[f"{run}: topic macro_f1"].get_ydata()) == [0.75, 0.85]
    figure = drawn_figure(monkeypatch, [str(run), "--metrics", "macro_f1", "--out", out])
    assert [t for t in (a.get_title() for a in figure.get_axes()) if ": dev" in t] \
        == ["topic: dev macro_f1"]
    assert plot.main([str(run), "--metrics", "f2", "--out", out]) == 2
    assert "the runs have accuracy, macro_f1" in capsys.readouterr().err


def depths_of(label: str) -> list[int]:
    """A rate line's label back to its depths: 'embeddings + layers 1-3 (frozen: rate 0)' ->
    [0, 1, 2, 3], 'layers 4-6 (same rate)' -> [4, 5, 6], 'layer 2' -> [2]."""
    depths = []
    for part in label.split(" (")[0].split(" + "):
        if part == "embeddings":
            depths.append(0)
            continue
        for span in part.split(" ", 1)[1].split(", "):
            low, _, high = span.partition("-")
            depths += range(int(low), int(high or low) + 1)
    return depths


def depth_lines(figure, label: str) -> dict[int, list[float]]:
    """{depth: the rates drawn for it} of the run's rate panel, a line serving every depth its
    label names."""
    rates = panel(figure, label)
    return {depth: list(line.get_ydata()) for line in rates.get_lines()
            for depth in depths_of(line.get_label())}


def rate_labels(figure, label: str) -> list[str]:
    return [line.get_label() for line in panel(figure, label).get_lines()]


@pytest.mark.parametrize("decay", [1.0, 0.5])
def test_rate_panel_is_lr_times_decay_to_the_depth_times_the_schedule(tmp_path, monkeypatch,
                                                                      decay):
    run = write_run(tmp_path / "run", RECORDS, {"lr": 1e-4, "layer_decay": decay})
    figure = drawn_figure(monkeypatch, [str(run), "--label", "r", "--out", str(tmp_path / "c.png")])
    lines = depth_lines(figure, "r\n")
    logged = [1e-4, 5e-5, 2.5e-5]  # the top layer's rate at steps 2, 4, 6: warm-up, decay
    assert sorted(lines) == [0, 1, 2, 3]
    for depth, values in lines.items():
        assert values == pytest.approx([rate * decay ** (NUM_LAYERS - depth) for rate in logged])
    assert list(panel(figure, "r\n").get_lines()[0].get_xdata()) == [2, 4, 6]
    # d = 1: one line for the four depths, named as such; d = 0.5: a line each
    assert rate_labels(figure, "r\n") == (["embeddings + layers 1-3 (same rate)"] if decay == 1
                                          else ["layer 3", "layer 2", "layer 1", "embeddings"])


def test_rate_panel_frozen_depths_train_at_zero(tmp_path, monkeypatch):
    run = write_run(tmp_path / "run", RECORDS, {"lr": 1e-4, "layer_decay": 0.5,
                                                "freeze": "layers:1"})
    figure = drawn_figure(monkeypatch, [str(run), "--label", "r", "--out", str(tmp_path / "c.png")])
    lines = depth_lines(figure, "r\n")
    assert lines[0] == lines[1] == [0.0, 0.0, 0.0]  # embeddings and layer 1 frozen
    assert lines[2] == pytest.approx([1e-4 * 0.5, 5e-5 * 0.5, 2.5e-5 * 0.5])
    assert lines[3] == pytest.approx([1e-4, 5e-5, 2.5e-5])
    assert rate_labels(figure, "r\n") == ["layer 3", "layer 2",
                                          "embeddings + layer 1 (frozen: rate 0)"]
    assert panel(figure, "r\n").get_ylim() == pytest.approx((0.0, 1.08e-4))  # the highest rate


def test_every_rate_panel_has_the_same_scale(tmp_path, monkeypatch):
    fast = write_run(tmp_path / "fast", RECORDS, {"lr": 1e-4})
    slow = write_run(tmp_path / "slow", [dict(r, lr=r["lr"] / 4) if "lr" in r else r
                                         for r in RECORDS], {"lr": 2.5e-5})
    figure = drawn_figure(monkeypatch, [str(fast), str(slow), "--label", "f", "--label", "s",
                                        "--out", str(tmp_path / "c.png")])
    assert depth_lines(figure, "s\n")[3] == pytest.approx([2.5e-5, 1.25e-5, 6.25e-6])
    assert panel(figure, "s\n").get_ylim() == panel(figure, "f\n").get_ylim() \
        == pytest.approx((0.0, 1.08e-4))


def test_rate_panel_gradual_unfreezing_joins_one_depth_at_a_time(tmp_path, monkeypatch):
    # Every 2 steps one more depth from the top: the rate logged at step s was trained with
    # the depths unfrozen after step s - 1, i.e. the top (s - 1) // 2 of them.
    records = [{"type": "train", "step": step, "epoch": 1, "task": "topic", "loss": 1.0,
                "steps": 1, "lr": 1e-4} for step in range(1, 10)]
    run = write_run(tmp_path / "run", records, {"lr": 1e-4, "unfreeze_every": 2,
                                                "unfreeze_unit": "steps"})
    figure = drawn_figure(monkeypatch, [str(run), "--label", "r", "--out", str(tmp_path / "c.png")])
    lines = depth_lines(figure, "r\n")
    joined = {depth: next(step for step, rate in zip(range(1, 10), lines[depth]) if rate > 0)
              for depth in lines}
    assert joined == {3: 3, 2: 5, 1: 7, 0: 9}


def test_the_warm_up_s_first_steps_are_logged(tmp_path):
    """Below log_every, the warm-up's steps 1, 2, 4, 8 get a record each, so that the rate
    panel shows the rate rising; without a warm-up, records every log_every steps only. Every
    step is in exactly one record."""
    for warmup, logged in ((20, [1, 2, 4, 8, 10, 20, 30]), (0, [10, 20, 30])):
        directory = tmp_path / f"warmup{warmup}"
        directory.mkdir()
        log = TrainingLog()
        trainer = stand_in(directory, callbacks=[log])
        trainer.warmup_steps, trainer.total_steps, trainer.options.log_every = warmup, 30, 10
        log.on_start(trainer)
        for step in range(1, 31):
            trainer.state.global_step = step
            log.on_step_end(trainer, StepDone(["a"], [8], [1.0]))
        records = read_metrics(directory / "metrics.jsonl")
        assert [r["step"] for r in records] == logged
        assert sum(r["steps"] for r in records) == 30
        rates = [r["lr"] for r in records]
        if warmup:  # rising over the records of the warm-up, 1 / 21 of lr at step 1
            assert rates[:5] == sorted(rates[:5]) and rates[0] == pytest.approx(1e-4 / 21)


def test_the_example_run_draws_its_own_log(tmp_path, monkeypatch):
    figure = drawn_figure(monkeypatch, ["--example", "--out", str(tmp_path / "c.png")])
    records = [json.loads(line) for line in
               (plot.EXAMPLE_RUN / "metrics.jsonl").read_text().splitlines()]
    for task in ("topic", "sentiment"):
        check_loss_line(lines_by_label(figure)[f"example run: {task} loss"],
                        loss_records(records, task))
    # Its run trained with --layer-decay 0.8 on six layers: the embeddings at 0.8**6 of the top.
    lines = depth_lines(figure, "example run\n")
    assert lines[0] == pytest.approx([0.8 ** 6 * rate for rate in lines[6]])
    assert (plot.EXAMPLE_RUN / "README.md").is_file()


def test_one_run_and_several_runs_make_a_png(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    first = write_run(tmp_path / "first", RECORDS)
    second = write_run(tmp_path / "second", RECORDS, {"lr": 1e-4})
    figures = []  # each as the command saved it, to check the picture's rules on its file
    monkeypatch.setattr(plot, "save_figure",
                        lambda figure, out: (figures.append(figure), cli.save_figure(figure, out)))
    for runs, out in (([first], tmp_path / "one.png"), ([first, second], tmp_path / "two.png")):
        assert plot.main([str(run) for run in runs] + ["--out", str(out)]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
        check_picture_rules(figures[-1], out)  # (labels: the runs' long temporary paths)
    # The same log twice: each curve drawn once, the second run named in the panel.
    figure = drawn_figure(monkeypatch, [str(first), str(second), "--label", "a", "--label", "b",
                                        "--out", str(tmp_path / "c.png")])
    for title, line in (("topic: training loss", "a: topic loss"),
                        ("topic: dev accuracy", "a: topic accuracy"),
                        ("sentiment: dev accuracy", "a: sentiment accuracy")):
        axes = panel(figure, title)
        assert [line.get_label() for line in axes.get_lines()] == [line]
        assert [text.get_text() for text in axes.get_legend().get_texts()] == [
            "b: the same as a"]


def test_without_matplotlib_the_message_names_the_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    run = write_run(tmp_path / "run", RECORDS)
    assert plot.main([str(run), "--out", str(tmp_path / "c.png")]) == 2
    assert "pip install 'minitransformer[plots]'" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()


def test_numbers_of_any_size_are_drawn_or_left_out(tmp_path, capsys):
    """inf, NaN, null and numbers beyond float32 (from a diverged run or a log edited by hand):
    matplotlib leaves out what it cannot place, instead of failing on the tick computation."""
    pytest.importorskip("matplotlib")
    records = [
        {"type": "train", "step": 1, "task": "t", "loss": -1e308, "lr": 1e308},
        {"type": "train", "step": 2, "task": "t", "loss": float("inf"), "lr": float("nan")},
        {"type": "eval", "step": 2, "metrics": {"t": {"perplexity": 1e300, "accuracy": None}}}]
    run = write_run(tmp_path / "run", records)
    assert plot.main([str(run), "--out", str(tmp_path / "c.png")]) == 0
    assert series_of(records).metrics == {"t": {"perplexity": ([2], [float("inf")])}}


def test_no_run_and_no_example_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # argparse's way out, status 2 like every refusal
        plot.main(["--out", str(tmp_path / "c.png")])
    assert stop.value.code == 2
    assert "give one or more RUN directories, or --example" in capsys.readouterr().err


# The curves of docs/experiments.md, drawn from the logs experiments/curves.sh keeps, with the
# labels it gives them (its two plot commands).
ROOT = Path(__file__).resolve().parents[1]
CURVES_LOGS = ROOT / "docs" / "img" / "curves_logs"
PICTURES = ROOT / "docs" / "img"
FREEZING = {"none": "nothing frozen", "backbone": "backbone frozen",
            "layers3": "embeddings + layers 1-3 frozen", "gradual": "gradual unfreezing, 16 steps"}
DECAY = {"none": "d = 1.0", "decay0.9": "d = 0.9", "decay0.8": "d = 0.8"}
CURVE_TASKS = ("sst3", "agnews")
MINILM_LAYERS = 6


def kept_log(name: str) -> list[dict]:
    return read_metrics(CURVES_LOGS / name / "metrics.jsonl")


def logged_rates(records: list[dict]) -> list[float]:
    """The top layer's rate at each logged step, as the log records it (once per step)."""
    return list({r["step"]: r["lr"] for r in records if r["type"] == "train"}.values())


DOCS_CURVES = {"curves_freezing.png": FREEZING, "curves_layer_decay.png": DECAY}


@pytest.fixture(scope="module")
def docs_figures(tmp_path_factory) -> dict:
    """{picture name: (figure, the PNG saved from it)} of experiments/curves.sh's two plot
    commands, drawn once for the tests below."""
    figures = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for picture, runs in DOCS_CURVES.items():
            saved = tmp_path_factory.mktemp("curves") / picture
            labels = [word for label in runs.values() for word in ("--label", label)]
            figures[picture] = (drawn_figure(monkeypatch, [str(CURVES_LOGS / name) for name in
                                                           runs] + labels + ["--out", str(saved)],
                                             saved=saved), saved)
    return figures


@pytest.mark.parametrize("picture", DOCS_CURVES)
def test_the_docs_curves_draw_the_kept_logs(docs_figures, picture):
    figure, saved = docs_figures[picture]
    runs = DOCS_CURVES[picture]
    lines = lines_by_label(figure)
    for name, label in runs.items():
        records = kept_log(name)
        for task in CURVE_TASKS:
            check_loss_line(lines[f"{label}: {task} loss"], loss_records(records, task))
            scores = [(r["step"], r["metrics"][task]["accuracy"]) for r in records
                      if r["type"] == "eval"]
            line = lines[f"{label}: {task} accuracy"]  # the main metric, drawn by default
            assert list(zip(line.get_xdata(), line.get_ydata())) == scores
            assert len(scores) == 8  # every 25 steps and after the last, step 188
            assert line.axes is panel(figure, f"{task}: dev accuracy")
    # Each task's accuracy on its own axis, scaled to its own range.
    sst3, agnews = (panel(figure, f"{task}: dev accuracy") for task in CURVE_TASKS)
    assert sst3.get_ylim()[1] < 0.7 < agnews.get_ylim()[1]
    check_picture_rules(figure, saved)
    # The kept picture is this drawing: the same size (the size follows the layout).
    assert png_size(PICTURES / picture) == png_size(saved)


def test_the_docs_rate_panels_show_freezing_and_decay(docs_figures):
    """By hand from the kept logs: frozen depths at 0, gradual unfreezing opening a depth every
    16 steps from the top, depth k at d**(6-k) of the top layer's logged rate; depths at the
    same rate throughout drawn as one line, named as such."""
    figure = docs_figures["curves_freezing.png"][0]
    top = logged_rates(kept_log("none"))
    assert depth_lines(figure, "nothing frozen\n") == {
        depth: pytest.approx(top) for depth in range(MINILM_LAYERS + 1)}
    assert rate_labels(figure, "nothing frozen\n") == ["embeddings + layers 1-6 (same rate)"]
    backbone = depth_lines(figure, "backbone frozen\n")
    assert all(rate == 0.0 for rates in backbone.values() for rate in rates)
    assert rate_labels(figure, "backbone frozen\n") == [
        "embeddings + layers 1-6 (frozen: rate 0)"]
    partial = depth_lines(figure, "embeddings + layers 1-3 frozen\n")
    assert all(rate == 0.0 for depth in range(4) for rate in partial[depth])
    for depth in range(4, MINILM_LAYERS + 1):
        assert partial[depth] == pytest.approx(logged_rates(kept_log("layers3")))
    assert rate_labels(figure, "embeddings + layers 1-3 frozen\n") == [
        "layers 4-6 (same rate)", "embeddings + layers 1-3 (frozen: rate 0)"]
    steps = [r["step"] for r in kept_log("gradual") if r["type"] == "train"]
    steps = list(dict.fromkeys(steps))
    gradual = depth_lines(figure, "gradual unfreezing, 16 steps\n")
    # The rate logged at step s trained with the top (s - 1) // 16 depths: depth 6 from step 17.
    joined = {depth: next(step for step, rate in zip(steps, rates) if rate > 0)
              for depth, rates in gradual.items()}
    assert joined == {depth: next(step for step in steps if (step - 1) // 16 >= 7 - depth)
                      for depth in range(MINILM_LAYERS + 1)}
    assert joined[0] == 115  # the first logged step (every 5) of the whole encoder training
    assert len(rate_labels(figure, "gradual unfreezing, 16 steps\n")) == MINILM_LAYERS + 1

    figure = docs_figures["curves_layer_decay.png"][0]
    for name, decay in (("decay0.9", 0.9), ("decay0.8", 0.8)):
        rates = depth_lines(figure, f"{DECAY[name]}\n")
        top = logged_rates(kept_log(name))
        for depth in range(MINILM_LAYERS + 1):
            assert rates[depth] == pytest.approx([rate * decay ** (MINILM_LAYERS - depth)
                                                  for rate in top])
        assert len(rate_labels(figure, f"{DECAY[name]}\n")) == MINILM_LAYERS + 1


def test_the_docs_state_the_kept_logs_final_accuracies():
    text = (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8")
    start = text.index("## Curves: freezing")
    section = " ".join(text[start:text.index("\n## ", start)].split())  # lines joined
    for name, label in [*FREEZING.items(), *DECAY.items()]:
        last = [r for r in kept_log(name) if r["type"] == "eval"][-1]
        sst3, agnews = (last["metrics"][task]["accuracy"] for task in CURVE_TASKS)
        assert f"{label} {sst3:.3f} / {agnews:.3f}" in section, (name, sst3, agnews)


# The masked-LM pretraining picture of docs/experiments.md, drawn from its kept log with the
# command the caption gives.
PRETRAIN_LOG = CURVES_LOGS / "pretrain_mlm"
PRETRAIN_METRICS = ("masked_accuracy", "perplexity")


def test_the_pretraining_picture_draws_the_kept_log(tmp_path, monkeypatch):
    figure = drawn_figure(monkeypatch, [str(PRETRAIN_LOG), "--label", "MLM",
                                        "--metrics", ",".join(PRETRAIN_METRICS),
                                        "--out", str(tmp_path / "c.png")],
                          saved=tmp_path / "c.png")
    lines = lines_by_label(figure)
    records = kept_log("pretrain_mlm")
    losses = loss_records(records, "mlm")
    check_loss_line(lines["MLM: mlm loss"], losses)
    # Records of about 100 steps each are means already: drawn as they are, a point each.
    assert list(lines["MLM: mlm loss"].get_ydata()) == [r["loss"] for r in losses]
    evaluations = [r for r in records if r["type"] == "eval"]
    for metric in PRETRAIN_METRICS:  # each in its own panel: no twin axes
        scores = [(r["step"], r["metrics"]["mlm"][metric]) for r in evaluations]
        assert list(zip(*(lines[f"MLM: mlm {metric}"].get_data()))) == scores
        assert lines[f"MLM: mlm {metric}"].axes is panel(figure, f"mlm: dev {metric}")
    # every epoch's end (955 steps) and every 1,000 steps, as configs/pretrain_mlm.json says
    assert [r["step"] for r in evaluations] == [955, 1000, 1910, 2000, 2865]
    check_picture_rules(figure, tmp_path / "c.png")
    assert png_size(PICTURES / "pretrain_mlm.png") == png_size(tmp_path / "c.png")


def test_the_docs_state_the_pretraining_log_s_numbers():
    text = (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8")
    start = text.index("## What pretraining buys")
    section = " ".join(text[start:text.index("\n## ", start)].split())
    records = kept_log("pretrain_mlm")
    losses = [r["loss"] for r in records if r["type"] == "train"]
    evaluations = [r["metrics"]["mlm"] for r in records if r["type"] == "eval"]
    first, last = evaluations[0], evaluations[-1]
    claims = [f"falls from {losses[0]:.1f} to {losses[-1]:.1f}",
              f"from {first['masked_accuracy']:.3f} after the first epoch to "
              f"**{last['masked_accuracy']:.3f}**",
              f"from {first['perplexity']:.0f} to **{last['perplexity']:.0f}**"]
    for claim in claims:
        assert claim in section, claim


def test_the_kept_pictures_fit_a_column():
    """The pictures the plot and inspect commands drew for the docs, at most WIDEST_PX wide
    (their other rules: the tests above, and test_attention_picture.py)."""
    for name in ("curves_freezing.png", "curves_layer_decay.png", "pretrain_mlm.png",
                 "walkthrough_attention.png"):
        assert png_size(PICTURES / name)[0] <= WIDEST_PX, name
