"""The component checks of `python -m minitransformer.check`: our own implementation passes
every one, each deliberately broken version fails with the message for its mistake, and the
exercise skeletons fail with "not implemented yet"."""

from pathlib import Path

import broken_components as broken
import pytest

from minitransformer.check import load_object, main
from minitransformer.checks import COMPONENT_MODULES, get_component
from minitransformer.checks.core import run_component
from minitransformer.checks.positional import formula, formula_fast
from minitransformer.loading import minilm_directory

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"


def first_failure(component: str, candidate) -> str:
    outcomes = run_component(get_component(component), candidate)
    failures = [outcome for outcome in outcomes if outcome.status == "FAIL"]
    assert failures, f"{component}: every check passed"
    return failures[0].detail


@pytest.mark.parametrize("name", list(COMPONENT_MODULES))
def test_our_implementation_passes_every_check(name):
    component = get_component(name)
    candidate = load_object(str(ROOT / component.ours))
    outcomes = run_component(component, candidate)
    assert [o.status for o in outcomes if o.status != "skip"] == ["ok"] * sum(
        o.status != "skip" for o in outcomes), [(o.title, o.detail) for o in outcomes]
    assert len(outcomes) == len(component.checks)
    skipped = [o for o in outcomes if o.status == "skip"]
    assert all("MiniLM" in o.title for o in skipped)  # only the pretrained check may skip
    if minilm_directory() is not None:
        assert not skipped


def test_an_unbroken_learner_version_passes_too():
    """The broken versions below differ from these only by their mistake."""
    for component, candidate in [("attention", broken.Attention),
                                 ("positional", broken.positional_table()),
                                 ("pooling", broken.mean_pooling()),
                                 ("cosent", broken.cosent_loss()),
                                 ("layer_rates", broken.parameter_groups())]:
        outcomes = run_component(get_component(component), candidate)
        assert {o.status for o in outcomes} <= {"ok", "skip"}, (component, outcomes)


BROKEN = [
    ("attention", broken.broken_attention("no scaling"),
     "scores are not divided by sqrt(d_k) = 8: the attention is 8.0x too peaked"),
    ("attention", broken.broken_attention("mask after softmax"), "the mask is added after the softmax"),
    ("attention", broken.broken_attention("mask ignored"), "padded keys receive weight 0."),
    ("attention", broken.broken_attention("heads split by view"), "heads are split or merged wrongly"),
    ("attention", broken.broken_attention("keys attend to queries"), "the scores are K Q^T"),
    ("attention", broken.broken_attention("no dropout"),
     "the output in train mode is the same twice: apply dropout to the attention weights"),
    ("positional", broken.positional_table("sin and cos swapped"),
     "positions use cos where the formula has sin at even dimensions"),
    ("positional", broken.positional_table("halves"), "the paper interleaves them"),
    ("positional", broken.positional_table("a frequency per dimension"), "share one frequency"),
    ("pooling", broken.mean_pooling("mean over padding"), "the mean includes padding"),
    ("pooling", broken.mean_pooling("no clamp"), "gives NaN (0 / 0)"),
    ("encoder_layer", broken.layer_with_flipped_norm,
     "this is a pre-norm layer, but config.norm_placement is 'post'"),
    ("encoder_layer", broken.LayerWithoutAttentionResidual,
     "the attention sub-layer has no residual connection"),
    ("encoder", broken.EncoderWithoutFinalNorm, "a pre-norm stack needs a final LayerNorm"),
    ("cosent", broken.cosent_loss("sign flipped"), "the sign is flipped"),
    ("cosent", broken.cosent_loss("no 1 +"), "the '1 +' inside the log is missing"),
    ("cosent", broken.cosent_loss("naive"), "exp overflows float32"),
    ("layer_rates", broken.parameter_groups("reversed"), "the exponent is the depth k where it should be N - k"),
    ("layer_rates", broken.parameter_groups("decay everything"),
     "encoder.embeddings.norm.weight (a LayerNorm gain) is decayed"),
    ("layer_rates", broken.parameter_groups("frozen included"), "frozen parameter encoder.embeddings"),
]


@pytest.mark.parametrize("component, candidate, message", BROKEN,
                         ids=[f"{c}: {m[:40]}" for c, _, m in BROKEN])
def test_each_broken_version_fails_with_its_message(component, candidate, message):
    assert message in first_failure(component, candidate)


def test_the_entry_by_entry_formula_equals_the_vectorised_one():
    assert (formula(40, 12) - formula_fast(40, 12)).abs().max() < 1e-12


SKELETONS = {"positional": "positional.py:SinusoidalPositionalEncoding",
             "attention": "attention.py:MultiHeadAttention", "pooling": "pooling.py:mean_pooling",
             "encoder_layer": "encoder_layer.py:EncoderLayer", "encoder": "encoder.py:Encoder",
             "cosent": "cosent.py:cosent_loss", "layer_rates": "layer_rates.py:parameter_groups"}


@pytest.mark.parametrize("component", list(SKELETONS))
def test_skeletons_say_what_is_not_written_yet(component, capsys):
    assert set(SKELETONS) == set(COMPONENT_MODULES)
    assert main([component, str(EXERCISES / SKELETONS[component])]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "not implemented yet:" in out and "raises NotImplementedError" in out


def test_bad_import_paths_are_one_line(capsys):
    assert main(["attention", "no/such/file.py:Attention"]) == 2
    assert main(["attention", str(EXERCISES / "attention.py")]) == 2
    assert main(["attention", str(EXERCISES / "attention.py:Nothing")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "error: no/such/file.py: no such file"
    assert "FILE.py:NAME" in lines[1] and "defines no 'Nothing'" in lines[2]


def test_the_command_on_our_attention(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["attention", "minitransformer/attention.py:MultiHeadAttention"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and f"all {len(get_component('attention').checks)} checks pass" in out
