"""Values read from config files and run files, checked before they are used."""

from __future__ import annotations


def is_integer_at_least(value, low: int) -> bool:
    """Whether a value read from a config is an integer >= low (JSON's true is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low
