"""Curves from metrics.jsonl: the series read from the log (checked without drawing), then the
lines actually drawn: the loss and metric lines hold the log's values, the default draws only
each task's main metric, and the rate-per-depth panel holds lr * d**(N-k) times the schedule,
0 for frozen depths (computed by hand here, not by the code under test)."""

import json
import sys
from pathlib import Path

import pytest

from minitransformer import plot
from minitransformer.model.config import EncoderConfig
from minitransformer.plot import series_of, smooth
from minitransformer.storage.formats import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
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


def drawn_figure(monkeypatch, argv):
    """Run the command and keep the figure it would have saved."""
    pytest.importorskip("matplotlib")
    figures = []
    monkeypatch.setattr(plot, "save_figure", lambda figure, out: figures.append(figure))
    assert plot.main(argv) == 0
    return figures[0]


def lines_by_label(figure) -> dict:
    return {line.get_label(): line for axes in figure.get_axes() for line in axes.get_lines()
            if not line.get_label().startswith("_")}


def panel(figure, title_start: str):
    matches = [axes for axes in figure.get_axes() if axes.get_title().startswith(title_start)]
    assert len(matches) == 1, [axes.get_title() for axes in figure.get_axes()]
    return matches[0]


def test_series_per_task_per_metric_and_one_rate_per_step():
    series = series_of(RECORDS)
    assert series.loss == {"topic": ([2, 4, 6], [1.5, 0.5, 0.25]), "sentiment": ([2], [1.0])}
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
    # 1; 0.6 * 1 + 0.4 * 3 = 1.8; 0.6 * 1.8 + 0.4 * 0 = 1.08
    assert smooth([1.0, 3.0, 0.0]) == pytest.approx([1.0, 1.8, 1.08])


def test_drawn_lines_hold_the_log_s_values(tmp_path, monkeypatch):
    first = write_run(tmp_path / "first", RECORDS)
    second = write_run(tmp_path / "second", [dict(r, loss=r["loss"] / 2) if "loss" in r else r
                                              for r in RECORDS])
    figure = drawn_figure(monkeypatch, [str(first), str(second), "--label", "a", "--label", "b",
                                        "--out", str(tmp_path / "c.png")])
    lines = lines_by_label(figure)
    assert list(lines["a: topic loss"].get_xdata()) == [2, 4, 6]
    assert list(lines["a: topic loss"].get_ydata()) == pytest.approx(smooth([1.5, 0.5, 0.25]))
    assert list(lines["b: topic loss"].get_ydata()) == pytest.approx(smooth([0.75, 0.25, 0.125]))
    raw = [list(line.get_ydata()) for line in panel(figure, "training loss").get_lines()]
    assert [1.5, 0.5, 0.25] in raw and [0.75, 0.25, 0.125] in raw  # the faint raw values
    assert list(lines["a: topic accuracy"].get_xdata()) == [4, 6]
    assert list(lines["a: topic accuracy"].get_ydata()) == [0.8, 0.9]
    assert list(lines["b: sentiment accuracy"].get_ydata()) == [0.6, 0.7]
    # The main metric only, by default: no macro-F1 panel, no macro-F1 line.
    assert not any("macro_f1" in label for label in lines)
    assert [axes.get_title() for axes in figure.get_axes() if axes.get_title().startswith("dev")] \
        == ["dev accuracy"]
    # One legend for the curves, outside the panels (a figure legend), a row per run and task.
    legends = [legend for sub in figure.subfigs for legend in sub.legends]
    texts = [[text.get_text() for text in legend.get_texts()] for legend in legends]
    assert ["a", "b", "topic", "sentiment"] in texts
    assert not any(axes.get_legend() for axes in figure.get_axes())


