"""The one number parser (values.py) fuzzed: any text either reads as a number within the
bounds asked for, written in ASCII decimal, or raises the project's InputError with a one-line
message; never another exception, never a number out of bounds, never a huge range expanded.
Derandomized, as tests/test_fuzz.py: every run, CI's too, tries the same strings."""

import math

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is in the [test] extra")
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from minitransformer import inspect  # noqa: E402
from minitransformer.errors import InputError  # noqa: E402
from minitransformer.training.run_config import parse_interval  # noqa: E402
from minitransformer.values import parse_float, parse_int  # noqa: E402

NOT_ASCII = ["３", "²", "٣", "१", "߃", "Ⅳ", "½", "𝟑", "\u00a0", "\u2007", "\udc80"]
# Text made of what numbers are made of (and what is mistaken for them), so that the parser
# gets past its first character.
PIECES = st.sampled_from(["0", "1", "9", "-", "+", ".", "e", "E", "_", " ", "\t", "\n", "x",
                          "inf", "nan", "3", "5", "00", "9" * 30, ",", "steps", "epochs"]
                         + NOT_ASCII)
NUMBER_TEXT = st.lists(PIECES, max_size=8).map("".join) | st.text(max_size=12)
FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None)
SPACES = " \t\r\n"


def one_line(error: InputError, start: str) -> None:
    assert "\n" not in str(error) and str(error).startswith(start), str(error)


@FUZZ
@given(NUMBER_TEXT, st.integers(-5, 5), st.integers(0, 10**6))
@example("9" * 64, 0, 10).via("the longest text read")
@example("9" * 65, 0, 10)
def test_any_text_is_an_in_bounds_integer_or_an_input_error(text, low, span):
    try:
        number = parse_int(text, "--n", low, low + span)
    except InputError as error:
        one_line(error, "--n must be an integer")
        return
    assert type(number) is int and low <= number <= low + span
    assert text.strip(SPACES).lstrip("+-").isascii() and number == int(text)


@FUZZ
@given(NUMBER_TEXT, st.floats(-10, 10), st.booleans())
@example("1e999", 0.0, False).via("beyond a float")
@example("1e-999", 0.0, True)
def test_any_text_is_a_finite_in_bounds_number_or_an_input_error(text, low, low_open):
    try:
        number = parse_float(text, "--x", low, 1e6, low_open=low_open)
    except InputError as error:
        one_line(error, "--x must be a number")
        return
    assert type(number) is float and math.isfinite(number) and number <= 1e6
    assert low < number if low_open else low <= number
    assert text.strip(SPACES).isascii() and number == float(text)


@FUZZ
@given(NUMBER_TEXT)
def test_any_interval_is_read_or_refused_by_the_one_parser(text):
    try:
        every, unit = parse_interval(text)
    except InputError as error:
        one_line(error, "--unfreeze-every")
        return
    assert type(every) is int and 1 <= every <= 10**9 and unit in ("epochs", "steps")


@FUZZ
@given(NUMBER_TEXT)
@example("1-" + "9" * 40).via("a range far beyond the model, never expanded")
def test_inspect_numbers_are_checked_before_a_range_is_expanded(text):
    try:
        indices = inspect.parse_numbers(text, 12, "layers")
    except InputError as error:
        one_line(error, "--layers:")
        return
    assert indices and indices == sorted(set(indices)) and 0 <= indices[0] <= indices[-1] < 12
