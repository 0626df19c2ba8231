"""What every component check shares: a failure is one plain sentence, and the learner's code is
called so that its mistakes come back as that sentence, never as a traceback.

A component (checks/attention.py, ...) is a list of `Check`s run in order. The first failure
stops the run: later checks assume what earlier ones proved (shapes before values, values
before padding), and one clear message is worth more than five that follow from it.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..errors import InputError

CHECKS_DIRECTORY = Path(__file__).resolve().parent
TORCH_DIRECTORY = Path(torch.__file__).resolve().parent


class CheckFailed(Exception):
    """A check found a mistake; the message says what is likely wrong, with the numbers."""


class CheckSkipped(Exception):
    """A check that cannot run here (the pretrained model is not installed, say)."""


@dataclass
class Check:
    title: str  # what is checked, e.g. "against torch.nn.MultiheadAttention, no padding"
    run: Callable[[Any], str | None]  # candidate -> a short detail on success; raises on failure


@dataclass
class Component:
    name: str  # the name on the command line
    writes: str  # what the learner writes, e.g. "a class like minitransformer.attention.MultiHeadAttention"
    ours: str  # the IMPORT_PATH of our own implementation, which passes every check
    checks: list[Check]


@dataclass
class Outcome:
    title: str
    status: str  # "ok", "FAIL" or "skip"
    detail: str = ""


def run_component(component: Component, candidate: Any,
                  report: Callable[[Outcome], None] = lambda outcome: None) -> list[Outcome]:
    """Run the checks in order until the first failure; `report` sees each outcome as it comes."""
    outcomes = []
    for check in component.checks:
        try:
            detail = check.run(candidate)
        except CheckSkipped as skipped:
            outcomes.append(Outcome(check.title, "skip", str(skipped)))
            report(outcomes[-1])
            continue
        except CheckFailed as failed:
            outcomes.append(Outcome(check.title, "FAIL", str(failed)))
            report(outcomes[-1])
            break
        except Exception as error:  # raised inside the learner's code, or a bug of ours
            message = learner_error(error)
            if message is None:
                raise  # the checker's own bug: keep the traceback
            outcomes.append(Outcome(check.title, "FAIL", message))
            report(outcomes[-1])
            break
        outcomes.append(Outcome(check.title, "ok", detail or ""))
        report(outcomes[-1])
    return outcomes


def learner_error(error: Exception) -> str | None:
    """One sentence for an exception raised in the learner's code, naming the file and line;
    None if no frame of the traceback is outside torch and these checks."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not is_within(frame.filename, TORCH_DIRECTORY)
              and not is_within(frame.filename, CHECKS_DIRECTORY)]
    if not frames:
        return None
    if isinstance(error, InputError):  # the library refused a file or setting: not the learner's code
        return f"the check could not run (not a mistake in your code): {error}"
    frame = frames[-1]  # the deepest: where it went wrong
    where = f"{Path(frame.filename).name}, line {frame.lineno} (in {frame.name})"
    if isinstance(error, NotImplementedError):
        note = f": {error}" if str(error) else ""
        return f"not implemented yet: {where} raises NotImplementedError{note}"
    return f"{where} raised {type(error).__name__}: {error}"


def is_within(filename: str, directory: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(directory)
    except (OSError, ValueError):
        return False


# ---- helpers the component checks share ------------------------------------------------------

def as_tensor(value: Any, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(f"{what} must be a torch.Tensor, got {type(value).__name__}")
    return value


def expect_shape(tensor: Any, shape: tuple, what: str) -> torch.Tensor:
    """`tensor` is a tensor of exactly `shape`, or CheckFailed that says both shapes."""
    tensor = as_tensor(tensor, what)
    if tuple(tensor.shape) != tuple(shape):
        raise CheckFailed(f"{what} has shape {tuple(tensor.shape)}, expected {tuple(shape)}")
    return tensor


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference (inf where one side is not finite and the other is)."""
    difference = (a.double() - b.double()).abs()
    difference = torch.where(torch.isnan(difference), torch.full_like(difference, float("inf")),
                             difference)
    return difference.max().item() if difference.numel() else 0.0


def listed(tensor: torch.Tensor, digits: int = 3) -> list:
    """A tensor as nested lists of rounded numbers, for messages."""
    return torch.round(tensor.double(), decimals=digits).tolist()


def close(a: torch.Tensor, b: torch.Tensor, tolerance: float) -> bool:
    return a.shape == b.shape and max_difference(a, b) <= tolerance


def fit_factor(values: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """The c of values ~ c * reference by least squares, and how well that fits (the residual's
    size relative to the values'; ~0 means values really are a multiple of reference)."""
    values, reference = values.double().flatten(), reference.double().flatten()
    factor = (values @ reference / (reference @ reference).clamp(min=1e-300)).item()
    residual = (values - factor * reference).norm() / values.norm().clamp(min=1e-300)
    return factor, residual.item()


def parameter_names(learner: nn.Module, ours: nn.Module) -> tuple[list[str], list[str]]:
    """(names ours has and the learner's module lacks, names only the learner's has)."""
    theirs, mine = set(learner.state_dict()), set(ours.state_dict())
    return sorted(mine - theirs), sorted(theirs - mine)


def load_same_weights(learner: nn.Module, ours: nn.Module) -> None:
    """Copy our module's weights into the learner's, which must name its parameters as ours do
    (so that known and pretrained weights can be copied in)."""
    lacks, extra = parameter_names(learner, ours)
    if lacks or extra:
        raise CheckFailed(f"{type(learner).__name__}'s parameters are not named like ours "
                          f"(minitransformer/{type(ours).__module__.split('.')[-1]}.py): it lacks "
                          f"{', '.join(lacks[:4]) or 'nothing'}; it has, and ours do not, "
                          f"{', '.join(extra[:4]) or 'nothing'}")
    for name, tensor in ours.state_dict().items():
        shape = tuple(learner.state_dict()[name].shape)
        if shape != tuple(tensor.shape):
            raise CheckFailed(f"{name} has shape {shape} in {type(learner).__name__}, ours "
                              f"{tuple(tensor.shape)}")
    learner.load_state_dict(ours.state_dict())
