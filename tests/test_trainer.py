"""The multi-task loop on tiny models: it learns, resumes exactly, and never loses a checkpoint."""

import argparse
import json
import math
from pathlib import Path

import pytest
import torch
from conftest import make_encoder

from minitransformer.errors import InputError, OutputError
from minitransformer.loading import load_model_with_heads
from minitransformer.model.tokenizer import Tokenizer
from minitransformer.tasks.data import TaskSpec, load_task
from minitransformer.tasks.heads import MultiTaskModel, build_head
from minitransformer.tasks.scoring import evaluate_task
from minitransformer.training import saving as checkpoint_module
from minitransformer.training.callbacks import (
    NonFiniteLoss,
    PaddingCount,
    dev_evaluation,
    heap_trim,
    training_log,
)
from minitransformer.training.progress import read_metrics
from minitransformer.training.run_config import add_option_flags, merged_options
from minitransformer.training.saving import save_checkpoint
from minitransformer.training.trainer import Trainer, TrainingOptions

ROWS = [("The team won the final match.", "sports", "positive"),
        ("The striker missed an easy goal again.", "sports", "negative"),
        ("This new phone is fast and lovely.", "tech", "positive"),
        ("The laptop crashed and lost my work.", "tech", "negative"),
        ("Fans cheered the brilliant goal.", "sports", "positive"),
        ("The referee ruined the game.", "sports", "negative"),
        ("The software update works beautifully.", "tech", "positive"),
        ("My tablet battery is awful.", "tech", "negative")]


def rows_tokenizer() -> Tokenizer:
    """A vocabulary of these sentences, so that no word is [UNK]."""
    return Tokenizer.train([text for text, _, _ in ROWS], vocab_size=200, min_frequency=1)


def write_task_files(directory: Path) -> list[TaskSpec]:
    """The rows as one file with two tasks, topic and sentiment (train and dev alike)."""
    path = directory / "data.jsonl"
    path.write_text("".join(json.dumps({"text": t, "topic": a, "sentiment": b}) + "\n"
                            for t, a, b in ROWS))
    return [TaskSpec(name, "sentence_classification", path, path, label_field=name)
            for name in ("topic", "sentiment")]


@pytest.fixture(scope="module")
def tokenizer():  # shadows the conftest fixture
    return rows_tokenizer()


@pytest.fixture
def task_files(tmp_path):
    return write_task_files(tmp_path)


def make_trainer(tokenizer, specs, run_dir, dropout=0.0, distill_target=None, **options):
    tasks = [load_task(spec, tokenizer) for spec in specs]
    encoder = make_encoder(tokenizer.vocab_size, dropout=dropout, attention_dropout=dropout)
    heads = {t.spec.name: build_head(t.spec.kind, encoder.config, tokenizer, t.label_map, dropout)
             for t in tasks}
    defaults = dict(epochs=2, batch_size=4, lr=1e-3, seed=3, warmup=0.0)
    return Trainer(MultiTaskModel(encoder, heads), tokenizer, tasks,
                   TrainingOptions(**{**defaults, **options}), run_dir, log=lambda *a: None,
                   progress="off", distill_target=distill_target)


def test_two_task_model_overfits_a_handful_of_examples(tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=40, lr=3e-3,
                           head_lr=1e-2)
    trainer.train()
    first, last = trainer.state.losses[:4], trainer.state.losses[-4:]
    assert sum(last) < 0.1 * sum(first)
    for task in trainer.tasks:
        assert evaluate_task(trainer.model, task, split="train")["accuracy"] == 1.0


@pytest.mark.parametrize("controls", [{}, {"unfreeze_every": 3, "unfreeze_unit": "steps",
                                           "loss_weighting": "uncertainty",
                                           "batching": "random"}])
