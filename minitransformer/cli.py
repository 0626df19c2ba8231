"""What every command shares: argument errors and bad input reported in one line, exit status 2.

    error: argument --epochs: invalid int value: 'three' (see train.py --help)
    error: configs/x.json, line 3: not valid JSON (Expecting ',' delimiter at column 5)

A bad flag is reported by argparse through `CommandParser.error`; bad input found later (a
file, a model directory) raises errors.InputError, which `main_of` turns into the same one line.
Anything else is a bug in our code and keeps its traceback.
"""

from __future__ import annotations

import argparse
import functools
import os
import stat
import sys
import textwrap
from pathlib import Path
from typing import Sequence

from .errors import InputError, one_line, shown
from .storage.atomic import atomic_file
from .storage.text import utf8_problem

BAD_INPUT = 2  # the exit status of every command on bad input, as argparse uses for bad flags
PLOTS_INSTALL = "pip install 'minitransformer[plots]' (or: pip install matplotlib)"


class CommandParser(argparse.ArgumentParser):
    """argparse, with its errors as one line `error: ...` instead of the usage block."""

    def error(self, message: str):
        print(one_line(f"error: {message} (see {self.prog} --help)"), file=sys.stderr)
        sys.exit(BAD_INPUT)


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    """--device, the same on every command (checked by devices.pick_device)."""
    parser.add_argument("--device", metavar="NAME",
                        help="cpu, cuda, cuda:N or mps (default: the best here: cuda, then mps, "
                             "then cpu)")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (batch sizes, counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main_of(command):
    """Decorate a command's `main(argv) -> int`: an argument that is not UTF-8 or an InputError
    becomes `error: ...`, status 2; Ctrl-C ends it with status 130 and a word, not a traceback."""
    @functools.wraps(command)
    def main(argv=None) -> int:
        try:
            check_arguments(sys.argv[1:] if argv is None else argv)
            return command(argv)
        except InputError as error:
            print(one_line(f"error: {error}"), file=sys.stderr)
            return BAD_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader went away (`... | head`): nothing left to say
            # Python flushes stdout once more at exit and would fail again: point it nowhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    return main


def pyplot(purpose: str):
    """matplotlib.pyplot for drawing to files, imported only by the commands that draw (it is an
    optional extra); without it, an InputError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise InputError(f"{purpose} needs matplotlib: {PLOTS_INSTALL}") from None
    matplotlib.use("Agg")  # files only: no window, works without a display
    import matplotlib.pyplot

    return matplotlib.pyplot


def wrapped(text: str, inches: float, fontsize: float) -> str:
    """`text` broken into lines that fit `inches` of width at `fontsize` points (a character is
    taken as 0.55 of the font size wide, a little more than the average glyph): titles that do
    not run off the picture."""
    characters = max(20, int(inches * 72 / (0.55 * fontsize)))
    return textwrap.fill(text, characters)


def save_figure(figure, out: Path) -> None:
    """Lay out (unless the figure was made with a layout of its own, as layout="constrained"),
    save (the format follows the suffix) and close a figure of `pyplot()`, through a temporary
    file: an interrupted save never leaves half a picture."""
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    with atomic_file(out) as temporary:
        figure.savefig(temporary, dpi=110)
    pyplot("saving").close(figure)


STANDARD_INPUT = 0  # in check_writable's `reads`: the file standard input comes from, if any


def check_writable(path: Path, flag: str, directory: bool = False,
                   reads: Sequence[tuple[str, Path | int | None]] = ()) -> None:
    """Refuse, before any work, an output path (a file, or a directory if `directory`) that
    cannot be written: the other kind of thing is there, or its nearest existing ancestor is a
    file or read-only. `reads`: (flag, path) of each input of the command (None: not given;
    STANDARD_INPUT: what standard input reads); an output that is one of them, under any name
    or link, or (a directory) lies inside one, is refused: an output never replaces its input."""
    shown_path = shown(str(path))
    if "\x00" in str(path):
        raise InputError(f"{flag} {shown_path}: cannot be a file name (it holds a NUL character)")
    if path.exists() and path.is_dir() != directory:
        raise InputError(f"{flag} {shown_path}: is {'a directory' if path.is_dir() else 'a file'}")
    for read_flag, source in reads:
        if source is None:
            continue
        if not isinstance(source, int) and directory and Path(source).is_dir() and \
                path.resolve().is_relative_to(Path(source).resolve()):
            raise InputError(f"{flag} {shown_path}: lies inside {shown(str(source))}, which "
                             f"{read_flag} reads; write it somewhere else")
        if same_file(path, source):
            what = ("the file that standard input reads" if source == STANDARD_INPUT
                    else f"{shown(str(source))}, which {read_flag} reads")
            raise InputError(f"{flag} {shown_path}: is {what}; the output would replace its "
                             f"own input, so write it to another file")
    if path.exists() and not os.access(path, os.W_OK):  # an existing one is replaced
        raise InputError(f"{flag} {shown_path}: is not writable")
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{flag} {shown_path}: {shown(str(ancestor))} is a file, not a directory")
    if not os.access(ancestor, os.W_OK):
        raise InputError(f"{flag} {shown_path}: {shown(str(ancestor))} is not writable")


def same_file(path: Path, source: Path | int) -> bool:
    """Whether the regular file at `path` is `source` (a path, or a file descriptor's file):
    the same device and inode, so a link or another spelling of the name counts too."""
    try:
        ours = os.stat(path)
        theirs = os.fstat(source) if isinstance(source, int) else os.stat(source)
    except (OSError, ValueError):  # either is missing, or cannot be a file's name
        return False
    return (stat.S_ISREG(ours.st_mode) and stat.S_ISREG(theirs.st_mode)
            and (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino))


def check_arguments(arguments: list[str]) -> None:
    """Refuse a command-line argument that is not UTF-8 text, naming it (counted from 1 after
    the command) and the byte. Python hands each byte that is not UTF-8 over as a surrogate
    escape (the bytes caf\xe9 arrive as 'caf\udce9'), which no tokenizer or terminal takes as
    a character; we refuse it rather than guess what the encoding was."""
    for number, argument in enumerate(arguments, start=1):
        try:
            argument.encode("utf-8")
            continue
        except UnicodeEncodeError as error:
            surrogate = argument[error.start]
        try:
            argument.encode("utf-8", "surrogateescape").decode("utf-8")  # the bytes typed
        except UnicodeDecodeError as error:  # the usual case: a byte that is not UTF-8
            raise InputError(f"argument {number}: {utf8_problem(error.object, error)[1]}; give "
                             f"arguments as UTF-8 text") from None
        except UnicodeEncodeError:  # a surrogate that escapes no byte, from a Python caller
            pass
        raise InputError(f"argument {number}: holds {surrogate!r}, a UTF-16 surrogate, which is "
                         f"no character")
