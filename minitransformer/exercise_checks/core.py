"""What every component check shares: a failure is one plain sentence, and the learner's code is
called so that its mistakes come back as that sentence, never as a traceback.

A component (exercise_checks/attention.py, ...) is a list of `Check`s run in order. The first
failure stops the run: later checks assume what earlier ones proved (shapes before values, values
before padding), and one clear message is worth more than five that follow from it. A failure
names the mistake and where to look: the learner's own line, found without a traceback by
searching the source of their method (then their class, then their file) for the construct the
mistake is about (`CheckFailed(near=...)`, `learner_line`), else the method's first line.

Two things end a run before any verdict, as bad input (an `InputError`, exit status 2): an
object that cannot be called the way the checks call it (`signature_problem`, asked before the
first check), and learner code that exits (`SystemExit`): an exit must never read as a pass.
"""

from __future__ import annotations

import ast
import inspect
import sys
import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from ..errors import InputError

CHECKS_DIRECTORY = Path(__file__).resolve().parent
PACKAGE_DIRECTORY = CHECKS_DIRECTORY.parent  # our own code, which a learner's may call
TORCH_DIRECTORY = Path(torch.__file__).resolve().parent
STDLIB_DIRECTORY = Path(sysconfig.get_paths()["stdlib"]).resolve()


# What `near` may name: identifiers (softmax, dropout, self.key: a name, an attribute, a keyword
# argument), "return", "'text" (a string constant holding text), these operators and
# comparisons; "@" also matches matmul, bmm and einsum.
OPERATORS = {"@": ast.MatMult, "**": ast.Pow, "+": ast.Add, "-": ast.Sub, "*": ast.Mult,
             "/": ast.Div}
COMPARISONS = {">": ast.Gt, ">=": ast.GtE, "<": ast.Lt, "<=": ast.LtE, "==": ast.Eq}
COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)
# Alternatives, tried in order; a tuple: a statement holding all of its words, the n-th such
# statement where it holds a number n (("self.key", 2): the second statement using self.key).
Near = tuple[str | tuple[str | int, ...], ...]
Ran = dict[str, set[int]]  # file name -> the numbers of the lines that ran there (`traced`)


class CheckFailed(Exception):
    """A check found a mistake; the message says what is likely wrong, with the numbers.
    `look_at` names the learner's method where the mistake is ("__init__", "forward"), when the
    check knows better than its `Check.look_at`; "" when the message names the line itself.
    `near` says what the learner's line of the mistake holds, e.g. ("softmax",) or
    (("additive_mask", "+"), "softmax"): the first statement holding it is pointed at."""

    def __init__(self, message: str, look_at: str | None = None, near: Near = (),
                 ran: Ran | None = None):
        super().__init__(message)
        self.look_at = look_at
        self.near = (near,) if isinstance(near, str) else tuple(near)
        self.ran = ran  # the lines the learner's code ran (traced): those are searched first


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
            place = (source_place(candidate, look_at, failed.near, failed.ran)
                     if look_at != "" else "")
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
    library and this package (exit() is a function of the standard library, say; a learner's
    line that hands our additive_padding_mask a None is theirs, not ours)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not frame.filename.startswith("<frozen")
              and not any(is_within(frame.filename, directory)
                          for directory in (TORCH_DIRECTORY, PACKAGE_DIRECTORY,
                                            STDLIB_DIRECTORY))]
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


def source_place(candidate: Any, method: str | None = None, near: Near = (),
                 ran: Ran | None = None) -> str:
    """'MultiHeadAttention.forward in attention.py, line 31: weights = scores.softmax(dim=1)':
    the learner's line that holds what `near` names (see learner_line), else the first line of
    their function, or of the class's `method` (the class itself without one); '' where the
    source cannot be found."""
    target = candidate
    if inspect.isclass(candidate) and method is not None:
        target = getattr(candidate, method, candidate)
    try:
        filename, line = inspect.getsourcefile(target), inspect.getsourcelines(target)[1]
    except (OSError, TypeError):
        return ""
    if filename is None:
        return ""
    found = learner_line(target, near, ran) if near else None
    if found is None:
        return f"{target.__qualname__} in {Path(filename).name}, line {line}"
    line, text, within = found
    return f"{within + ' in ' if within else ''}{Path(filename).name}, line {line}: {text}"


