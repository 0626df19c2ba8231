"""Read task data from disk into plain example objects, with errors that name the file and line.

Five formats, picked by the file's extension:

* `.jsonl`         one JSON object per line: `{"text": ..., "label": ...}`
* `.csv`, `.tsv`   a header row gives the field names, then one example per row
* `.conll`         one `token<TAB>tag` per line, a blank line between sentences
* `.txt`           one text per non-blank line (masked-language modelling)

and four kinds of example (which task kind reads which is said in kinds.py):

* `SentenceExample(text, label)`             sentence classification
* `TokenExample(tokens, tags)`               token classification (one tag per pre-split word)
* `PairExample(text_a, text_b, score)`       sentence similarity (a gold score such as STS-B's 0-5)
* `TextExample(text)`                        masked-language modelling (no label: the text is it)

Every example remembers the line it came from, so that problems found later (an unknown label in
the dev file, say) can still point at the exact place. Bad data never passes silently: a missing
file, a malformed line, a missing field, an empty file, a file that is not UTF-8, a JSON line that
json.loads refuses in any way or that holds half a surrogate pair
("\\ud800", storage/text.parse_json), or a score that is not a number all raise `DataError` with
"<file>, line <n>: <what is wrong>".
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Union

from ..errors import FileError
from ..storage.lines import split_lines
from ..storage.text import JSONProblem, parse_json, read_text

DataError = FileError  # a problem at a place in a data file: the file and, when known, the line


# compare=False on `line`: two examples with the same content are equal wherever they came from,
# so hand-made examples (line 0) compare equal to the ones read from a file.
@dataclass
class SentenceExample:
    text: str
    label: str  # labels are strings; a JSON integer label 3 becomes "3", as it would from a CSV
    line: int = field(default=0, compare=False)


@dataclass
class TokenExample:
    tokens: list[str]  # the words, as split in the file
    tags: list[str]  # one tag per word, e.g. BIO tags "B-PER", "I-PER", "O"
    line: int = field(default=0, compare=False)  # the line of the first word; word i is on line + i


@dataclass
class PairExample:
    text_a: str
    text_b: str
    score: float
    line: int = field(default=0, compare=False)


@dataclass
class TextExample:
    text: str  # plain text, no label: what masked-language modelling learns from
    line: int = field(default=0, compare=False)


Example = Union[SentenceExample, TokenExample, PairExample, TextExample]


# ---- raw text -----------------------------------------------------------------------------------
def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, line) pairs: storage/lines.py says where a line ends (at '\\n'
    only; U+2028 or U+0085 may legally sit unescaped inside a JSON string or a token)."""
    return enumerate(split_lines(text), start=1)


def read_text_lines(path: str | Path) -> list[TextExample]:
    """A plain .txt file: one text per non-blank line (a sentence or a paragraph)."""
    return [TextExample(line.strip(), number) for number, line in _lines(read_text(path))
            if line.strip()]


