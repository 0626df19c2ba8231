"""Lines of text, as a person counts them: the one place that splits text into lines.

A line ends at "\\n" (a "\\r" just before it, from a file written on Windows, is dropped), and
nowhere else. Not `str.splitlines()`, nor iterating over a file opened in text mode: those also
end a line at characters that may sit inside a sentence or a JSON string, and a file of 3 lines
would become more rows than it has lines, out of step with their numbers:

    str.splitlines()   also ends a line at \\r, \\v (U+000B), \\f (U+000C), U+001C-U+001E,
                       U+0085, U+2028 and U+2029
    open(path)         also at a lone \\r (universal newlines)

Every reader of text line by line (embed.py's sentences, the task files of tasks/readers.py)
goes through `split_lines`.
"""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """The lines of `text`, without their ends. A final "\\n" ends the last line and starts
    no new one: "a\\nb\\n" and "a\\nb" both hold the 2 lines "a" and "b"; "" holds none."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