def learner_line(function: Any, near: Near, ran: Ran | None = None
                 ) -> tuple[int, str, str] | None:
    """(line number, its code, the function or class it is in, '' at the top of the file) of the
    first statement holding what `near` names, searched in `function`, then in the rest of its
    class, then in the rest of its file (a helper function, a table of activations, another
    class); first among the statements that ran (`ran`, when the check traced the learner's
    code: the branch of an `if` that was taken), then among all. None if none holds it or the
    source cannot be read."""
    code = getattr(function, "__code__", None)
    try:
        filename = inspect.getsourcefile(function)
        source = Path(filename).read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, UnicodeDecodeError):
        return None
    if code is not None:  # a function or method: its definition, by its first line
        first = code.co_firstlineno
        is_def = lambda node: isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    else:  # a class
        first = inspect.getsourcelines(function)[1]
        is_def = lambda node: isinstance(node, ast.ClassDef)
    definition = next((node for node in ast.walk(tree) if is_def(node) and first in (
        node.lineno, *(d.lineno for d in node.decorator_list))), None)
    if definition is None:
        return None
    owner = next((node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                  and definition in node.body), None)
    scopes = [[definition]]
    if owner is not None:
        scopes.append([node for node in owner.body if node is not definition])
    rest = [node for node in tree.body if node is not (owner or definition)
            and not isinstance(node, (ast.Import, ast.ImportFrom))]
    scopes += [[node for node in rest if not isinstance(node, ast.ClassDef)],
               [node for node in rest if isinstance(node, ast.ClassDef)]]
    run_here = (ran or {}).get(filename)
    was_run = lambda node: any(line in run_here for line in range(
        node.lineno, (node.lineno if isinstance(node, COMPOUND) else node.end_lineno) + 1))
    lines = source.splitlines()
    for only_run in ([True, False] if run_here else [False]):
        for wanted in near:
            keys = (wanted,) if isinstance(wanted, str) else wanted
            words = [key for key in keys if isinstance(key, str)]
            nth = next((key for key in keys if isinstance(key, int)), 1)  # the n-th match
            for scope in scopes:
                matches = [statement for statement in statements(scope)
                           if all(holds(statement, word) for word in words)
                           and (not only_run or was_run(statement))]
                if len(matches) >= nth:
                    line = matches[nth - 1].lineno
                    return line, shown_line(lines[line - 1]), enclosing(tree, line)
    return None