# ---- record formats: JSON lines, CSV, TSV -------------------------------------------------------
def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) for every non-blank line of a JSON lines file."""
    for number, line in _lines(read_text(path)):
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except JSONProblem as error:
            raise DataError(path, number, str(error)) from None
        if not isinstance(record, dict):
            raise DataError(path, number, f"expected a JSON object, got {type(record).__name__}")
        yield number, record


def read_delimited(path: str | Path, delimiter: str = ",") -> Iterator[tuple[int, dict]]:
    """(line number, record) for every row of a CSV (delimiter ',') or TSV ('\\t') file.

    The first row is the header and gives the field names. CSV follows the usual quoting rules
    ("a, b" is one field). TSV has no quoting: a tab always separates fields and a quote mark is
    just a character, as in the GLUE files, where sentences contain unbalanced quotes.
    """
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    # The csv module is handed our lines (each with its "\n", so that a quoted field may span
    # lines): left to itself, it would also end a row at a lone "\r" inside a sentence.
    lines = (line + "\n" for line in split_lines(read_text(path)))
    reader = csv.reader(lines, delimiter=delimiter, quoting=quoting, strict=True)
    header = None
    first_line = 1  # reader.line_num is where a row *ends*; we report where it starts
    try:
        for row in reader:
            number, first_line = first_line, reader.line_num + 1
            if not row:  # a blank line
                continue
            if header is None:
                header = row
                duplicates = sorted({name for name in header if header.count(name) > 1})
                if duplicates:
                    raise DataError(path, number, f"duplicate column(s) in the header: "
                                                  f"{', '.join(map(repr, duplicates))}")
                continue
            if len(row) != len(header):
                raise DataError(path, number, f"expected {len(header)} fields (as in the "
                                              f"header), got {len(row)}")
            yield number, dict(zip(header, row))
    except csv.Error as error:
        if "new-line character" in str(error):  # the module's words for a "\r" in a field
            raise DataError(path, first_line, "a carriage return (\\r) inside a field that is "
                                              "not quoted; lines end at \\n only") from None
        raise DataError(path, first_line, f"malformed row ({error})") from None


# ---- CoNLL --------------------------------------------------------------------------------------
def read_conll(path: str | Path) -> list[TokenExample]:
    """Sentences of a CoNLL file: `token<TAB>tag` per line, a blank line ends a sentence."""
    sentences: list[TokenExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for number, line in _lines(read_text(path)):
        if not line.strip():
            if tokens:
                sentences.append(TokenExample(tokens, tags, start))
                tokens, tags = [], []
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(path, number, f"expected 'token<TAB>tag', got {len(fields)} "
                                          f"tab-separated field(s): {line!r:.80}")
        token, tag = fields
        if not token.strip() or not tag.strip():
            raise DataError(path, number, f"empty token or tag: {line!r:.80}")
        if not tokens:
            start = number
        tokens.append(token)
        tags.append(tag)
    if tokens:  # the last sentence need not be followed by a blank line
        sentences.append(TokenExample(tokens, tags, start))
    return sentences


# ---- records -------------------------------------------------------------------------------------
RECORD_FORMATS = (".jsonl", ".csv", ".tsv")


def read_records(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) for each example of a .jsonl, .csv or .tsv file."""
    suffix = Path(path).suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix in (".csv", ".tsv"):
        return read_delimited(path, "\t" if suffix == ".tsv" else ",")
    raise DataError(path, None, f"record files are {' / '.join(RECORD_FORMATS)}, not "
                                f"{suffix or 'files without an extension'}")


# Each check below names the file, the line and the field, and says what the value should be.
def get_field(path, number: int, record: dict, name: str):
    if name not in record:
        raise DataError(path, number, f"missing field {name!r} (the record has: "
                                      f"{', '.join(map(repr, record)) or 'no fields'})")
    return record[name]


def get_text(path, number: int, record: dict, name: str) -> str:
    value = get_field(path, number, record, name)
    if not isinstance(value, str):
        raise DataError(path, number, f"field {name!r} must be a string, got {value!r:.60}")
    return value


def get_label(path, number: int, record: dict, name: str) -> str:
    value = get_field(path, number, record, name)
    # bool is a subclass of int, but true/false as a class name is almost surely a mistake.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(path, number, f"label {name!r} must be a string or an integer, got "
                                      f"{value!r:.60}")
    if value == "":
        raise DataError(path, number, f"empty label in field {name!r}")
    return str(value)


def get_score(path, number: int, record: dict, name: str) -> float:
    value = get_field(path, number, record, name)
    # A JSON number arrives as int/float, a CSV cell as a string that should parse as one.
    try:
        if isinstance(value, bool):
            raise TypeError
        score = float(value)
    except (TypeError, ValueError):
        raise DataError(path, number, f"score {name!r} is not a number: {value!r:.60}") from None
    if not math.isfinite(score):
        raise DataError(path, number, f"score {name!r} is not a finite number: {value!r}")
    return score
