"""The loop's callbacks, each alone on a stand-in trainer, and all of them together against the
run the Trainer gave before it was split into a loop and callbacks (trainer_reference.py says
how that reference was made). Compared within float tolerance, since another CPU may round
differently; on one machine the run is the same bit for bit.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from test_trainer import make_trainer, rows_tokenizer, write_task_files
from trainer_reference import REFERENCE, reference_runs

from minitransformer.tasks import dev_split
from minitransformer.training.callbacks import (
    Callback,
    CheckpointSaving,
    DevEvaluation,
    HeapTrim,
    NonFiniteLoss,
    StepDone,
    StopOnNonFiniteLoss,
    TrainingLog,
    heap_trim,
)
from minitransformer.training.progress import read_metrics
from minitransformer.training.state import TrainingState


@pytest.fixture(scope="module")
def tokenizer():  # test_trainer.py's: a vocabulary of its rows
    return rows_tokenizer()


@pytest.fixture
def task_files(tmp_path):
    return write_task_files(tmp_path)


def assert_close(got, want, where: str) -> None:
    """Equal structure; numbers within 1e-5 relative (1e-6 absolute)."""
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), where
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for index, (a, b) in enumerate(zip(got, want)):
            assert_close(a, b, f"{where}[{index}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6), where
    else:
        assert got == want, where


def test_the_default_callbacks_give_the_run_of_the_trainer_before_them(tokenizer, task_files,
                                                                        tmp_path, monkeypatch):
    # The reference was written before dev sets had a report part: every dev example selects.
    monkeypatch.setattr(dev_split, "part_of", lambda example: dev_split.SELECT)
    reference = json.loads(REFERENCE.read_text())
    got = reference_runs(make_trainer, tokenizer, task_files, tmp_path)
    assert_close(got, reference["runs"], "runs")
    # Not trivially so: the records hold evaluations and several windows of both tasks.
    records = got["plain"]["records"]
    # the start, every 3 of 12 steps, and the end of each of the 3 epochs (step 12: both)
    assert sum(r["type"] == "eval" for r in records) == 1 + 12 // 3 + 3
    assert {r.get("task") for r in records if r["type"] == "train"} == {"topic", "sentiment"}


# ---- each callback alone, on a stand-in trainer -------------------------------------------------
def stand_in(tmp_path, **more) -> SimpleNamespace:
    """The few attributes of a Trainer that the callbacks read."""
    trainer = SimpleNamespace(
        state=TrainingState(), run_dir=tmp_path, resumed=False, progress_mode="off",
        total_steps=10, warmup_steps=0, head_lr=1e-3, log=lambda *a: None,
        options=SimpleNamespace(log_every=2, epochs=1, lr=1e-4, heads_rate=1e-3),
        should_stop=False,
        distributed=SimpleNamespace(is_main=True, world_size=1, barrier=lambda: None),
        tasks=[SimpleNamespace(spec=SimpleNamespace(name="a")),
               SimpleNamespace(spec=SimpleNamespace(name="b"))], **more)
    trainer.fire = lambda event, *args: [getattr(c, event)(trainer, *args)
                                         for c in trainer.callbacks]
    return trainer


def test_heap_trim_trims_after_each_step_and_each_dev_batch(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(heap_trim, "heap_trimmer", lambda: lambda: calls.append(1))
    trim = HeapTrim()
    trim.on_step_end(stand_in(tmp_path), StepDone(["a"], [4], [1.0]))
    trim.after_batch()
    assert len(calls) == 2
    monkeypatch.setattr(heap_trim, "heap_trimmer", lambda: None)  # no glibc: nothing to call
    HeapTrim().on_step_end(stand_in(tmp_path), StepDone(["a"], [4], [1.0]))


def test_training_log_averages_each_task_over_its_window(tmp_path):
    log = TrainingLog()
    trainer = stand_in(tmp_path, callbacks=[log])
    log.on_start(trainer)
    for step, (task, loss) in enumerate([("a", 1.0), ("b", 4.0), ("a", 3.0)], start=1):
        trainer.state.global_step = step
        log.on_step_end(trainer, StepDone([task], [8], [loss]))
    assert trainer.state.window.losses == {"a": [3.0, 1]}  # step 3, after the record of step 2
    log.on_evaluation_due(trainer)  # the window reaches the evaluation
    log.on_evaluated(trainer, {"step": 3, "epoch": 1, "metrics": {}, "elapsed_s": 0.0})
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [(r["type"], r.get("task"), r.get("loss"), r.get("steps")) for r in records] == [
        ("train", "a", 1.0, 1), ("train", "b", 4.0, 1), ("train", "a", 3.0, 1),
        ("eval", None, None, None)]
    assert trainer.state.window.losses == {} and trainer.state.window.examples == 0


def test_dev_evaluation_appends_an_entry_and_announces_it(tmp_path, monkeypatch):
    from minitransformer.training.callbacks import dev_evaluation

    heard = []
    monkeypatch.setattr(dev_evaluation, "dev_results",
                        lambda model, tasks, **options: {"a": {"accuracy": 0.5}})
    monkeypatch.setattr(dev_evaluation, "main_score", lambda results, tasks: 0.5)
    monkeypatch.setattr(dev_evaluation, "count_parameters", lambda model: 7)

    class Listener(Callback):
        def on_evaluated(self, trainer, entry):
            heard.append(entry)

    trainer = stand_in(tmp_path, model=None, weighting=SimpleNamespace(current_weights=dict))
    trainer.tasks = trainer.tasks[:1]
    trainer.callbacks = [DevEvaluation(), Listener()]
    trainer.fire("on_evaluation_due")
    assert heard == trainer.state.history and heard[0]["score"] == 0.5
    assert heard[0]["metrics"] == {"a": {"accuracy": 0.5}} and heard[0]["trainable_parameters"] == 7


def test_checkpoint_saving_keeps_best_only_when_the_score_improves(tmp_path):
    saved = []
    checkpoints = SimpleNamespace(best=tmp_path / "best", last=tmp_path / "last",
                                  save=lambda directory, *rest: saved.append(directory.name))
    saving = CheckpointSaving(checkpoints)
    module = SimpleNamespace(state_dict=dict)  # an optimizer and loss weights without state
    trainer = stand_in(tmp_path, optimizer=module, weighting=module)
    for score in (0.5, 0.4, 0.6, 0.6):
        saving.on_evaluated(trainer, {"score": score})
    assert saved == ["best", "best"] and trainer.state.best_score == 0.6
    saving.on_epoch_end(trainer)
    saving.on_end(trainer, interrupted=False)  # a finished run: last/ was saved at the epoch's end
    assert saved == ["best", "best", "last"] and saving.saved_last


def test_a_non_finite_loss_stops_the_run_and_says_what_was_kept(tmp_path):
    saving = CheckpointSaving(SimpleNamespace(last=tmp_path / "last"))
    guard, trainer = StopOnNonFiniteLoss(saving), stand_in(tmp_path)
    guard.on_loss(trainer, "a", 1.5)  # a finite loss passes
    with pytest.raises(NonFiniteLoss, match="task 'a' gave a non-finite loss .* at step 1; no "):
        guard.on_loss(trainer, "a", math.nan)
    saving.saved_last = True
    with pytest.raises(NonFiniteLoss, match="kept in .*last"):
        guard.on_loss(trainer, "a", math.inf)


def test_your_callback_can_stop_a_run_early(tokenizer, task_files, tmp_path):
    class StopAfterStep(Callback):  # the pattern of docs/architecture.md's early stopping
        def on_step_end(self, trainer, step):
            trainer.should_stop = trainer.state.global_step == 3

    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=3)
    trainer.callbacks.append(StopAfterStep())
    trainer.train()
    assert trainer.state.global_step == 3 and len(trainer.state.losses) == 3
    # RUN/last is saved where it stopped, so --resume goes on from there to the end.
    resumed = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=3)
    resumed.train(resume=True)
    assert resumed.state.global_step == 3 * trainer.steps_per_epoch
    assert resumed.state.losses[:3] == trainer.state.losses


def test_the_loop_stays_small():
    """The loop knows epochs, steps and a step's arithmetic; the rest is callbacks (base.py)."""
    from pathlib import Path

    import minitransformer.training.trainer as loop

    assert len(Path(loop.__file__).read_text(encoding="utf-8").splitlines()) <= 200
