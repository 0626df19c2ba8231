"""Reading what people hand us: files as bytes, UTF-8 text and JSON, each refused with one
InputError that names the file, the line where known, and what is wrong.

Every reader of a text file goes through `read_text` (data files, vocabularies, configs, the
lines embed.py reads), and of a JSON file through `read_json`, so that a file that is missing,
a directory, not UTF-8 or not JSON reads the same to the user whichever command met it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import FileError, InputError, shown


def utf8_problem(data: bytes, error: UnicodeDecodeError) -> tuple[int, str]:
    """(line from 1, what is wrong) for `error`, raised by decoding `data` as UTF-8: the line
    is counted from the newlines before the bad byte, which is named with its offset."""
    line = data.count(b"\n", 0, error.start) + 1
    return line, (f"not valid UTF-8: byte 0x{data[error.start]:02x} at byte offset {error.start} "
                  f"({error.reason})")


def decode_utf8(data: bytes, where: str | Path) -> str:
    """`data` as UTF-8 text, or an InputError '<where>, line <n>: not valid UTF-8: ...'."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, problem = utf8_problem(data, error)
        raise FileError(where, line, problem) from None


def read_bytes(path: str | Path, what: str = "a file") -> bytes:
    """A file's bytes, or an InputError that says why not (missing, a directory, unreadable)."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileError(path, None, "no such file") from None
    except IsADirectoryError:
        raise FileError(path, None, f"is a directory, not {what}") from None
    except OSError as error:
        raise FileError(path, None, f"cannot be read ({error.strerror})") from None
    except ValueError as error:  # a NUL character in the name, or a lone surrogate
        raise FileError(shown(str(path)), None, f"cannot be a file name ({error})") from None


def path_from_file(base: Path, name: str, where: str) -> Path:
    """`name`, a path written in a file (a config), taken relative to `base` and resolved; an
    InputError naming `where` if no file can have that name (it holds a NUL character)."""
    if "\x00" in name:
        raise InputError(f"{where}: {name!r} cannot be a file name (it holds a NUL character)")
    return (base / name).resolve()


def read_text(path: str | Path, what: str = "a text file") -> str:
    """A UTF-8 text file's contents, or an InputError that says why not (missing, a directory,
    not UTF-8 with the line and byte, unreadable). A byte-order mark at the start (as some
    editors and spreadsheets write) is dropped: it would stick to the first field or token."""
    return decode_utf8(read_bytes(path, what), path).removeprefix("\ufeff")


class JSONProblem(InputError):
    """JSON text that cannot be read. The message names no file (the caller adds it); `line`
    counts from 1 in the text given, None where the parser does not say."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


# Every backslash escape in JSON text (they occur only inside strings); group 1 holds the hex
# digits of a \uXXXX one.
ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def lone_surrogate(text: str) -> tuple[int, str] | None:
    """(offset, escape) of the first \\uXXXX escape in JSON text that is half of a UTF-16
    surrogate pair without the other half (\\ud83d\\ude00 is a pair, one character), or None.
    json.loads keeps such a half as a str of its own, but it is no character: strict UTF-8
    cannot hold it, so no file, tokenizer or terminal takes it."""
    if "\\u" not in text:
        return None
    high = None  # the escape of a first half (D800-DBFF), until we see what follows it
    for match in ESCAPE.finditer(text):
        unit = int(match[1], 16) if match[1] else None
        is_low = unit is not None and 0xDC00 <= unit <= 0xDFFF
        if high is not None:
            if not (is_low and match.start() == high.end()):
                return high.start(), high[0]
            high = None  # a pair
        elif unit is not None and 0xD800 <= unit <= 0xDBFF:
            high = match
        elif is_low:
            return match.start(), match[0]
    return (high.start(), high[0]) if high is not None else None


def object_without_repeats(pairs: list[tuple[str, object]]) -> dict:
    """json.loads' object_pairs_hook: the object as a dict, or a JSONProblem naming a key that
    occurs twice in it (json.loads would keep the last value and silently drop the first)."""
    value = dict(pairs)
    if len(value) < len(pairs):
        seen = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise JSONProblem(f"the key {repeated!r} occurs twice in one object (json would keep "
                          f"the second value and drop the first without a word)", None)
    return value


DECODER = json.JSONDecoder(object_pairs_hook=object_without_repeats)  # made once: it is reused


def parse_json(text: str):
    """json.loads, with every way it refuses a text raised as a JSONProblem: malformed JSON
    (with line and column), an integer of more digits than Python converts (4300), nesting
    deeper than Python's recursion limit, a key twice in one object; and a lone surrogate
    escape, which json.loads takes."""
    try:
        value = DECODER.decode(text)
    except JSONProblem:  # a repeated key
        raise
    except json.JSONDecodeError as error:
        raise JSONProblem(f"not valid JSON ({error.msg} at column {error.colno})",
                          error.lineno) from None
    except ValueError as error:  # the digit limit of int(); its message continues with advice
        raise JSONProblem(f"not readable JSON ({str(error).split(';')[0]})", None) from None
    except RecursionError:
        raise JSONProblem("not readable JSON (arrays or objects nested too deeply)", None) from None
    surrogate = lone_surrogate(text)
    if surrogate is not None:
        offset, escape = surrogate
        raise JSONProblem(f"the escape {escape} is half of a UTF-16 surrogate pair, not a "
                          f"character", text.count("\n", 0, offset) + 1)
    return value


def read_json(path: str | Path, kind: type = dict):
    """A JSON object (or, with kind=list, array) from a file, or an InputError that says why
    not (missing, not UTF-8, not readable JSON, with the line where known, or JSON of another
    kind)."""
    path = Path(path)
    text = read_text(path, "a JSON file")
    try:
        value = parse_json(text)
    except JSONProblem as error:
        raise FileError(path, error.line, str(error)) from None
    if not isinstance(value, kind):
        wanted = "object" if kind is dict else "list"
        raise FileError(path, None, f"expected a JSON {wanted}, got a JSON {type(value).__name__}")
    return value
