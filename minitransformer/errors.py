"""Bad input from outside the program, and the JSON files that carry most of it.

Two kinds of failure are kept apart on purpose:

* `InputError`: something the user handed us is wrong (a data file, a flag, a model directory,
  a config). Every command prints its message as one line `error: ...` and exits with status 2;
  the message names the file (and the line, field or tensor) and says what is wrong.
* anything else: a bug in our code. It keeps its traceback, which is what a developer needs.

`InputError` is a `ValueError`, so Python callers that catch ValueError keep working.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path


class InputError(ValueError):
    """A problem with a file, flag or directory given to us; the message says where and what."""


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


def read_text(path: str | Path, what: str = "a text file") -> str:
    """A UTF-8 text file's contents, or an InputError that says why not (missing, a directory,
    not UTF-8 with the byte, unreadable)."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not {what}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror})") from None


def read_json(path: str | Path, kind: type = dict):
    """A JSON object (or, with kind=list, array) from a file, or an InputError that says why
    not (missing, not UTF-8, not JSON, with line and column, or JSON of another kind)."""
    path = Path(path)
    text = read_text(path, "a JSON file")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}, line {error.lineno}: not valid JSON ({error.msg} at column "
                         f"{error.colno})") from None
    if not isinstance(value, kind):
        wanted = "object" if kind is dict else "list"
        raise InputError(f"{path}: expected a JSON {wanted}, got a JSON {type(value).__name__}")
    return value


def read_format_file(path: Path, format_name: str, max_version: int, keys: tuple[str, ...],
                     what: str) -> dict:
    """A config.json of one of our directory formats: {"format": format_name, "format_version":
    v <= max_version, and every key in `keys`}; `what` names the format for people."""
    description = read_json(path)
    if description.get("format") != format_name:
        raise InputError(f"{path}: not a minitransformer {what} "
                         f"(format {description.get('format')!r})")
    version = description.get("format_version")
    if not isinstance(version, int) or version > max_version:
        raise InputError(f"{path}: format_version {version!r}; this minitransformer reads "
                         f"versions up to {max_version}")
    missing = [key for key in keys if key not in description]
    if missing:
        raise InputError(f"{path}: missing key(s) {', '.join(missing)}")
    return description


def is_integer_at_least(value, low: int) -> bool:
    """Whether a value read from a config is an integer >= low (JSON's true is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low
