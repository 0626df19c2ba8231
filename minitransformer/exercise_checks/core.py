"""What every component check shares: a failure is one plain sentence, and the learner's code is
called so that its mistakes come back as that sentence, never as a traceback.

A component (exercise_checks/attention.py, ...) is a list of `Check`s run in order. The first
failure stops the run: later checks assume what earlier ones proved (shapes before values, values
before padding), and one clear message is worth more than five that follow from it. A failure
names the mistake and where to look: the learner's method, file and line.

Two things end a run before any verdict, as bad input (an `InputError`, exit status 2): an
object that cannot be called the way the checks call it (`signature_problem`, asked before the
first check), and learner code that exits (`SystemExit`): an exit must never read as a pass.
"""

from __future__ import annotations

import inspect
import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..errors import InputError

CHECKS_DIRECTORY = Path(__file__).resolve().parent
TORCH_DIRECTORY = Path(torch.__file__).resolve().parent
STDLIB_DIRECTORY = Path(sysconfig.get_paths()["stdlib"]).resolve()
CHECK_COMMAND = CHECKS_DIRECTORY.parent / "check.py"  # imports the learner's file


class CheckFailed(Exception):
    """A check found a mistake; the message says what is likely wrong, with the numbers.
    `look_at` names the learner's method where the mistake is ("__init__", "forward"), when the
    check knows better than its `Check.look_at`; "" when the message names the line itself."""

    def __init__(self, message: str, look_at: str | None = None):
        super().__init__(message)
        self.look_at = look_at


class CheckSkipped(Exception):
    """A check that cannot run here (the pretrained model is not installed, say)."""


@dataclass
class Check:
    title: str  # what is checked, e.g. "against torch.nn.MultiheadAttention, no padding"
    run: Callable[[Any], str | None]  # candidate -> a short detail on success; raises on failure
    # the method of a learner's class a failure points to, e.g. "forward"
    look_at: str | None = None


# how the checks call something: (positional arguments, keywords)
Call = tuple[int, tuple[str, ...]]


@dataclass
class Signature:
    """How the checks call the learner's object, so that a wrong signature is refused in one line
    before the first check (a TypeError at our call site would have no line of theirs to show)."""

    text: str  # what the learner should write, as a message shows it
    function: Call | None = None  # when a function is accepted: how it is called
    methods: dict[str, Call] | None = None  # when a class is accepted: "__init__" and each method


@dataclass
class Component:
    name: str  # the name on the command line
    # what the learner writes, e.g.
    # "a class like minitransformer.model.attention.MultiHeadAttention"
    writes: str
    ours: str  # the IMPORT_PATH of our own implementation, which passes every check
    signature: Signature
    checks: list[Check]


@dataclass
class Outcome:
    title: str
    status: str  # "ok", "FAIL" or "skip"
    detail: str = ""


def run_component(component: Component, candidate: Any,
                  report: Callable[[Outcome], None] = lambda outcome: None) -> list[Outcome]:
    """Run the checks in order until the first failure; `report` sees each outcome as it comes.
    Learner code that exits raises InputError: the run stops without a verdict."""
    outcomes = []
    for check in component.checks:
        try:
            detail = check.run(candidate)
        except CheckSkipped as skipped:
            outcomes.append(Outcome(check.title, "skip", str(skipped)))
            report(outcomes[-1])
            continue
        except CheckFailed as failed:
            look_at = check.look_at if failed.look_at is None else failed.look_at
            place = source_place(candidate, look_at) if look_at != "" else ""
            outcomes.append(Outcome(check.title, "FAIL",
                                    f"{failed} (look at {place})" if place else str(failed)))
            report(outcomes[-1])
            break
        except SystemExit as exit_:  # sys.exit, exit() or quit() in the learner's code
            raise InputError(exit_message(exit_,
                                          f"while the check '{check.title}' ran it")) from None
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