def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tokenizer, task_files, tmp_path,
                                                               controls):
    # Dropout on, so the random-number state must be restored too. With gradual unfreezing the
    # resumed run must rebuild the optimizer groups it had; with uncertainty weighting, the
    # learned weights must come back too.
    uninterrupted = make_trainer(tokenizer, task_files, tmp_path / "a", dropout=0.1, epochs=3,
                                 **controls)
    uninterrupted.train()

    interrupted = make_trainer(tokenizer, task_files, tmp_path / "b", dropout=0.1, epochs=3,
                               **controls)
    real_step, calls = interrupted._step, []

    def step_then_ctrl_c(name, batch):
        calls.append(name)
        if len(calls) == 7:  # in the middle of the second epoch (4 steps per epoch)
            raise KeyboardInterrupt
        return real_step(name, batch)

    interrupted._step = step_then_ctrl_c
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    resumed = make_trainer(tokenizer, task_files, tmp_path / "b", dropout=0.1, epochs=3,
                           **controls)
    resumed.train(resume=True)
    assert len(resumed.state.losses) == len(uninterrupted.state.losses) == 12
    assert resumed.state.losses == pytest.approx(uninterrupted.state.losses, rel=1e-6, abs=1e-7)


def test_resume_with_another_batching_is_refused(tokenizer, task_files, tmp_path):
    make_trainer(tokenizer, task_files, tmp_path / "run", epochs=1, batching="random").train()
    other = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=2)  # the default, packed
    with pytest.raises(InputError, match="trained with --batching random"):
        other.train(resume=True)


def test_checkpoint_round_trip_gives_identical_predictions(tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=1)
    trainer.train()
    model, _, description = load_model_with_heads(tmp_path / "run" / "best")
    assert [t["label_map"] for t in description["tasks"]] == [["sports", "tech"],
                                                              ["negative", "positive"]]
    for task in trainer.tasks:
        assert evaluate_task(model, task) == evaluate_task(trainer.model, task)
    batch = trainer.tasks[0].train.collate([trainer.tasks[0].train[i] for i in range(4)])
    with torch.no_grad():
        assert torch.equal(model("topic", batch).predictions.class_ids,
                           trainer.model.eval()("topic", batch).predictions.class_ids)


