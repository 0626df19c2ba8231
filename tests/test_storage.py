"""The mechanisms with one home each: atomic writes, directory formats, derived seeds, depth."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import make_encoder

from minitransformer.errors import InputError
from minitransformer.loading import load_model
from minitransformer.model.config import EncoderConfig
from minitransformer.model.encoder import Encoder
from minitransformer.sentence import SentenceEncoder
from minitransformer.storage.atomic import atomic_directory, atomic_file, write_json
from minitransformer.storage.formats import Format, identify
from minitransformer.storage.safetensors_io import build_to_fit, write_safetensors
from minitransformer.storage.skeleton import build_for_loading, build_skeleton
from minitransformer.training import seeds as seeds_module
from minitransformer.training.seeds import derive_seed


class Boom(Exception):
    pass


def test_atomic_file_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out" / "values.json"
    write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    with pytest.raises(Boom):
        with atomic_file(target) as temporary:
            temporary.write_text("{half")
            raise Boom
    assert json.loads(target.read_text()) == {"a": 1}  # the old content, untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["values.json"]  # no temporary
    with atomic_file(target) as temporary:
        assert temporary.suffix == ".json" and temporary.parent == target.parent
        temporary.write_text('{"b": 2}')
    assert json.loads(target.read_text()) == {"b": 2}


def test_atomic_directory_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "best"
    with atomic_directory(target) as temporary:
        (temporary / "weights").write_text("old")
    with pytest.raises(Boom):
        with atomic_directory(target) as temporary:
            (temporary / "weights").write_text("new, half written")
            raise Boom
    assert (target / "weights").read_text() == "old"
    with atomic_directory(target) as temporary:
        (temporary / "weights").write_text("new")
    assert (target / "weights").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["best"]  # no .tmp or .old left behind


def bert_config(directory, **extra):
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"model_type": "bert", **extra}))
    return directory


def test_identify_tells_every_format_apart(tmp_path, tokenizer):
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(tmp_path / "saved")
    assert identify(tmp_path / "saved").format is Format.SENTENCE_ENCODER
    bert = bert_config(tmp_path / "bert")
    assert identify(bert).format is Format.BERT and not identify(bert).has_heads
    exported = bert_config(tmp_path / "exported")
    (exported / "heads").mkdir()
    (exported / "heads" / "config.json").write_text("{}")
    assert identify(exported).format is Format.EXPORTED_RUN and identify(exported).has_heads
    checkpoint = tmp_path / "run" / "best"
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text(json.dumps({"format": "minitransformer.Checkpoint"}))
    found = identify(tmp_path / "run")  # a run stands for its best checkpoint
    assert (found.format, found.path, found.run) == (
        Format.CHECKPOINT, checkpoint, tmp_path / "run")


@pytest.mark.parametrize("case, words", [
    ("missing", "no such directory"), ("a file", "is a file"), ("empty", "holds no config.json"),
    ("other format", "neither a minitransformer model nor a BERT")])
def test_identify_names_the_problem(tmp_path, case, words):
    path = tmp_path / "x"
    if case == "a file":
        path.write_text("")
    elif case != "missing":
        path.mkdir()
    if case == "other format":
        (path / "config.json").write_text(json.dumps({"format": "someone.Else"}))
    with pytest.raises(InputError, match=words):
        identify(path)


def test_saving_a_model_never_deletes_a_persons_files(tmp_path, tokenizer):
    model = SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("years of work")
    with pytest.raises(InputError, match="not a saved model"):
        model.save(notes)
    assert (notes / "thesis.txt").read_text() == "years of work"
    model.save(tmp_path / "model")
    model.save(tmp_path / "model")  # a saved model is replaced
    assert load_model(tmp_path / "model").encoder.config == model.encoder.config


def test_derived_seeds_are_stable_and_independent():
    assert derive_seed(0, "head", "topic") == derive_seed(0, "head", "topic")
    seeds = {derive_seed(seed, purpose, part) for seed in (0, 1)
             for purpose in ("head", "dropout") for part in ("topic", 1, 2)}
    assert len(seeds) == 12 and all(0 <= s < 2 ** 63 for s in seeds)
    # Python's own hash() is salted per process; ours must not be. The other process loads
    # seeds.py alone (the package would import torch: a second and a half for nothing).
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('seeds', "
            "sys.argv[1]); seeds = importlib.util.module_from_spec(spec); "
            "spec.loader.exec_module(seeds); print(seeds.derive_seed(7, 'x', 3))")
    other_process = subprocess.run([sys.executable, "-c", code, seeds_module.__file__],
                                   capture_output=True, text=True, check=True).stdout.strip()
    assert int(other_process) == derive_seed(7, "x", 3)


@pytest.mark.parametrize("norm_placement", ["post", "pre"])
def test_depth_is_defined_on_the_encoder(norm_placement):
    encoder = make_encoder(50, num_layers=3, norm_placement=norm_placement)
    depths = encoder.parameter_depths()
    assert set(depths) == {name for name, _ in encoder.named_parameters()}  # every parameter
    for name, depth in depths.items():
        expected = 0 if name.startswith("embeddings.") else \
            int(name.split(".")[1]) + 1 if name.startswith("layers.") else 3  # final_norm: on top
        assert depth == expected, name
    assert any(name.startswith("final_norm") for name in depths) == (norm_placement == "pre")


def test_a_skeleton_has_the_shapes_but_no_memory_and_no_random_fills(monkeypatch):
    config = EncoderConfig.preset("tiny", vocab_size=50, positional="sinusoidal")
    real = Encoder(config)
    skeleton = build_skeleton(lambda: Encoder(config))
    assert {name: (t.shape, t.dtype) for name, t in skeleton.state_dict().items()} == \
        {name: (t.shape, t.dtype) for name, t in real.state_dict().items()}
    assert all(t.device.type == "meta" for t in skeleton.state_dict().values())

    def no_fill(*args, **kwargs):
        raise AssertionError("a random fill ran")

    # On meta tensors the fills run PyTorch's Python reference kernels, whose first use imports
    # torch._dynamo (1.6 s): the skeleton must not reach them; a plain meta build does.
    monkeypatch.setattr(torch.Tensor, "normal_", no_fill)
    monkeypatch.setattr(torch.Tensor, "uniform_", no_fill)
    monkeypatch.setattr(torch, "sin", no_fill)  # nor is the sinusoidal table computed
    build_skeleton(lambda: Encoder(config))
    with pytest.raises(AssertionError, match="a random fill ran"), torch.device("meta"):
        Encoder(config)


def test_a_module_built_for_loading_skips_the_fills_and_loads_every_value(monkeypatch, tmp_path):
    config = EncoderConfig.preset("tiny", vocab_size=50, positional="sinusoidal")
    source = Encoder(config)
    path = tmp_path / "encoder.safetensors"
    write_safetensors(path, source.state_dict())

    def no_fill(*args, **kwargs):
        raise AssertionError("a random fill ran")

    with monkeypatch.context() as patched:
        patched.setattr(torch.Tensor, "normal_", no_fill)
        patched.setattr(torch.Tensor, "uniform_", no_fill)
        built = build_for_loading(lambda: Encoder(config))
        with pytest.raises(AssertionError, match="a random fill ran"):
            Encoder(config)
    # The sinusoidal table is computed, not loaded (it is not in the state dict): it must be
    # the real one, and everything loaded must equal the source.
    assert torch.equal(built.embeddings.position.table, source.embeddings.position.table)
    loaded = build_to_fit(lambda: Encoder(config), path)
    for name, tensor in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
