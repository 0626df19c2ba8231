"""The project's own list of learner mistakes (tests/learner_mistakes/mistakes.py): each one,
written into a learner's file, runs through `python -m minitransformer.check` (its main, in this
process), which must fail with the message that names the mistake and point at the learner's own
line; each correct solution, and each correct one written another way, must pass.

The MiniLM check, the last of four components, is left out here: tests/test_checks.py runs it on
correct learner code, and a mistake the earlier checks missed would show here as a pass."""

import collections
import re
import sys

import pytest
import torch
from learner_mistakes.mistakes import CORRECT_VARIANTS, EDITED, FILES, MISTAKES, write_solution

from minitransformer.check import main
from minitransformer.exercise_checks import COMPONENT_MODULES, minilm
from minitransformer.exercise_checks.core import CheckSkipped


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors, as the checks use, run fastest on one thread (on a busy machine, extra
    threads only wait for each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def skipped():
    raise CheckSkipped("left out by tests/test_learner_mistakes.py")


@pytest.fixture
def check(tmp_path, monkeypatch, capsys):
    """check(component, edits) -> (exit status, the output, the file, the lines the edits wrote):
    the solution with the edits, written into a folder of its own and checked as a learner
    would; the folder leaves nothing behind (sys.path, the modules imported from it)."""
    monkeypatch.setattr(minilm, "load_minilm", skipped)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the checker adds the learner's folder

    def run(component, edits=()):
        path, lines = write_solution(component, tmp_path, edits)
        status = main([component, f"{path}:{FILES[component][1]}"])
        return status, capsys.readouterr().out, path, lines

    yield run
    for name, module in list(sys.modules.items()):  # encoder.py imports its encoder_layer.py
        if str(tmp_path) in str(getattr(module, "__file__", None) or ""):
            del sys.modules[name]


def test_the_list_is_broad():
    per_component = collections.Counter(mistake.component for mistake in MISTAKES)
    assert len(MISTAKES) >= 50 and set(per_component) == set(COMPONENT_MODULES), per_component
    assert min(per_component.values()) >= 8, per_component
    assert len({mistake.id for mistake in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[mistake.id for mistake in MISTAKES])
def test_the_checker_names_each_mistake(mistake, check):
    status, out, path, written = check(mistake.component, mistake.edits)
    failures = [line for line in out.splitlines() if line.lstrip().startswith("FAIL")]
    assert status == 1 and len(failures) == 1, out
    failure = failures[0]
    assert mistake.says in failure, failure
    if mistake.line is None:
        return
    pointed = re.search(rf"\b{re.escape(path.name)}, line (\d+)", failure)
    assert pointed, f"no line of {path.name} in: {failure}"
    line = int(pointed.group(1))
    if mistake.line == EDITED:
        assert line in written, (f"points at line {line}, the mistake is on {written}", failure)
    else:
        code = path.read_text(encoding="utf-8").splitlines()[line - 1]
        assert mistake.line in code, (f"points at line {line}: {code}", failure)


@pytest.mark.parametrize("component", list(COMPONENT_MODULES))
def test_each_correct_solution_passes(component, check):
    status, out, _, _ = check(component)
    assert status == 0 and "FAIL" not in out and "checks pass" in out, out


@pytest.mark.parametrize("variant", CORRECT_VARIANTS, ids=[v.id for v in CORRECT_VARIANTS])
def test_correct_solutions_written_another_way_pass(variant, check):
    status, out, _, _ = check(variant.component, variant.edits)
    assert status == 0 and "FAIL" not in out and "checks pass" in out, out
