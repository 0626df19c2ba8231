"""Values read from config files, run files and the command line, checked before they are used.

Every number a command reads from text (a flag's value, the K of `--freeze layers:K`, the 2-4
of `inspect --layers`) goes through `parse_int` or `parse_float`: plain ASCII decimal text,
finite, within bounds, or an InputError that quotes the text. Python's own int() and float()
take more than a user means to type ('３' and '٣' are 3, '1_000' is 1000, 'nan' and 'inf' are
floats) and refuse some of what str.isdigit passes ('²'), so neither is used on text directly.
"""

from __future__ import annotations

import argparse
import math
import re

from .errors import InputError

MAX_NUMBER_TEXT = 64  # characters: no count or rate this project takes needs more
ASCII_SPACE = " \t\r\n"  # what may surround a number (str.strip would take any Unicode space)
INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def is_integer_at_least(value, low: int) -> bool:
    """Whether a value read from a config is an integer >= low (JSON's true is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def bounds_text(low: float, high: float, integer: bool, low_open: bool = False) -> str:
    """'an integer from 1 to 8', 'a number > 0', ...: what a value within the bounds is."""
    kind = "an integer" if integer else "a number"
    if integer and low > -math.inf and high < math.inf:
        return f"{kind} from {low:,} to {high:,}"
    parts = [f"{'>' if low_open else '>='} {low:g}"] if low > -math.inf else []
    parts += [f"<= {high:g}"] if high < math.inf else []
    return " ".join([kind, " and ".join(parts)]).strip()


def refused(what: str, wanted: str, got: str) -> InputError:
    """The one message of a number refused: '--epochs must be an integer >= 1, got '0''; with
    `what` empty (an argparse type, whose caller names the flag) 'must be ...'."""
    return InputError(f"{what} must be {wanted}, got {got}".lstrip())


def _number_text(text: str, pattern: re.Pattern, what: str, wanted: str) -> str:
    """`text` without the ASCII spaces around it, if it is a number as `pattern` writes it."""
    if not isinstance(text, str):
        raise refused(what, wanted, f"{text!r}, not text")
    if len(text) > MAX_NUMBER_TEXT:
        raise refused(what, wanted, f"{len(text):,} characters ({text[:20]!r}...)")
    bare = text.strip(ASCII_SPACE)
    if pattern.fullmatch(bare) is None:
        hint = "; write it in ASCII digits 0-9" if any(
            c.isdigit() or c.isnumeric() for c in bare if not c.isascii()) else ""
        raise refused(what, wanted, f"{text!r}{hint}")
    return bare


def parse_int(text: str, what: str, low: int | float = -math.inf,
              high: int | float = math.inf) -> int:
    """`text` as an integer low <= n <= high, or an InputError naming `what` (a flag, say):

        parse_int("3", "--epochs", 1)       -> 3
        parse_int("３", "--epochs", 1)      -> InputError("--epochs must be an integer >= 1,
                                               got '３'; write it in ASCII digits 0-9")
    The bounds are checked on the text's length first, so no huge number is ever built."""
    wanted = bounds_text(low, high, integer=True)
    number = int(_number_text(text, INTEGER, what, wanted))  # at most 64 digits: cheap
    if not low <= number <= high:
        raise refused(what, wanted, repr(text))
    return number


def parse_float(text: str, what: str, low: float = -math.inf, high: float = math.inf,
                low_open: bool = False) -> float:
    """`text` as a finite number within [low, high] (low excluded if low_open), or an
    InputError naming `what`. Decimal notation only ('0.5', '5e-5', '.5'): 'inf', 'nan',
    hexadecimal, underscores and digits other than ASCII 0-9 are refused."""
    wanted = bounds_text(low, high, integer=False, low_open=low_open)
    number = float(_number_text(text, DECIMAL, what, wanted))
    if not math.isfinite(number):  # '1e999': a decimal that no float holds
        raise refused(what, wanted, f"{text!r}, beyond a float's range")
    if not (low < number if low_open else low <= number) or not number <= high:
        raise refused(what, wanted, repr(text))
    return number


def flag_type(parse, **bounds):
    """An argparse `type` that reads a flag's value with `parse` (parse_int or parse_float) and
    `bounds`; argparse then reports 'argument --X: must be ..., got ...' in one line."""
    def convert(text: str):
        try:
            return parse(text, "", **bounds)
        except InputError as error:  # argparse words only an ArgumentTypeError as it is
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = "integer" if parse is parse_int else "number"
    return convert
