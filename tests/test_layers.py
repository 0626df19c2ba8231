"""The package's layers: each module imports only modules of lower layers, so there are no
cycles and a reader can go bottom-up (docs/architecture.md draws them). Modules are named
relative to the package: `encoder`, `tasks.heads`, `training.trainer`. A new module must be
given its layer here."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "minitransformer"

# Bottom to top. The folders are what a reader sees; the layers are what the imports obey.
LAYERS = [
    {"errors", "training.callbacks.base", "training.state",
     "tasks.__init__", "training.__init__", "storage.__init__",
     "model.__init__", "fast.__init__", "explorer.__init__",  # subpackage markers: empty
     "storage.lines"},
    {"storage.text", "values"},  # reading files people hand us; checked values
    {"storage.atomic", "storage.formats", "storage.pickles", "storage.skeleton", "training.seeds",
     "training.memory", "fast.dropout", "environment"},  # one home for each mechanism
    {"training.distributed"},  # torchrun's processes, from the environment
    {"model.config", "tasks.metrics", "storage.safetensors_io", "model.tokenizer",
     "tasks.readers", "model.pooling", "model.positional", "model.attention", "tasks.samplers",
     "training.weighting", "training.optimizer", "cli", "training.progress", "devices",
     "tasks.masking", "similarity", "training.gradient_surgery", "training.step_scaling"},
    {"model.encoder", "tasks.kinds", "training.options"},  # the model's body; task kinds; options
    {"tasks.dev_split"},  # every dev set in a select and a report part
    {"fast.packed", "tasks.data", "training.freezing"},
    {"fast.quantize"},  # int8 copies of an encoder, calibrated through the packed path
    {"sentence", "tasks.heads"},
    {"bert_format", "tasks.scoring", "training.distillation"},
    {"training.saving", "loading"},  # loading: any model name -> a model, no training code
    {"training.best_and_last", "training.callbacks.heap_trim",
     "training.callbacks.padding_count", "training.callbacks.training_log",
     "training.callbacks.dev_evaluation", "training.callbacks.unfreezing",
     "training.callbacks.weight_averaging"},
    {"training.callbacks.checkpoint_saving"},
    {"training.callbacks.finite_loss"},
    {"training.callbacks.__init__"},  # the loop's collaborators, one event-driven file each
    {"training.trainer"},
    {"exercise_checks", "training.record"},  # checks: the learner's component checks, one layer
    {"training.run_config"},  # flags + config file -> RunConfig
    {"training.start", "training.teacher_stage"},  # where the encoder starts; its teachers
    {"explorer.page"},  # the attention explorer page, which inspect writes
    {"training.runs", "evaluate", "plot", "inspect", "check", "export"},  # a run; the commands
    {"__init__"},  # the few names a user starts from, re-exported
]
# Subpackages whose files share one layer (imports among them are free).
GROUPED = {"exercise_checks"}


def module_name(path: Path) -> str:
    """`tasks/heads.py` -> 'tasks.heads'; a grouped subpackage's files -> its name."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0] if parts[0] in GROUPED else ".".join(parts)


def package_files() -> list[tuple[str, Path]]:
    return [(module_name(path), path) for path in sorted(PACKAGE.rglob("*.py"))]


def imported_modules(path: Path) -> set[str]:
    """The package modules a file imports with relative imports (also inside functions), named
    as in LAYERS; imports inside a grouped subpackage are left out."""
    folder = path.relative_to(PACKAGE).parent.parts  # () at the top, ('tasks',) below
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        base = list(folder[:len(folder) - (node.level - 1)])
        targets = ([node.module] if node.module else [alias.name for alias in node.names])
        for target in targets:
            parts = base + target.split(".")
            if parts[0] in GROUPED:
                if folder[:1] != (parts[0],):
                    names.add(parts[0])
                continue
            if (PACKAGE.joinpath(*parts)).is_dir():  # a subpackage itself: its __init__
                parts = parts + ["__init__"]
            names.add(".".join(parts))
    return names


def test_every_module_has_a_layer():
    placed = set().union(*LAYERS)
    modules = {name for name, _ in package_files()}
    assert modules - placed == set(), "give these modules a layer"
    assert placed - modules == set(), "these modules no longer exist"


def test_modules_import_only_from_lower_layers():
    layer_of = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    upward = [f"{path.relative_to(PACKAGE)} (layer {layer_of[module]}) imports {name} "
              f"(layer {layer_of.get(name)})"
              for module, path in package_files() for name in sorted(imported_modules(path))
              if name not in layer_of or layer_of[name] >= layer_of[module]]
    assert upward == []


def test_the_transformer_is_one_folder_and_the_listing_shows_it():
    """What a learner reads first is the folder model/, six files and nothing else; the top of
    the package holds no machinery that a folder of its own could hold."""
    model = sorted(path.name for path in (PACKAGE / "model").glob("*.py"))
    assert model == ["__init__.py", "attention.py", "config.py", "encoder.py", "pooling.py",
                     "positional.py", "tokenizer.py"]
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    commands = ["check.py", "evaluate.py", "export.py", "inspect.py", "plot.py"]  # python -m
    using = ["__init__.py", "loading.py", "sentence.py", "similarity.py"]
    support = ["bert_format.py", "cli.py", "devices.py", "environment.py", "errors.py",
               "values.py"]
    assert top == sorted(commands + using + support)
