"""The package's layers: each module imports only modules of lower layers, so there are no
cycles and a reader can go bottom-up. A new module must be given its layer here."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "minitransformer"

# Bottom to top.
LAYERS = [
    {"__init__", "errors", "distributed"},
    {"config", "metrics", "safetensors_io", "tokenizer", "readers", "pooling", "positional",
     "attention", "samplers", "weighting", "optim", "freezing", "cli", "progress", "devices",
     "masking",
     "similarity"},
    {"encoder", "kinds", "options"},  # the model's body; task kinds; training options
    {"packed", "data"},
    {"quantize"},  # int8 copies of an encoder, calibrated through the packed path
    {"sentence", "heads"},
    {"pretrained", "evaluation"},
    {"checkpoint"},
    {"loading", "trainer"},
    {"checks"},  # the subpackage of component checks (one layer for all its files)
    {"runs", "record", "evaluate", "plot", "inspect", "check", "export"},  # a run and its record; the commands
]
SUBPACKAGES = {"checks"}  # their files import the package's modules with `from ..module import`


def package_files() -> list[tuple[str, Path]]:
    """(layer name, file) for every module: a subpackage's files all carry its name."""
    files = [(path.stem, path) for path in sorted(PACKAGE.glob("*.py"))]
    return files + [(name, path) for name in sorted(SUBPACKAGES)
                    for path in sorted((PACKAGE / name).glob("*.py"))]


def imported_modules(path: Path) -> set[str]:
    """The package modules a file imports (relative imports, also those inside functions);
    for a subpackage's file, its imports from the package above (`from ..module import`)."""
    level = 2 if path.parent != PACKAGE else 1
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == level:
            names.update([node.module.split(".")[0]] if node.module else
                         [alias.name for alias in node.names])
    return names


def test_every_module_has_a_layer():
    placed = set().union(*LAYERS)
    modules = {name for name, _ in package_files()}
    assert modules - placed == set(), "give these modules a layer"
    assert placed - modules == set(), "these modules no longer exist"


def test_modules_import_only_from_lower_layers():
    layer_of = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    upward = [f"{path.name} (layer {layer_of[module]}) imports {name} (layer {layer_of[name]})"
              for module, path in package_files() for name in sorted(imported_modules(path))
              if layer_of[name] >= layer_of[module]]
    assert upward == []
