"""Bad input from outside the program: the error type every command turns into one line.

Two kinds of failure are kept apart on purpose:

* `InputError`: something the user handed us is wrong (a data file, a flag, a model directory,
  a config). Every command prints its message as one line `error: ...` and exits with status 2;
  the message names the file (and the line, field or tensor) and says what is wrong.
* anything else: a bug in our code. It keeps its traceback, which is what a developer needs.

`InputError` is a `ValueError`, so Python callers that catch ValueError keep working.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


class InputError(ValueError):
    """A problem with a file, flag or directory given to us; the message says where and what."""


class FileError(InputError):
    """A problem at a place in a file: the message starts with the file and, when known, the
    line ("data/x.jsonl, line 3: ..."), which `path` and `line` also hold."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path, self.line = str(path), line
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@contextmanager
def about(path: str | Path | None):
    """Name `path` in any InputError raised inside, unless the message already names it
    (or `path` is None).

        with about(directory / "config.json"):
            config = EncoderConfig.from_dict(values)   # "EncoderConfig.hidden_size must be ..."
        # -> InputError("runs/x/config.json: EncoderConfig.hidden_size must be ...")
    """
    try:
        yield
    except InputError as error:
        if path is None or str(path) in str(error):
            raise
        raise InputError(f"{path}: {error}") from None


def shown(name: str) -> str:
    """A name read from a file, for a message: as it is, or quoted with escapes if it holds a
    character that would break the one-line message or the terminal (a newline, a surrogate)."""
    return name if name.isprintable() else repr(name)
