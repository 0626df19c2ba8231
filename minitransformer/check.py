"""Check your own version of a component with the project's own tests.

    python -m minitransformer.check attention mywork/attention.py:MultiHeadAttention
    python -m minitransformer.check --list

The checks compare your class or function with an independent reference (PyTorch's own
attention and encoder layer, the paper's formula, hand-computed cases) at every setting your
component reads (dropout rates of 0 and between 0 and 1, each activation, both norm placements,
a mask and none), then, where it makes sense, run all-MiniLM-L6-v2 with your component swapped in
against the stored outputs of the original implementation. A failure is one sentence about the
likely mistake, with the numbers, and your line to look at.
Exit status: 0 all checks pass, 1 a check fails, 2 nothing could be checked: no such file or
name, a signature the checks cannot call, or a file that exits (sys.exit, exit() or quit()) while
it is imported or checked; then one line `error: ...` says which, and never a pass.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from .cli import CommandParser, main_of
from .errors import InputError
from .exercise_checks import COMPONENT_MODULES, get_component
from .exercise_checks.core import exit_message, run_component, signature_problem

STATUS_MARKS = {"ok": "ok  ", "FAIL": "FAIL", "skip": "skip"}


def load_object(import_path: str, expects: str = ""):
    """'path/to/file.py:Name' or 'package.module:Name' -> the object, or InputError (which
    ends with `expects`, what the check wants, where a name is missing)."""
    location, colon, name = import_path.rpartition(":")
    if not colon or not location or not name:
        raise InputError(f"{import_path}: give FILE.py:NAME or MODULE:NAME, e.g. "
                         "mywork/attention.py:MultiHeadAttention")
    if location.endswith(".py"):
        module = import_file(Path(location))
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as error:
            raise InputError(f"{location}: cannot import it ({error})") from None
    if not hasattr(module, name):
        found = sorted(key for key in vars(module) if not key.startswith("_"))
        raise InputError(f"{location}: defines no {name!r} "
                         f"(it has: {', '.join(found) or 'nothing'})"
                         + (f"; {expects}" if expects else ""))
    return getattr(module, name)


def import_file(path: Path):
    """Import a learner's file as a module. Its folder is searchable, so it may import its
    neighbours (exercises/encoder.py imports encoder_layer.py); a file inside a package
    (minitransformer/model/pooling.py) is imported as part of it, so its relative imports work."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    path = path.resolve()
    root, parts = path.parent, [path.stem]
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    sys.path.insert(0, str(root))
    try:
        if len(parts) > 1:
            return importlib.import_module(".".join(parts))
        spec = importlib.util.spec_from_file_location(f"learner_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except SyntaxError as error:
        raise InputError(f"{path}, line {error.lineno}: {error.msg}") from None
    except SystemExit as exit_:  # uncaught, it would end the checker with the file's own status
        raise InputError(exit_message(exit_, "while being imported")) from None
    except Exception as error:  # the file fails while being imported
        raise InputError(f"{path}: importing it raised {type(error).__name__}: {error}") from None


def parse_args(argv):
    parser = CommandParser(prog="python -m minitransformer.check",
                           description=__doc__.split("Exit status")[0].strip(),
                           epilog="The exercises, their order and a command for each: "
                                  "exercises/README.md",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("component", nargs="?", choices=list(COMPONENT_MODULES),
                        help="which component to check (see --list)")
    parser.add_argument("import_path", nargs="?", metavar="IMPORT_PATH",
                        help="your class or function: FILE.py:NAME (or MODULE:NAME)")
    parser.add_argument("--list", action="store_true",
                        help="list the components, what each expects, and our own version")
    args = parser.parse_args(argv)
    if not args.list and (args.component is None or args.import_path is None):
        parser.error("give COMPONENT and IMPORT_PATH, or --list")
    return args


def print_outcome(outcome) -> None:
    detail = f": {outcome.detail}" if outcome.detail else ""
    print(f"  {STATUS_MARKS[outcome.status]}  {outcome.title}{detail}", flush=True)


@main_of
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for name in COMPONENT_MODULES:
            component = get_component(name)
            print(f"{name:<14}{component.writes}\n{'':<14}expects: {component.signature.text}\n"
                  f"{'':<14}ours: {component.ours}")
        return 0
    component = get_component(args.component)
    expects = f"the {args.component} check expects {component.signature.text}"
    candidate = load_object(args.import_path, expects)
    problem = signature_problem(candidate, component.signature)
    if problem:
        raise InputError(f"{args.import_path}: {problem}; {expects}")
    print(f"checking {args.component}: {args.import_path}", flush=True)
    outcomes = run_component(component, candidate, report=print_outcome)
    failed = any(outcome.status == "FAIL" for outcome in outcomes)
    not_run = len(component.checks) - len(outcomes)
    if failed:
        print(f"fix this, then run the check again ({not_run} later checks not run)"
              if not_run else "fix this, then run the check again")
        return 1
    print(f"all {len(outcomes)} checks pass" + (" (some skipped)" if any(
        outcome.status == "skip" for outcome in outcomes) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
