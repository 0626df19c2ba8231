"""Curves from metrics.jsonl: the series the plot draws, checked without drawing; one picture
drawn when matplotlib is installed (it is in the test extra)."""

import json
import sys

import pytest

from minitransformer import plot
from minitransformer.plot import series_of, smooth

RECORDS = [
    {"type": "train", "step": 2, "epoch": 1, "task": "topic", "loss": 1.5, "steps": 1, "lr": 1e-4},
    {"type": "train", "step": 2, "epoch": 1, "task": "sentiment", "loss": 1.0, "steps": 1, "lr": 1e-4},
    {"type": "train", "step": 4, "epoch": 1, "task": "topic", "loss": 0.5, "steps": 2, "lr": 5e-5},
    {"type": "eval", "step": 4, "epoch": 1, "score": 0.7,
     "metrics": {"topic": {"accuracy": 0.8, "macro_f1": 0.75}, "sentiment": {"accuracy": 0.6}}},
]


def write_run(directory, records):
    directory.mkdir()
    (directory / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return directory


def test_series_per_task_per_metric_and_one_rate_per_step():
    series = series_of(RECORDS)
    assert series.loss == {"topic": ([2, 4], [1.5, 0.5]), "sentiment": ([2], [1.0])}
    assert series.metrics == {"topic accuracy": ([4], [0.8]), "topic macro_f1": ([4], [0.75]),
                              "sentiment accuracy": ([4], [0.6])}
    assert series.lr == ([2, 4], [1e-4, 5e-5])


def test_smoothing_by_hand():
    # 1; 0.6 * 1 + 0.4 * 3 = 1.8; 0.6 * 1.8 + 0.4 * 0 = 1.08
    assert smooth([1.0, 3.0, 0.0]) == pytest.approx([1.0, 1.8, 1.08])


def test_one_run_and_several_runs_make_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    first = write_run(tmp_path / "first", RECORDS)
    second = write_run(tmp_path / "second", [dict(r, loss=r.get("loss", 0) / 2) for r in RECORDS])
    for runs, out in (([first], tmp_path / "one.png"), ([first, second], tmp_path / "two.png")):
        assert plot.main([str(run) for run in runs] + ["--out", str(out)]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert (tmp_path / "two.png").stat().st_size > (tmp_path / "one.png").stat().st_size


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
    assert series_of(records).metrics == {"t perplexity": ([2], [float("inf")])}
