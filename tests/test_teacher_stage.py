"""A teacher per task, and the one command that trains the teachers first (teacher_stage.py):
the teacher is that task's run alone, a finished one is reused, one of other options is
refused, and --resume goes on across both stages to the run an uninterrupted command gives."""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
from pathlib import Path

import pytest
import torch
from conftest import make_encoder

from minitransformer.storage.safetensors_io import read_safetensors
from minitransformer.tasks.heads import MultiTaskModel
from minitransformer.training.distillation import EmbeddingDistillation
from minitransformer.training.run_config import RunConfig, add_option_flags, merged_options
from minitransformer.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A tiny trained run to start from: a fixed vocabulary that every stage shares."""
    run = tmp_path_factory.mktemp("base") / "run"
    assert train.main(["--init", "scratch", "--preset", "tiny", "--epochs", "1", "--max-train",
                       "40", "--run-dir", str(run), "--progress", "off"]) == 0
    return run


def command(base: Path, run: Path, *more: str) -> list[str]:
    return ["--init", str(base), "--epochs", "1", "--max-train", "48", "--progress", "off",
            "--ema-decay", "0.5", "--distill-weight", "1", "--distill-teacher", "topic=topic",
            "--distill-teacher", "sentiment=topic", "--run-dir", str(run), *more]


def weights(directory: Path) -> dict[str, torch.Tensor]:
    return read_safetensors(directory / "model.safetensors")


def test_each_task_is_held_near_its_own_teacher():
    torch.manual_seed(0)
    encoder = make_encoder(50)
    model = MultiTaskModel(encoder, {})
    same = copy.deepcopy(encoder)  # task a's teacher: the live encoder itself
    other = copy.deepcopy(encoder)  # the default target: moved away
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    distillation = EmbeddingDistillation(model, 1.0, other, task_targets={"a": same})
    ids = torch.randint(5, 50, (3, 7))
    mask = torch.ones(3, 7, dtype=torch.long)
    with distillation.recording() as recorded:
        model.states(ids, mask)
    assert distillation.term(recorded, "a").item() == pytest.approx(0.0, abs=1e-6)
    assert distillation.term(recorded, "b").item() > 1e-3  # no teacher of its own: the default


def test_one_command_trains_the_teacher_first_and_it_is_that_task_alone(base, tmp_path, capsys):
    run = tmp_path / "run"
    assert train.main(command(base, run)) == 0
    printed = capsys.readouterr().out
    assert "teacher stage, 1 of 1: topic alone" in printed
    assert "topic <- topic, sentiment <- topic" in printed
    teacher = run / "teachers" / "topic"
    record = json.loads((teacher / "run.json").read_text())
    assert record["status"] == "finished" and [t["name"] for t in record["tasks"]] == ["topic"]
    assert record["options"]["distill_weight"] == 0 and record["options"]["distill_teachers"] == {}
    assert record["options"]["ema_decay"] == 0
    # The same as training topic alone by hand, without the levers: same seed, same run.
    alone = tmp_path / "alone"
    assert train.main(["--init", str(base), "--epochs", "1", "--max-train", "48", "--progress",
                       "off", "--tasks", "topic", "--run-dir", str(alone)]) == 0
    for name, tensor in weights(alone / "best").items():
        torch.testing.assert_close(weights(teacher / "best")[name], tensor, rtol=1e-5, atol=1e-6)
    main = json.loads((run / "run.json").read_text())
    assert main["options"]["distill_teachers"] == {"topic": "topic", "sentiment": "topic"}

    # Again with --overwrite: the finished teacher is reused, not trained again.
    before = (teacher / "best" / "model.safetensors").stat().st_mtime_ns
    assert train.main(command(base, run, "--overwrite")) == 0
    assert "teacher topic: reusing the finished run" in capsys.readouterr().out
    assert (teacher / "best" / "model.safetensors").stat().st_mtime_ns == before


def test_a_teacher_of_other_options_is_refused_before_anything_runs(base, tmp_path, capsys):
    run = tmp_path / "run"
    assert train.main(command(base, run)) == 0
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    assert train.main(command(base, run, "--overwrite", "--lr", "1e-4")) == 2
    error = capsys.readouterr().err
    assert "teachers/topic: holds a teacher trained with other options (lr)" in error
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


def test_resume_goes_on_across_both_stages(base, tmp_path, capsys, monkeypatch):
    whole = tmp_path / "whole"
    assert train.main(command(base, whole, "--epochs", "2")) == 0
    run = tmp_path / "run"
    end_step = Trainer._end_step

    def killed_in_the_teacher(trainer, names, losses):
        values = end_step(trainer, names, losses)
        if trainer.state.global_step == 3 and "teachers" in str(trainer.run_dir):
            os.kill(os.getpid(), signal.SIGTERM)
        return values

    monkeypatch.setattr(Trainer, "_end_step", killed_in_the_teacher)
    assert train.main(command(base, run, "--epochs", "2")) == 130
    assert not (run / "best").exists() and (run / "teachers" / "topic" / "last").is_dir()
    assert "continue with --resume" in capsys.readouterr().err
    monkeypatch.undo()
    assert train.main(command(base, run, "--epochs", "2", "--resume")) == 0
    assert "teachers/topic (resumed)" in capsys.readouterr().out
    for part in ("best", "last"):
        for name, tensor in weights(whole / part).items():
            torch.testing.assert_close(weights(run / part)[name], tensor, rtol=1e-5, atol=1e-6)


def test_from_scratch_a_teacher_stage_is_refused(tmp_path, capsys):
    assert train.main(["--init", "scratch", "--preset", "tiny", "--distill-weight", "1",
                       "--distill-teacher", "topic=topic", "--run-dir", str(tmp_path / "r")]) == 2
    assert "every run trains its own vocabulary" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flags, message", [
    (["--distill-teacher", "topic"], "--distill-teacher takes TASK=TEACHER, got 'topic'"),
    (["--distill-teacher", "topic=topic"], "turn the term on too (--distill-weight X > 0)"),
    (["--distill-weight", "1", "--distill-teacher", "nope=topic"],
     "--distill-teacher for unknown task(s) nope"),
    (["--distill-weight", "1", "--distill-teacher", "topic=no/such/dir"],
     "--distill-teacher topic: no/such/dir: no such model directory"),
])
def test_bad_teachers_are_refused_by_name(base, flags, message, tmp_path, capsys):
    assert train.main(["--init", str(base), "--run-dir", str(tmp_path / "r"), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_configs_per_task_options_apply_to_the_tasks_chosen(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    add_option_flags(parser)
    file = {"options": {"distill_weight": 1, "distill_task_weights": {"a": 0, "b": 0.5},
                        "distill_teachers": {"a": "a", "b": "a"}, "loss_weights": {"b": 2}}}
    options = merged_options(file, vars(parser.parse_args([])), "minilm", ["a"])
    assert options.distill_task_weights == {"a": 0} and options.loss_weights == {}
    # --distill-weight 0 turns the term off with the file's per-task settings of it
    plain = merged_options(file, vars(parser.parse_args(["--distill-weight", "0"])), "minilm",
                           ["a", "b"])
    assert plain.distill_teachers == {} and plain.distill_task_weights == {}
    assert plain.loss_weights == {"b": 2}


def test_a_config_names_teachers_by_task_and_models_by_path(tmp_path, base):
    data = ROOT / "minitransformer" / "default_data"
    config = tmp_path / "configs" / "x.json"
    config.parent.mkdir()
    config.write_text(json.dumps({
        "tasks": [{"name": name, "kind": "sentence_classification",
                   "train": str(data / "train.jsonl"), "dev": str(data / "dev.jsonl"),
                   "label_field": name} for name in ("topic", "sentiment")],
        "options": {"distill_weight": 1, "distill_teachers": {
            "topic": "sentiment", "sentiment": os.path.relpath(base, config.parent)}}}))
    read = RunConfig.read({"config": config, "run_dir": tmp_path / "r"})
    assert list(read.teachers) == ["sentiment"]  # a task of the config: trained first
    assert Path(read.options.distill_teachers["sentiment"]).resolve() == base.resolve()