def test_more_metrics_on_request_each_in_its_own_panel(tmp_path, monkeypatch, capsys):
    run = write_run(tmp_path / "run", RECORDS)
    out = str(tmp_path / "c.png")
    figure = drawn_figure(monkeypatch, [str(run), "--metrics", "all", "--out", out])
    titles = [axes.get_title() for axes in figure.get_axes()]
    assert "dev accuracy" in titles and "dev macro_f1" in titles
    assert list(lines_by_label(figure)[f"{run}: topic macro_f1"].get_ydata()) == [0.75, 0.85]
    figure = drawn_figure(monkeypatch, [str(run), "--metrics", "macro_f1", "--out", out])
    assert [t for t in (a.get_title() for a in figure.get_axes()) if t.startswith("dev")] \
        == ["dev macro_f1"]
    assert plot.main([str(run), "--metrics", "f2", "--out", out]) == 2
    assert "the runs have accuracy, macro_f1" in capsys.readouterr().err


def depth_lines(figure, label: str) -> dict[int, list[float]]:
    rates = panel(figure, label)
    return {int(line.get_label().split()[1]): list(line.get_ydata()) for line in rates.get_lines()}


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


def test_rate_panel_frozen_depths_train_at_zero(tmp_path, monkeypatch):
    run = write_run(tmp_path / "run", RECORDS, {"lr": 1e-4, "layer_decay": 0.5,
                                                "freeze": "layers:1"})
    figure = drawn_figure(monkeypatch, [str(run), "--label", "r", "--out", str(tmp_path / "c.png")])
    lines = depth_lines(figure, "r\n")
    assert lines[0] == lines[1] == [0.0, 0.0, 0.0]  # embeddings and layer 1 frozen
    assert lines[2] == pytest.approx([1e-4 * 0.5, 5e-5 * 0.5, 2.5e-5 * 0.5])
    assert lines[3] == pytest.approx([1e-4, 5e-5, 2.5e-5])
    assert "depths 0-1 frozen" in panel(figure, "r\n").get_title()
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


def test_the_example_run_draws_its_own_log(tmp_path, monkeypatch):
    figure = drawn_figure(monkeypatch, ["--example", "--out", str(tmp_path / "c.png")])
    records = [json.loads(line) for line in
               (plot.EXAMPLE_RUN / "metrics.jsonl").read_text().splitlines()]
    topic = [(r["step"], r["loss"]) for r in records if r.get("task") == "topic"]
    line = lines_by_label(figure)["example run: topic loss"]
    assert list(line.get_xdata()) == [step for step, _ in topic]
    assert list(line.get_ydata()) == pytest.approx(smooth([loss for _, loss in topic]))
    # Its run trained with --layer-decay 0.8 on six layers: the embeddings at 0.8**6 of the top.
    lines = depth_lines(figure, "example run\n")
    assert lines[0] == pytest.approx([0.8 ** 6 * rate for rate in lines[6]])
    assert (plot.EXAMPLE_RUN / "README.md").is_file()


