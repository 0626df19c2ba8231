"""Progress for a person: plain lines in a log at a steady cadence; a metrics log that can be
read while it is being written."""

import re

import pytest

from minitransformer.errors import InputError
from minitransformer.training import progress
from minitransformer.training.progress import MetricsLog, Progress, format_duration, read_metrics


def run_steps(mode, total, every, monkeypatch=None):
    lines = []
    bar = Progress(mode, total, every, log=lines.append)
    for step in range(1, total + 1):
        bar.update(step, 1, 1, {"topic": 0.5, "sentiment": 0.25}, 12.0, elapsed_s=2.0 * step)
    bar.close()
    return lines


def test_lines_every_n_steps_and_at_the_end():
    lines = run_steps("lines", total=10, every=4)
    assert [line.split()[1] for line in lines] == ["4/10", "8/10", "10/10"]
    assert lines[0] == ("step 4/10 (epoch 1/1)  loss topic 0.500  sentiment 0.250  12.0 ex/s  "
                        "elapsed 0m08s  ETA 0m12s")  # 2 s a step, 6 steps to go


def test_a_slow_run_writes_a_line_at_least_every_line_seconds(monkeypatch):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)  # every step is "slow"
    assert len(run_steps("lines", total=5, every=100)) == 5


def test_off_and_bar_write_no_lines():
    assert run_steps("off", total=5, every=1) == []
    assert run_steps("bar", total=5, every=1) == []  # the bar goes to stderr, not the log


def test_durations():
    assert format_duration(59.9) == "0m59s" and format_duration(3725) == "1h02m"


def test_metrics_log_restarts_keeps_on_resume_and_skips_a_half_written_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    for step in (5, 10, 15):
        log.write({"type": "train", "step": step, "task": "t", "loss": 1.0 / step, "lr": 0.1})
    MetricsLog(path, keep_until_step=10)  # resumed from step 10: step 15 is dropped
    assert [r["step"] for r in read_metrics(path)] == [5, 10]
    with open(path, "a") as handle:
        handle.write('{"type": "train", "st')  # a line the run is writing right now
    assert [r["step"] for r in read_metrics(path)] == [5, 10]
    MetricsLog(path)  # a new run starts a new log
    assert read_metrics(path) == []


def test_a_log_is_read_whole_or_refused_with_its_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    good = '{"type": "eval", "step": 4, "metrics": {"t": {"accuracy": 0.5, "f1": null}}}\n'
    path.write_bytes((good + '{"type": "later", "step": 5}\n').encode() + b'{"task": "caf\xc3')
    assert [r["type"] for r in read_metrics(path)] == ["eval", "later"]  # the cut é is skipped
    for line, problem in (('["train"]', "expected a JSON object, got a JSON list"),
                          ('{"type": "train", "step": 5, "loss": 1, "lr": 1}', "no string 'task'"),
                          ('{"type": "eval", "step": -1, "metrics": {}}', "integer 'step' >= 0"),
                          ('{"type": "train", "st', "not valid JSON")):
        path.write_text(good + line + "\n" + good, encoding="utf-8")
        with pytest.raises(InputError, match=f"metrics.jsonl, line 2: .*{re.escape(problem)}"):
            read_metrics(path)
    path.write_bytes(good.encode() + b"caf\xe9\n")
    with pytest.raises(InputError, match="line 2: not valid UTF-8: byte 0xe9"):
        read_metrics(path)
