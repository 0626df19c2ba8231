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
        where = shown(str(path)) + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {message}")


class OutputError(InputError):
    """A file or directory we were asked to write could not be written: a full disk, a file-size
    limit, no right to write there. `reason` says which; what stood there before is unchanged
    (storage/atomic.py writes everything beside it first)."""

    def __init__(self, path: str | Path, reason: str, existed: bool):
        self.path, self.reason = str(path), reason
        kept = "the earlier one is left as it was" if existed else "nothing was left there"
        super().__init__(f"{shown(str(path))}: cannot be written ({reason}); {kept}")


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
        if path is None or str(path) in str(error) or shown(str(path)) in str(error):
            raise
        raise InputError(f"{shown(str(path))}: {error}") from None


def shown(name: str) -> str:
    """A name (a file, a task, a value read from a file or typed), for a message: as it is, or
    quoted with escapes if it holds a character that would break the one-line message or the
    terminal (a newline, a surrogate)."""
    return name if name.isprintable() else repr(name)


def one_line(message: str) -> str:
    """`message` with every character that would break it across lines or upset the terminal
    (a newline, a tab, U+2028, a control character, a surrogate) written as its escape, as
    repr writes it. Names should already be `shown`; this is the net under every message a
    command prints, for the names that reach one some other way (an argparse value, say)."""
    if message.isprintable():
        return message
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in message)