def enclosing(tree: ast.AST, line: int, prefix: str = "") -> str:
    """'FeedForward.forward': the innermost function or class around a line of the file."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
                node.lineno <= line <= node.end_lineno):
            return enclosing(node, line, f"{prefix}{node.name}.")
    return prefix[:-1]


def statements(nodes: list[ast.AST]) -> Iterator[ast.AST]:
    """Every statement under `nodes`: the simple ones in source order, then the headers of the
    compound ones (an `if` line names a construct less exactly than the line inside it)."""
    found = []
    for node in nodes:
        for inner in ast.walk(node):
            if isinstance(inner, ast.stmt) and not isinstance(
                    inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.append(inner)
    return iter(sorted(found, key=lambda node: (isinstance(node, COMPOUND), node.lineno,
                                                node.col_offset)))


def header(statement: ast.AST) -> list[ast.AST]:
    """The expressions of a statement itself, without the statements nested in it."""
    if isinstance(statement, (ast.If, ast.While)):
        return [statement.test]
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return [statement.target, statement.iter]
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return list(statement.items)
    if isinstance(statement, ast.Try):
        return []
    return [statement]


def holds(statement: ast.AST, key: str) -> bool:
    """Whether the statement's own code holds `key`: an operator of OPERATORS or COMPARISONS,
    'self.NAME', 'return' (a return statement), "'text" (a string holding text), or a name,
    attribute or keyword argument."""
    if key == "return":
        return isinstance(statement, ast.Return)
    for part in header(statement):
        for node in ast.walk(part):
            if key.startswith("'"):  # 'text: a string that holds text
                if isinstance(node, ast.Constant) and key[1:] in str(node.value):
                    return True
            elif key in COMPARISONS:
                if isinstance(node, ast.Compare) and any(isinstance(op, COMPARISONS[key])
                                                         for op in node.ops):
                    return True
            elif key in OPERATORS:
                if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op,
                                                                               OPERATORS[key]):
                    return True
                if key == "@" and isinstance(node, ast.Call) and called_name(node) in (
                        "matmul", "bmm", "einsum"):
                    return True
            elif key.startswith("self."):
                if (isinstance(node, ast.Attribute) and node.attr == key[5:]
                        and isinstance(node.value, ast.Name) and node.value.id == "self"):
                    return True
            elif (isinstance(node, ast.Name) and node.id == key
                  or isinstance(node, ast.Attribute) and node.attr == key
                  or isinstance(node, ast.keyword) and node.arg == key):
                return True
    return False


def called_name(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def shown_line(line: str, width: int = 72) -> str:
    """A line of code as a message quotes it: stripped, its comment dropped, at most `width`."""
    code = line.split("  #")[0].strip()
    return code if len(code) <= width else code[:width - 3] + "..."


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


def shared_modules(module: nn.Module) -> list[list[str]]:
    """The sub-modules with parameters that are one object under several names, outermost
    first: [["layers.0", "layers.1"]] for nn.ModuleList([layer] * 2)."""
    names: dict[int, list[str]] = {}
    for name, sub in module.named_modules(remove_duplicate=False):
        if name and next(sub.parameters(), None) is not None:
            names.setdefault(id(sub), []).append(name)
    shared = [group for group in names.values() if len(group) > 1]
    inner = lambda name, other: name.startswith(other + ".")
    return [group for group in shared  # not the parts of a module already named as shared
            if not any(inner(group[0], other) for others in shared for other in others)]


def check_separate_modules(learner: nn.Module) -> None:
    """CheckFailed when one module object stands under several names: its parameters are then
    shared, and what should be two layers trains as one."""
    shared = shared_modules(learner)
    if not shared:
        return
    first, *others = shared[0]
    kind = type(dict(learner.named_modules(remove_duplicate=False))[first]).__name__
    kind = f"nn.{kind}" if hasattr(nn, kind) else kind
    named = " and ".join([", ".join(shared[0][:-1]), shared[0][-1]]) if others else first
    attribute = others[0].split(".")[0]
    raise CheckFailed(f"{named} are one {kind} object (the same parameters under {len(shared[0])} "
                      f"names): assigning one module to several names, or repeating it in a list "
                      f"([module] * n), shares it, so they would train as one; create a new {kind} "
                      "for each", look_at="__init__", near=(f"self.{attribute}",))


def load_same_weights(learner: nn.Module, ours: nn.Module) -> None:
    """Copy our module's weights into the learner's, which must name its parameters as ours do
    (so that known and pretrained weights can be copied in), each part a module of its own."""
    check_separate_modules(learner)
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


def call_without_mask(function: Callable[[], Any], what: str) -> Any:
    """function(), which calls the learner's code with its optional mask left None: an exception
    raised in their code becomes CheckFailed saying that `what` may be None (the message names
    their line, from the traceback)."""
    try:
        return function()
    except (TypeError, AttributeError, RuntimeError) as error:
        message = learner_error(error)
        if message is None:
            raise
        raise CheckFailed(f"called with {what} = None (no padding), {message}: {what} may be None, "
                          f"and then no token is padding; test `if {what} is not None` before "
                          "using it", look_at="") from None


# ---- randomness: dropout compared with the same seed, or in distribution -----------------------

def seeded(run: Callable[[], torch.Tensor], seed: int) -> torch.Tensor:
    """run() after torch.manual_seed(seed), without autograd: two functions that draw the same
    random numbers in the same order (F.dropout and nn.Dropout do) give the same output."""
    torch.manual_seed(seed)
    with torch.no_grad():
        return run()


def distribution_gap(learner_run: Callable[[], torch.Tensor],
                     reference_run: Callable[[], torch.Tensor], draws: int = 100,
                     seed: int = 100) -> tuple[float, float, float]:
    """How far apart two random functions' outputs (..., d) are over `draws` calls each: the
    squared difference of their means over its expected size were they one distribution (about
    1 when they agree), and the smallest and largest ratio of their spreads (the variance summed
    over d) among the rows, e.g. the tokens (about 1 when they agree)."""
    learner = torch.stack([seeded(learner_run, seed + i).double() for i in range(draws)])
    reference = torch.stack([seeded(reference_run, seed + i).double() for i in range(draws)])
    spread_learner, spread_reference = learner.var(0), reference.var(0)
    gap = ((learner.mean(0) - reference.mean(0)) ** 2).sum() / (
        (spread_learner + spread_reference) / draws).sum().clamp(min=1e-30)
    ratios = spread_learner.sum(-1) / spread_reference.sum(-1).clamp(min=1e-30)
    return gap.item(), ratios.min().item(), ratios.max().item()


def same_in_distribution(gap: float, low: float, high: float) -> bool:
    """The verdict on distribution_gap's numbers: the means within ~2 standard errors, every
    row's spread within ~20% (over 100 draws two samples of one distribution differ by ~5% per
    token; dropout at another place or rate differs by 25% or more somewhere)."""
    return gap < 3.0 and 0.82 < low and high < 1.22


def traced(run: Callable[[], Any]) -> tuple[Any, Ran]:
    """run(), and the lines it ran in each file outside torch, the standard library and this
    package: which branch of the learner's code was taken, for `CheckFailed(ran=...)`."""
    lines: Ran = {}
    outside: set[str] = set()

    def in_frame(frame, event, arg):
        if event == "line":
            lines[frame.f_code.co_filename].add(frame.f_lineno)
        return in_frame

    def on_call(frame, event, arg):
        filename = frame.f_code.co_filename
        if filename in lines:
            return in_frame
        if filename in outside or filename.startswith("<") or any(
                is_within(filename, directory)
                for directory in (TORCH_DIRECTORY, PACKAGE_DIRECTORY, STDLIB_DIRECTORY)):
            outside.add(filename)
            return None
        lines[filename] = set()
        return in_frame

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        result = run()
    finally:
        sys.settrace(previous)
    return result, lines


def merged(*rans: Ran) -> Ran:
    """The lines of several traced runs together."""
    lines: Ran = {}
    for ran in rans:
        for filename, numbers in ran.items():
            lines.setdefault(filename, set()).update(numbers)
    return lines
