"""Every dev set in two parts, by a rule anyone can repeat: `select` and `report`.

A score is a claim about data the model has not been fitted to. Choosing the best checkpoint,
stopping early, or keeping an option because it scored higher all fit the model to the data
they look at, so a dev score chosen that way is optimistic. Hence two parts:

    select   read during training: checkpoint choice (RUN/best), early stopping, every
             decision about options; what metrics.jsonl's evaluations show
    report   read by nothing while choosing: scored once the run is over, for RUN/best and
             for the final weights, and by `train.py evaluate`; the number to publish

An example's part is a function of its input text alone, so it is the same in every run, on
every machine, for every task that shares the text, and two copies of a sentence (or one
sentence with two labels) never end up on both sides:

    part = report  if the first byte of SHA-256(text as UTF-8) is odd, else select

where the text is the sentence, the words joined by single spaces (token tasks), or the two
sentences joined by a tab (pairs). About half of each dev set lands in each part.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

from .readers import Example, PairExample, TokenExample

SELECT, REPORT = "select", "report"
PARTS = (SELECT, REPORT)


def input_text(example: Example) -> str:
    """What the part is decided by: the example's input, never its label."""
    if isinstance(example, TokenExample):
        return " ".join(example.tokens)
    if isinstance(example, PairExample):
        return f"{example.text_a}\t{example.text_b}"
    return example.text


def part_of(example: Example) -> str:
    digest = hashlib.sha256(input_text(example).encode("utf-8", "surrogatepass")).digest()
    return REPORT if digest[0] % 2 else SELECT


def split_parts(examples: Sequence[Example]) -> dict[str, list[Example]]:
    """{"select": [...], "report": [...]}, each in the file's order."""
    parts: dict[str, list[Example]] = {SELECT: [], REPORT: []}
    for example in examples:
        parts[part_of(example)].append(example)
    return parts
