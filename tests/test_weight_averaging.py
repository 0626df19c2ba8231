"""--ema-decay: the average is the textbook recurrence, training is unchanged, evaluations and
RUN/best read the average, and a resumed run carries it on exactly."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import pytest
import torch
from test_trainer import make_trainer, rows_tokenizer, write_task_files

from minitransformer.storage.safetensors_io import read_safetensors
from minitransformer.tasks.scoring import dev_results
from minitransformer.training.callbacks import Callback, WeightAveraging

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tokenizer():
    return rows_tokenizer()


@pytest.fixture
def task_files(tmp_path):
    return write_task_files(tmp_path)


class WeightsAfterEachStep(Callback):
    """Records every parameter after each step (it runs after the run's own callbacks)."""

    def __init__(self):
        self.steps = []

    def on_step_end(self, trainer, step):
        self.steps.append({name: parameter.detach().clone()
                           for name, parameter in trainer.model.named_parameters()})


def test_the_average_is_the_recurrence_and_training_is_unchanged(tokenizer, task_files, tmp_path):
    decay = 0.5  # the warm-up's (1 + t) / (10 + t) passes it at step 9 of 12: both branches
    plain = make_trainer(tokenizer, task_files, tmp_path / "plain", dropout=0.1, eval_every=3,
                         epochs=3)
    averaged = make_trainer(tokenizer, task_files, tmp_path / "ema", dropout=0.1, eval_every=3,
                            epochs=3, ema_decay=decay)
    start = {name: p.detach().clone() for name, p in averaged.model.named_parameters()}
    recorder = WeightsAfterEachStep()
    averaged.callbacks.append(recorder)
    plain.train()
    averaged.train()
    # Training goes on from the live weights, so the two runs take the same steps, even with
    # evaluations (which swap the average in and out) between them.
    assert averaged.state.losses == plain.state.losses
    for (name, a), b in zip(averaged.model.named_parameters(), plain.model.parameters()):
        assert torch.equal(a, b), name
    # The average, computed here from the recorded weights by the formula of the docstring.
    expected = start
    for t, weights in enumerate(recorder.steps, start=1):
        d = min(decay, (1 + t) / (10 + t))
        expected = {name: d * expected[name] + (1 - d) * weights[name] for name in expected}
    got = averaged.state.averaged_weights
    assert len(recorder.steps) == averaged.state.global_step == 12
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(got[name], recorder.steps[-1][name]) for name in got)


def test_evaluations_and_run_best_read_the_average(tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=1, ema_decay=0.5)
    trainer.train()  # one evaluation, at the end: RUN/best is the final average
    averages = trainer.state.averaged_weights
    best = read_safetensors(tmp_path / "run" / "best" / "model.safetensors")
    last = read_safetensors(tmp_path / "run" / "last" / "model.safetensors")
    for name, parameter in trainer.model.named_parameters():
        torch.testing.assert_close(best[name], averages[name], rtol=0, atol=0)
        torch.testing.assert_close(last[name], parameter.detach(), rtol=0, atol=0)
    assert any(not torch.equal(best[name], last[name]) for name in averages)
    # The logged scores are the average's, not the live weights'.
    with trainer.find(WeightAveraging).averaged_weights_in(trainer):
        assert dev_results(trainer.model, trainer.tasks) == trainer.state.history[-1]["metrics"]
    for name, parameter in trainer.model.named_parameters():  # and the live ones are back
        assert torch.equal(parameter.detach(), last[name]), name


def test_a_resumed_run_carries_the_average_on(tokenizer, task_files, tmp_path):
    class StopAfterStep3(Callback):
        def on_step_end(self, trainer, step):
            trainer.should_stop = trainer.state.global_step == 3

    uninterrupted = make_trainer(tokenizer, task_files, tmp_path / "a", ema_decay=0.8)
    uninterrupted.train()
    stopped = make_trainer(tokenizer, task_files, tmp_path / "b", ema_decay=0.8)
    stopped.callbacks.append(StopAfterStep3())
    stopped.train()
    resumed = make_trainer(tokenizer, task_files, tmp_path / "b", ema_decay=0.8)
    resumed.train(resume=True)
    assert resumed.state.global_step == uninterrupted.state.global_step
    for name, average in uninterrupted.state.averaged_weights.items():
        torch.testing.assert_close(resumed.state.averaged_weights[name], average,
                                   rtol=1e-6, atol=1e-7)


def test_train_py_scores_best_final_and_the_final_average(tmp_path, capsys):
    sys.path.insert(0, str(ROOT))
    import train

    run = tmp_path / "run"
    assert train.main(["--init", "scratch", "--preset", "tiny", "--epochs", "1", "--max-train",
                       "60", "--ema-decay", "0.9", "--run-dir", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "averaged (step 8), report part" in printed
    parts = json.loads((run / "run.json").read_text())["parts"]
    assert set(parts) == {"best", "final", "averaged"}
    # One evaluation, at the end: RUN/best is the final average.
    assert parts["best"]["report"] == parts["averaged"]["report"]


@pytest.mark.parametrize("value, message", [
    ("1", "--ema-decay must be a number >= 0 and < 1, got 1.0"),
    ("-0.5", "--ema-decay must be a number >= 0 and < 1, got -0.5"),
    ("nan", "argument --ema-decay: must be a number, got 'nan'")])
def test_a_decay_outside_0_to_1_is_refused_by_name(value, message, tmp_path, capsys):
    sys.path.insert(0, str(ROOT))
    import train

    with pytest.raises(SystemExit) if value == "nan" else contextlib.nullcontext():
        assert train.main(["--init", "scratch", "--preset", "tiny", "--ema-decay", value,
                           "--run-dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