def weights(module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def best_holds(run_dir, expected: dict[str, torch.Tensor]) -> bool:
    """Whether RUN/best's weights are exactly `expected`."""
    kept = weights(load_model_with_heads(run_dir / "best")[0])
    return all(torch.equal(kept[name], value) for name, value in expected.items())


def test_eval_start_scores_the_start_without_changing_the_run(tokenizer, task_files, tmp_path):
    plain = make_trainer(tokenizer, task_files, tmp_path / "a", dropout=0.1)
    plain.train()
    with_start = make_trainer(tokenizer, task_files, tmp_path / "b", dropout=0.1, eval_start=True)
    start = {t.spec.name: evaluate_task(with_start.model, t) for t in with_start.tasks}
    with_start.train()
    # the evaluation leaves the model and its mode be
    assert with_start.state.losses == plain.state.losses
    assert [e["step"] for e in with_start.state.history] == [0] + [
        e["step"] for e in plain.state.history]
    assert with_start.state.history[0]["metrics"] == start


@pytest.mark.parametrize("start_is_best", [True, False])
def test_eval_start_keeps_the_start_only_when_nothing_beats_it(tokenizer, task_files, tmp_path,
                                                              monkeypatch, start_is_best):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", eval_start=True)
    start = weights(trainer.model)

    def scores_by_step(model, tasks, **options):  # falling (or rising) with the step
        value = (1.0 - 0.1 * trainer.state.global_step if start_is_best
                 else 0.1 * trainer.state.global_step)
        return {t.spec.name: {"accuracy": value} for t in tasks}

    monkeypatch.setattr(dev_evaluation, "dev_results", scores_by_step)
    trainer.train()
    assert best_holds(tmp_path / "run", start if start_is_best else weights(trainer.model))
    if not start_is_best:  # the run did move away from its start, so the two cases differ
        assert not best_holds(tmp_path / "run", start)


def test_a_run_stopped_while_scoring_its_start_scores_it_on_resume(tokenizer, task_files,
                                                                   tmp_path, monkeypatch):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", eval_start=True)
    start = weights(trainer.model)
    real_evaluate = dev_evaluation.dev_results

    def ctrl_c(model, tasks, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr(dev_evaluation, "dev_results", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    assert not (tmp_path / "run" / "best").exists()

    def start_scores_best(model, tasks, **options):
        results = real_evaluate(model, tasks, **options)
        return {name: {metric: (2.0 if resumed.state.global_step == 0 else 0.0)
                       for metric in metrics}
                for name, metrics in results.items()}

    resumed = make_trainer(tokenizer, task_files, tmp_path / "run", eval_start=True)
    monkeypatch.setattr(dev_evaluation, "dev_results", start_scores_best)
    resumed.train(resume=True)
    assert resumed.state.history[0]["step"] == 0
    assert best_holds(tmp_path / "run", start)


def test_eval_start_comes_from_a_flag_or_the_config_and_is_checked():
    parser = argparse.ArgumentParser()
    add_option_flags(parser)
    given = {"options": {"eval_start": True}}
    assert merged_options({}, vars(parser.parse_args(["--eval-start"])), "minilm").eval_start
    assert merged_options(given, vars(parser.parse_args([])), "minilm").eval_start
    assert not merged_options(given, vars(parser.parse_args(["--no-eval-start"])),
                              "minilm").eval_start
    assert not merged_options({}, vars(parser.parse_args([])), "minilm").eval_start
    with pytest.raises(InputError, match="eval_start must be true or false, got 'yes'"):
        merged_options({"options": {"eval_start": "yes"}}, {}, "minilm")


def test_failed_write_keeps_the_previous_checkpoint(tokenizer, task_files, tmp_path, monkeypatch):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=1)
    trainer.train()
    before = (tmp_path / "run" / "last" / "model.safetensors").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint_module, "write_safetensors", disk_full)
    with pytest.raises(OutputError, match="cannot be written \\(No space left on device\\)"):
        save_checkpoint(tmp_path / "run" / "last", trainer.model, tokenizer, [], {})
    assert (tmp_path / "run" / "last" / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "best", "last", "metrics.jsonl"]  # no leftovers


def test_non_finite_loss_stops_with_a_clear_message(tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=1)
    trainer.train()
    saved = (tmp_path / "run" / "last" / "model.safetensors").read_bytes()
    broken = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=2)
    broken.weighting.weights["topic"] = math.nan  # (a NaN weight as an option is refused)
    with pytest.raises(NonFiniteLoss, match="task 'topic' gave a non-finite loss"):
        broken.train()
    assert (tmp_path / "run" / "last" / "model.safetensors").read_bytes() == saved


def test_gradual_unfreezing_adds_each_depth_at_its_step_and_keeps_adam_state(tokenizer, task_files,
                                                                             tmp_path):
    # 4 steps per epoch, one more depth every step: the tiny encoder's 3 depths (embeddings,
    # layers 1 and 2) join after steps 1, 2 and 3; each head trains every other step. Adam's
    # per-parameter step counter then says exactly when each joined, and that nobody's state was
    # reset when others joined.
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=1, unfreeze_every=1,
                           unfreeze_unit="steps", sampler="round_robin")
    initial = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    assert [g["name"] for g in trainer.optimizer.param_groups] == [
        "head topic", "head topic", "head sentiment", "head sentiment"]
    trainer.train()
    steps_taken = {"heads.": 2, "encoder.layers.1.": 3, "encoder.layers.0.": 2,
                   "encoder.embeddings.": 1}
    for name, parameter in trainer.model.named_parameters():
        prefix = next(p for p in steps_taken if name.startswith(p))
        assert int(trainer.optimizer.state[parameter]["step"]) == steps_taken[prefix], name
        assert not torch.equal(parameter, initial[name]), name
    layer_rates = {g["name"]: g["base_lr"] for g in trainer.optimizer.param_groups}
    assert layer_rates["layer 2"] == layer_rates["embeddings"] == 1e-3  # no layer decay asked