def test_one_run_and_several_runs_make_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    first = write_run(tmp_path / "first", RECORDS)
    second = write_run(tmp_path / "second", RECORDS, {"lr": 1e-4})
    for runs, out in (([first], tmp_path / "one.png"), ([first, second], tmp_path / "two.png")):
        assert plot.main([str(run) for run in runs] + ["--out", str(out)]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


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


def docs_figure(monkeypatch, tmp_path, runs: dict):
    labels = [word for label in runs.values() for word in ("--label", label)]
    return drawn_figure(monkeypatch, [str(CURVES_LOGS / name) for name in runs] + labels
                        + ["--out", str(tmp_path / "c.png")])


@pytest.mark.parametrize("runs", [FREEZING, DECAY], ids=["freezing", "layer_decay"])
def test_the_docs_curves_draw_the_kept_logs(tmp_path, monkeypatch, runs):
    lines = lines_by_label(docs_figure(monkeypatch, tmp_path, runs))
    for name, label in runs.items():
        records = kept_log(name)
        for task in CURVE_TASKS:
            losses = [(r["step"], r["loss"]) for r in records
                      if r["type"] == "train" and r["task"] == task]
            line = lines[f"{label}: {task} loss"]
            assert list(line.get_xdata()) == [step for step, _ in losses]
            assert list(line.get_ydata()) == pytest.approx(smooth([loss for _, loss in losses]))
            scores = [(r["step"], r["metrics"][task]["accuracy"]) for r in records
                      if r["type"] == "eval"]
            line = lines[f"{label}: {task} accuracy"]  # the main metric, drawn by default
            assert list(zip(line.get_xdata(), line.get_ydata())) == scores
            assert len(scores) == 8  # every 25 steps and after the last, step 188


def test_the_docs_rate_panels_show_freezing_and_decay(tmp_path, monkeypatch):
    """By hand from the kept logs: frozen depths at 0, gradual unfreezing opening a depth every
    16 steps from the top, depth k at d**(6-k) of the top layer's logged rate."""
    figure = docs_figure(monkeypatch, tmp_path, FREEZING)
    top = logged_rates(kept_log("none"))
    assert depth_lines(figure, "nothing frozen\n") == {
        depth: pytest.approx(top) for depth in range(MINILM_LAYERS + 1)}
    backbone = depth_lines(figure, "backbone frozen\n")
    assert all(rate == 0.0 for rates in backbone.values() for rate in rates)
    partial = depth_lines(figure, "embeddings + layers 1-3 frozen\n")
    assert all(rate == 0.0 for depth in range(4) for rate in partial[depth])
    for depth in range(4, MINILM_LAYERS + 1):
        assert partial[depth] == pytest.approx(logged_rates(kept_log("layers3")))
    steps = [r["step"] for r in kept_log("gradual") if r["type"] == "train"]
    steps = list(dict.fromkeys(steps))
    gradual = depth_lines(figure, "gradual unfreezing, 16 steps\n")
    # The rate logged at step s trained with the top (s - 1) // 16 depths: depth 6 from step 17.
    joined = {depth: next(step for step, rate in zip(steps, rates) if rate > 0)
              for depth, rates in gradual.items()}
    assert joined == {depth: next(step for step in steps if (step - 1) // 16 >= 7 - depth)
                      for depth in range(MINILM_LAYERS + 1)}
    assert joined[0] == 115  # the first logged step (every 5) of the whole encoder training

    figure = docs_figure(monkeypatch, tmp_path, DECAY)
    for name, decay in (("decay0.9", 0.9), ("decay0.8", 0.8)):
        rates = depth_lines(figure, f"{DECAY[name]}\n")
        top = logged_rates(kept_log(name))
        for depth in range(MINILM_LAYERS + 1):
            assert rates[depth] == pytest.approx([rate * decay ** (MINILM_LAYERS - depth)
                                                  for rate in top])


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
                                        "--out", str(tmp_path / "c.png")])
    lines = lines_by_label(figure)
    records = kept_log("pretrain_mlm")
    losses = [(r["step"], r["loss"]) for r in records if r["type"] == "train"]
    assert list(lines["MLM: mlm loss"].get_xdata()) == [step for step, _ in losses]
    assert list(lines["MLM: mlm loss"].get_ydata()) == pytest.approx(
        smooth([loss for _, loss in losses]))
    evaluations = [r for r in records if r["type"] == "eval"]
    for metric in PRETRAIN_METRICS:  # each in its own panel: no twin axes
        scores = [(r["step"], r["metrics"]["mlm"][metric]) for r in evaluations]
        assert list(zip(*(lines[f"MLM: mlm {metric}"].get_data()))) == scores
        assert f"dev {metric}" in [axes.get_title() for axes in figure.get_axes()]
    # every epoch's end (955 steps) and every 1,000 steps, as configs/pretrain_mlm.json says
    assert [r["step"] for r in evaluations] == [955, 1000, 1910, 2000, 2865]


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
