"""The package's layers: each module imports only modules of lower layers, so there are no
cycles and a reader can go bottom-up. A new module must be given its layer here."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "minitransformer"

# Bottom to top.
LAYERS = [
    {"__init__", "errors", "distributed"},
    {"config", "metrics", "safetensors_io", "tokenizer", "readers", "pooling", "positional",
     "attention", "samplers", "weighting", "optim", "freezing", "cli", "progress"},
    {"encoder", "kinds", "options"},  # the model's body; task kinds; training options
    {"packed", "data"},
    {"sentence", "heads"},
    {"pretrained", "evaluation"},
    {"checkpoint"},
    {"loading", "trainer"},
    {"runs", "record", "evaluate", "plot", "inspect"},  # a run and its record; the commands
]


def imported_modules(path: Path) -> set[str]:
    """The package modules a file imports (relative imports, also those inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module.split(".")[0]] if node.module else
                         [alias.name for alias in node.names])
    return names


def test_every_module_has_a_layer():
    placed = set().union(*LAYERS)
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    assert modules - placed == set(), "give these modules a layer"
    assert placed - modules == set(), "these modules no longer exist"


def test_modules_import_only_from_lower_layers():
    layer_of = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    upward = [f"{path.stem} (layer {layer_of[path.stem]}) imports {name} (layer {layer_of[name]})"
              for path in sorted(PACKAGE.glob("*.py")) for name in sorted(imported_modules(path))
              if layer_of[name] >= layer_of[path.stem]]
    assert upward == []