def learner_frame(error: BaseException) -> traceback.FrameSummary | None:
    """The deepest frame of the traceback in the learner's code: outside torch, the standard
    library and these checks (exit() is a function of the standard library, say)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not frame.filename.startswith("<frozen")
              and not any(is_within(frame.filename, directory)
                          for directory in (TORCH_DIRECTORY, CHECKS_DIRECTORY, STDLIB_DIRECTORY))
              and not is_within(frame.filename, CHECK_COMMAND)]
    return frames[-1] if frames else None


def learner_error(error: Exception) -> str | None:
    """One sentence for an exception raised in the learner's code, naming the file and line;
    None if no frame of the traceback is outside torch and these checks."""
    frame = learner_frame(error)
    if frame is None:
        return None
    # the library refused a file or setting: not the learner's code
    if isinstance(error, InputError):
        return f"the check could not run (not a mistake in your code): {error}"
    where = f"{Path(frame.filename).name}, line {frame.lineno} (in {frame.name})"
    if isinstance(error, NotImplementedError):
        note = f": {error}" if str(error) else ""
        return f"not implemented yet: {where} raises NotImplementedError{note}"
    return f"{where} raised {type(error).__name__}: {error}"


def exit_message(exit_: SystemExit, when: str) -> str:
    """One line for learner code that exits: where, with which code, and what to do instead."""
    frame = learner_frame(exit_)
    where = f"{shown_path(frame.filename)}, line {frame.lineno}" if frame else "your code"
    return (f"{where}: exits {when} (SystemExit with code {exit_.code!r}, from sys.exit, exit() "
            "or quit()), and the checks stop without a verdict; remove the exit, or put it under "
            "if __name__ == \"__main__\":")


def shown_path(filename: str) -> str:
    """A file as the learner typed it: relative to the current directory where it is inside."""
    path = Path(filename).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def is_within(filename: str, directory: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(directory)
    except (OSError, ValueError):
        return False


def source_place(candidate: Any, method: str | None = None) -> str:
    """'MultiHeadAttention.forward in attention.py, line 27': the learner's function, or the
    class's `method` (the class itself without one); '' where the source cannot be found."""
    target = candidate
    if inspect.isclass(candidate) and method is not None:
        target = getattr(candidate, method, candidate)
    try:
        filename, line = inspect.getsourcefile(target), inspect.getsourcelines(target)[1]
    except (OSError, TypeError):
        return ""
    if filename is None:
        return ""
    return f"{target.__qualname__} in {Path(filename).name}, line {line}"


def signature_problem(candidate: Any, signature: Signature) -> str | None:
    """Why the checks cannot call `candidate` as they do (a class where a function is expected,
    an argument too many or too few, no forward), or None."""
    if inspect.isclass(candidate):
        if signature.methods is None:
            return "is a class; the check calls a function"
        for method, call in signature.methods.items():
            function = getattr(candidate, method, None)
            if function is None or (method == "forward" and function is nn.Module.forward):
                return f"has no {method} method"
            if method == "__init__":  # the class's signature is its __init__'s without self
                function = candidate
            # A method read from the class takes self as one more argument.
            problem = call_problem(function, call, with_self=method != "__init__")
            if problem:
                name = candidate.__name__ + ("" if method == "__init__" else f".{method}")
                return f"{name}{shown_signature(function)} {problem}"
        return None
    if not callable(candidate):
        return f"is {type(candidate).__name__} {candidate!r:.40}, not a function or a class"
    if signature.function is None:
        return f"is a {type(candidate).__name__}; the check builds a class (an nn.Module)"
    problem = call_problem(candidate, signature.function)
    name = getattr(candidate, "__name__", type(candidate).__name__)
    return f"{name}{shown_signature(candidate)} {problem}" if problem else None


def call_problem(function: Callable, call: Call, with_self: bool = False) -> str | None:
    """Why function(*positional, **keywords) of that shape cannot be bound, or None."""
    positional, keywords = call
    try:
        inspect.signature(function).bind(*range(positional + with_self), **dict.fromkeys(keywords))
    except TypeError as error:
        return f"cannot be called with {described(call)} ({error})"
    except ValueError:  # no signature to read (a builtin): the checks will find out
        return None
    return None


def described(call: Call) -> str:
    """'2 arguments and the keyword scale'"""
    positional, keywords = call
    text = f"{positional} argument{'' if positional == 1 else 's'}"
    return text + (f" and the keyword {', '.join(keywords)}" if keywords else "")


def shown_signature(function: Callable) -> str:
    """'(states, attention_mask)': the names and defaults of a signature, without annotations."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return "(...)"
    plain = [parameter.replace(annotation=inspect.Parameter.empty)
             for parameter in signature.parameters.values()]
    return str(signature.replace(parameters=plain, return_annotation=inspect.Signature.empty))


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
