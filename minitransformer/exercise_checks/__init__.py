"""Component checks: the project's own tests of its building blocks, runnable on a learner's
version of each block (`python -m minitransformer.check COMPONENT FILE.py:NAME`).

One module per component; each holds a `COMPONENT` with its checks in order. tests/test_checks.py
runs every component on our implementation and on deliberately broken versions.
"""

from __future__ import annotations

import importlib

# In the order of exercises/README.md: each builds on the ones before.
COMPONENT_MODULES = {
    "positional": "positional",
    "attention": "attention",
    "pooling": "pooling",
    "encoder_layer": "encoder_layer",
    "encoder": "encoder",
    "cosent": "cosent",
    "layer_rates": "layer_rates",
}


def get_component(name: str):
    """The Component of that name (its module is imported only when asked for)."""
    return importlib.import_module(f"{__name__}.{COMPONENT_MODULES[name]}").COMPONENT
