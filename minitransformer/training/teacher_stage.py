"""The teacher stage: the single-task runs that `--distill-teacher TASK=NAME` asks for, trained
before the run itself, each into RUN/teachers/NAME.

Born-again multi-task networks (Clark et al. 2019) first train one model per task, then the
multi-task model, each task's batches held near what its own teacher does (distillation.py
holds the sentence embeddings). One command does both: train.py trains every teacher that the
options name by a task of the config, then the run, which reads them from RUN/teachers/.

A teacher is that task's plain run alone: the same config, seed and options, without the
distillation term (a teacher has no teacher) and without the average of the weights (its
embeddings are what it learned, not an average of its path; and so a teacher is exactly the
single-task run `train.py --config C --tasks NAME` of a config without these two levers, the
baseline the multi-task model is compared with). A finished one is reused, since training it
again would give the same weights bit for bit (same seed, same run); one that was interrupted
goes on with --resume, as the run itself does; one trained with other options is refused, so
that no run distils from a teacher it did not ask for.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import InputError, about
from ..loading import find_model
from ..storage.formats import LAST, TEACHERS
from ..storage.text import read_json
from .options import START, check_run_options
from .record import RECORD_FILE
from .run_config import RunConfig, check_run_directory
from .saving import TRAINING_STATE


def teacher_directory(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / TEACHERS / name


def teacher_config(config: RunConfig, name: str) -> RunConfig:
    """The RunConfig of task `name`'s teacher: `config` for that task alone, no distillation,
    no weight averaging."""
    directory = teacher_directory(config.run_dir, name)
    options = config.options
    options = dataclasses.replace(
        options, distill_weight=0.0, distill_from=START, distill_task_weights={},
        distill_teachers={}, ema_decay=0.0,
        loss_weights={t: w for t, w in options.loss_weights.items() if t == name},
        step_scales={t: s for t, s in options.step_scales.items() if t == name})
    return dataclasses.replace(
        config, tasks=[config.teachers[name]], options=options, teachers={}, run_dir=directory,
        resume=config.resume and (directory / LAST / TRAINING_STATE).is_file(),
        overwrite=False, print_param_groups=False)


def is_finished(teacher: RunConfig) -> bool:
    """Whether the teacher's directory holds it, finished. A finished run of other options,
    task or seed is refused (InputError): it is not the teacher this run asks for."""
    record_path = teacher.run_dir / RECORD_FILE
    if not record_path.is_file():
        return False
    record = read_json(record_path)
    if not isinstance(record, dict) or record.get("status") != "finished":
        return False
    wanted = {"tasks": [teacher.tasks[0].name], "options": teacher.options.to_dict()}
    held = {"tasks": [task.get("name") for task in record.get("tasks", [])
                      if isinstance(task, dict)],
            "options": record.get("options")}
    if held != wanted:
        differ = [key for key in wanted["options"]
                  if (held["options"] or {}).get(key) != wanted["options"][key]]
        what = (f"other options ({', '.join(differ)})" if held["tasks"] == wanted["tasks"]
                else "another task")
        raise InputError(f"{teacher.run_dir}: holds a teacher trained with {what} than this run "
                         f"asks for; remove that directory to train the teacher again")
    return True


def pending_teachers(config: RunConfig,
                     processes: int = 1) -> tuple[list[str], list[RunConfig]]:
    """(the names of the finished teachers to reuse, the configs of those still to train),
    each of those checked as a run directory (refused as a run would be). The run's own options
    and its teachers that are models are checked first: nothing fails after hours of teachers."""
    check_run_options(config.options, [spec.name for spec in config.tasks], processes)
    if config.from_scratch:
        raise InputError("--distill-teacher names a task whose run would teach this one, but "
                         "from scratch (--init scratch) every run trains its own vocabulary, "
                         "so no teacher's embeddings would read the same tokens; start from "
                         "minilm or a model directory")
    for task, teacher in config.options.distill_teachers.items():
        if teacher not in config.teachers:
            with about(f"--distill-teacher {task}"):
                find_model(teacher)
    reused, to_train = [], []
    for name in sorted(config.teachers):
        teacher = teacher_config(config, name)
        if is_finished(teacher):
            reused.append(name)
        else:
            check_run_directory(teacher.run_dir, teacher.resume, overwrite=False)
            to_train.append(teacher)
    return reused, to_train


def teacher_path(config: RunConfig, teacher: str) -> str:
    """A --distill-teacher value as a model name: a task's teacher run, or the model itself."""
    if teacher in config.teachers:
        return str(teacher_directory(config.run_dir, teacher))
    return teacher