def test_unfreezing_every_epoch_counts_in_epochs(tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=2, unfreeze_every=1)
    trainer.train()
    top = next(trainer.model.encoder.layers[1].parameters())
    bottom = next(trainer.model.encoder.layers[0].parameters())
    assert int(trainer.optimizer.state[top]["step"]) == 4  # joined after epoch 1 (4 steps)
    assert bottom not in trainer.optimizer.state  # would join after epoch 2: training is over


def test_uncertainty_weights_are_learned(tokenizer, task_files, tmp_path):
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=2,
                           loss_weighting="uncertainty")
    log_variances = trainer.weighting.log_variances
    assert {g["name"] for g in trainer.optimizer.param_groups} >= {"loss weights"}
    trainer.train()
    for name in ("topic", "sentiment"):
        assert log_variances[name].item() != 0.0, name  # moved away from the start, weight 1
    weights = trainer.state.history[-1]["loss_weights"]
    assert weights["topic"] == pytest.approx(math.exp(-log_variances["topic"].item()))


def test_uncertainty_weighting_gradient_reaches_the_log_variance():
    from minitransformer.training.weighting import UncertaintyWeighting

    weighting = UncertaintyWeighting(["a", "b"])
    loss = torch.tensor(2.0)
    weighting("a", loss).backward()
    # d/ds [exp(-s) L + s/2] at s = 0 is -L + 1/2 = -1.5; task b did not take part.
    assert float(weighting.log_variances["a"].grad) == pytest.approx(-1.5)
    assert weighting.log_variances["b"].grad is None


@pytest.mark.parametrize("weighting", ["static", "uncertainty"])
def test_freezing_everything_is_refused(tokenizer, task_files, tmp_path, weighting):
    # Learned loss weights alone are not something to train.
    with pytest.raises(ValueError, match="leaves nothing of the model to train"):
        make_trainer(tokenizer, task_files, tmp_path / "run", freeze="all",
                     loss_weighting=weighting)
    # Every head frozen, and the encoder frozen by gradual unfreezing until its first stage.
    with pytest.raises(ValueError, match="head:topic,sentiment with gradual unfreezing, which "
                                         "starts from a frozen encoder, leaves nothing"):
        make_trainer(tokenizer, task_files, tmp_path / "run", freeze="head:topic,sentiment",
                     unfreeze_every=1, loss_weighting=weighting)


def test_interrupt_in_an_evaluation_at_an_unfreezing_step_still_resumes(tokenizer, task_files,
                                                                         tmp_path, monkeypatch):
    # Every 3 steps a depth is due and an evaluation runs: the checkpoint written by a Ctrl-C
    # inside that evaluation must already hold the new depth's optimizer groups.
    options = dict(epochs=3, unfreeze_every=3, unfreeze_unit="steps", eval_every=3)
    uninterrupted = make_trainer(tokenizer, task_files, tmp_path / "a", **options)
    uninterrupted.train()
    interrupted = make_trainer(tokenizer, task_files, tmp_path / "b", **options)
    real_evaluate = dev_evaluation.dev_results

    def evaluate_then_ctrl_c(model, tasks, **options):
        if interrupted.state.global_step == 6:
            raise KeyboardInterrupt
        return real_evaluate(model, tasks, **options)

    monkeypatch.setattr(dev_evaluation, "dev_results", evaluate_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    monkeypatch.undo()
    resumed = make_trainer(tokenizer, task_files, tmp_path / "b", **options)
    resumed.train(resume=True)
    assert resumed.state.losses == pytest.approx(uninterrupted.state.losses, rel=1e-6, abs=1e-7)


def metric_records(run_dir):
    """(type, step, task, loss, lr) of every metrics.jsonl record: what must not depend on time."""
    return [(r["type"], r["step"], r.get("task"), r.get("loss"), r.get("lr"))
            for r in read_metrics(run_dir / "metrics.jsonl")]


def test_metrics_log_averages_the_step_losses_and_a_resumed_run_continues_it(tokenizer, task_files,
                                                                             tmp_path):
    options = dict(dropout=0.1, epochs=3, log_every=3)  # 4 steps per epoch, evaluated at 4, 8, 12
    uninterrupted = make_trainer(tokenizer, task_files, tmp_path / "a", **options)
    uninterrupted.train()
    records = read_metrics(tmp_path / "a" / "metrics.jsonl")
    train = [r for r in records if r["type"] == "train"]
    steps = sorted({r["step"] for r in train})
    assert steps == [3, 4, 6, 8, 9, 12]  # every 3 steps, and before each evaluation
    for start, end in zip([0] + steps, steps):  # the window's steps, whichever task each trained
        window = [r for r in train if r["step"] == end]
        assert sum(r["steps"] for r in window) == end - start
        assert sum(r["loss"] * r["steps"] for r in window) == pytest.approx(
            sum(uninterrupted.state.losses[start:end]))
    evaluations = [r for r in records if r["type"] == "eval"]
    assert [r["step"] for r in evaluations] == [4, 8, 12]
    assert evaluations[-1]["metrics"] == uninterrupted.state.history[-1]["metrics"]

    interrupted = make_trainer(tokenizer, task_files, tmp_path / "b", **options)
    real_step, calls = interrupted._step, []

    def step_then_ctrl_c(name, batch):
        calls.append(name)
        if len(calls) == 8:  # step 8 of 12, after the record of step 6 and before that of 9
            raise KeyboardInterrupt
        return real_step(name, batch)

    interrupted._step = step_then_ctrl_c
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    make_trainer(tokenizer, task_files, tmp_path / "b", **options).train(resume=True)
    resumed, expected = metric_records(tmp_path / "b"), metric_records(tmp_path / "a")
    assert len(resumed) == len(expected)  # nothing logged twice, nothing lost
    for got, want in zip(resumed, expected):
        assert got[:3] == want[:3]
        if got[0] == "train":
            assert got[3:] == pytest.approx(want[3:], rel=1e-5, abs=1e-7)


def test_padding_fraction_counts_the_batches_token_positions(tokenizer, task_files, tmp_path):
    lengths = [len(ids) for ids in tokenizer.tokenize([text for text, _, _ in ROWS])]
    # One batch per task and epoch: every row pads to the longest sentence.
    whole = make_trainer(tokenizer, task_files, tmp_path / "whole", epochs=1, batch_size=len(ROWS))
    assert whole.find(PaddingCount).fraction() is None  # nothing trained yet
    whole.train()
    expected = 1 - sum(lengths) / (len(lengths) * max(lengths))
    assert expected > 0.1
    assert whole.find(PaddingCount).fraction() == pytest.approx(expected)
    # Batches of one sentence carry no padding at all.
    single = make_trainer(tokenizer, task_files, tmp_path / "single", epochs=1, batch_size=1)
    single.train()
    assert single.find(PaddingCount).fraction() == 0.0


def test_the_heap_is_trimmed_after_every_step_and_dev_batch_and_resident_memory_is_logged(
        tokenizer, task_files, tmp_path, monkeypatch):
    # The fix of issue 28's memory growth is the trainer's to apply (memory.py): glibc's free
    # heap pages go back after each step and after each batch of the dev scoring, whose batches
    # vary in size too. The readings go into every record where the system gives them.
    calls = []
    monkeypatch.setattr(heap_trim, "heap_trimmer", lambda: lambda: calls.append(1))
    monkeypatch.setattr(training_log, "resident_mib",
                        lambda: {"rss_mib": 100.0, "peak_rss_mib": 120.0})
    trainer = make_trainer(tokenizer, task_files, tmp_path / "run", epochs=2, log_every=1)
    trainer.train()
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    evaluations = sum(r["type"] == "eval" for r in records)
    dev_batches = sum(math.ceil(len(t.dev) / 64) for t in trainer.tasks)  # scoring's batch size
    assert trainer.state.global_step > 1 and evaluations == 2 and dev_batches >= 2
    assert len(calls) == trainer.state.global_step + evaluations * dev_batches
    assert {r["type"] for r in records} == {"train", "eval"}
    assert all(r["rss_mib"] == 100.0 and r["peak_rss_mib"] == 120.0 for r in records)
