"""The component checks of `python -m minitransformer.check`: our own implementation passes
every one, each deliberately broken version fails with the message for its mistake, the
exercise skeletons fail with "not implemented yet", and the commands their README and
docstrings print run as written. Input the checks cannot judge (a wrong signature, a file that
exits) ends the real command with one line `error: ...` and status 2, never a pass."""

import json
import re
import subprocess
import sys
from pathlib import Path

import broken_components as broken
import pytest

from minitransformer.check import load_object, main
from minitransformer.exercise_checks import COMPONENT_MODULES, get_component
from minitransformer.exercise_checks.core import run_component
from minitransformer.exercise_checks.positional import formula, formula_fast
from minitransformer.loading import minilm_directory

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"


def with_the_head_rule(groups_function):
    """A parameter_groups of broken_components (heads at lr, one group per parameter) with the
    exercise's rule for the heads: head_lr, else 10 x lr."""
    def groups(model, lr, weight_decay=0.01, layer_decay=1.0, head_lr=None):
        heads = {id(parameter) for parameter in model.heads.parameters()}
        rate = head_lr if head_lr is not None else 10 * lr
        return [group | {"lr": rate} if id(group["params"][0]) in heads else group
                for group in groups_function(model, lr, weight_decay, layer_decay)]
    return groups


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
                                 ("positional", broken.PositionalEncoding),
                                 ("pooling", broken.mean_pooling()),
                                 ("cosent", broken.cosent_loss()),
                                 ("layer_rates", with_the_head_rule(broken.parameter_groups()))]:
        outcomes = run_component(get_component(component), candidate)
        assert {o.status for o in outcomes} <= {"ok", "skip"}, (component, outcomes)


BROKEN = [
    ("attention", broken.broken_attention("no scaling"),
     "scores are not divided by sqrt(d_k) = 8: the attention is 8.0x too peaked"),
    ("attention", broken.broken_attention("mask after softmax"),
     "the mask is added after the softmax"),
    ("attention", broken.broken_attention("mask ignored"), "padded keys receive weight 0."),
    ("attention", broken.broken_attention("heads split by view"),
     "the heads are split wrongly"),
    ("attention", broken.broken_attention("keys attend to queries"), "the scores are K Q^T"),
    ("attention", broken.broken_attention("no dropout"),
     "in training the attention weights get no dropout"),
    ("attention", broken.broken_attention("mask on the query axis"),
     "the mask is added along the query axis: additive_mask (B, 1, 1, T) has one entry per key"),
    ("attention", broken.broken_attention("keys from the query layer"),
     "the keys are computed with self.query, where self.key belongs: k = self.key(hidden) "
     "(look at Attention.forward in broken_components.py, line"),
    ("attention", broken.broken_attention("values from the key layer"),
     "the weights are right but the output is not: the values are computed with self.key, "
     "where self.value belongs"),
    ("attention", broken.broken_attention("no output projection"),
     "changing self.output's weights does not change the output: forward never uses it"),
    ("attention", broken.broken_attention("mask inverted"), "the mask is inverted: padded keys get "
     "all the weight"),
    ("attention", broken.broken_attention("dropout in eval too"),
     "the output in eval mode changes between calls: dropout must act only in training"),
    ("positional", broken.broken_positional("plain attribute"),
     "the table is a plain attribute, self.table: PyTorch does not know it belongs to the module, "
     "so it is absent from named_buffers() and state_dict(), and .to(torch.float64)"),
    ("positional", broken.broken_positional("parameter"), "the table is an nn.Parameter (table)"),
    ("positional", broken.positional_table("computed in float32"),
     "more than the 1e-06 a float64 computation meets: the table is computed in float32, whose "
     "24-bit mantissa"),
    ("positional", broken.positional_table("exponent i / d"),
     "the exponent is i / d where the formula has 2i / d"),
    ("positional", broken.positional_table("sin and cos swapped"),
     "positions use cos where the formula has sin at even dimensions"),
    ("positional", broken.positional_table("halves"), "the paper interleaves them"),
    ("positional", broken.positional_table("a frequency per dimension"), "share one frequency"),
    ("pooling", broken.mean_pooling("mean over padding"), "the mean includes padding"),
    ("pooling", broken.mean_pooling("no clamp"), "gives NaN (0 / 0)"),
    ("pooling", broken.mean_pooling("count of shape (B,)"),
     "raised RuntimeError: The size of tensor a (4) must match the size of tensor b (2) at "
     "non-singleton dimension 1. The shapes do not broadcast: states are (B, T, d) = (2, 3, 4)"),
    ("pooling", broken.mean_pooling("changes its input"),
     "the pooling changed its inputs in place"),
    ("encoder_layer", broken.layer_with_flipped_norm,
     "this is a pre-norm layer, but config.norm_placement is 'post'"),
    ("encoder_layer", broken.LayerWithoutAttentionResidual,
     "the attention sub-layer has no residual connection"),
    ("encoder_layer", broken.LayerWithDropoutOnTheSum,
     "the attention sub-layer's dropout is on the residual sum (post-norm, LN(dropout(x + "
     "sublayer(x)))): it drops the residual path x too"),
    ("encoder_layer", broken.layer_with_relu,
     "the feed-forward uses relu, but config.activation is 'gelu'"),
    ("encoder_layer", broken.LayerWithDefaultEps,
     "attention_norm has eps 1e-05, config.layer_norm_eps is 0.001: pass "
     "eps=config.layer_norm_eps"),
    ("encoder_layer", broken.LayerWithAttentionDropoutFromDropout,
     "the attention's dropout rate is config.dropout = 0.3, not config.attention_dropout"),
    ("encoder", broken.EncoderWithoutFinalNorm, "a pre-norm stack needs a final LayerNorm"),
    ("encoder", broken.EncoderWithListOfLayers, "layers is a plain Python list"),
    ("encoder", broken.EncoderIgnoringMask, "the encoder ignores the attention mask"),
    ("cosent", broken.cosent_loss("sign flipped"), "the sign is flipped"),
    ("cosent", broken.cosent_loss("no 1 +"), "the '1 +' inside the log is missing"),
    ("cosent", broken.cosent_loss("naive"), "exp overflows float32"),
    ("cosent", broken.cosent_loss("ties counted"), "tied pairs are counted"),
    ("cosent", broken.cosent_loss("detached"),
     "the loss does not depend on the cosines through autograd"),
    ("layer_rates", with_the_head_rule(broken.parameter_groups("reversed")),
     "the exponent is the depth k where it should be N - k"),
    ("layer_rates", with_the_head_rule(broken.parameter_groups("decay everything")),
     "encoder.embeddings.norm.weight (a LayerNorm gain) is decayed"),
    ("layer_rates", with_the_head_rule(broken.parameter_groups("frozen included")),
     "frozen parameter encoder.embeddings"),
    ("layer_rates", with_the_head_rule(broken.parameter_groups("off by one")),
     "the exponent is off by one"),
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
    assert main(["attention", "minitransformer/model/attention.py:MultiHeadAttention"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and f"all {len(get_component('attention').checks)} checks pass" in out


# ---- what exercises/README.md and the skeletons tell a learner to run -------------------------

COMMAND = re.compile(r"python -m minitransformer\.check (\w+) (\S+\.py):(\w+)")


def test_every_check_command_of_the_exercises_runs_as_written():
    """Each command names a component, a file of mywork/ (the copy of exercises/) and a name
    the skeleton defines; each skeleton names its own file and says how to make the copy."""
    readme = (EXERCISES / "README.md").read_text(encoding="utf-8")
    assert "cp -r exercises mywork" in readme
    assert {(c, f"mywork/{path}") for c, path in SKELETONS.items()} == {
        (c, f"{file}:{name}") for c, file, name in COMMAND.findall(readme)[1:]}  # [0]: the example
    for skeleton in sorted(EXERCISES.glob("*.py")):
        text = skeleton.read_text(encoding="utf-8")
        assert "cp -r exercises mywork" in text, skeleton.name
        assert [(c, file) for c, file, _ in COMMAND.findall(text)] == [
            (c, f"mywork/{skeleton.name}") for c in SKELETONS
            if SKELETONS[c].startswith(skeleton.name)]
    for component, file, name in COMMAND.findall(readme):
        assert component in COMPONENT_MODULES and file.startswith("mywork/"), (component, file)
        load_object(f"{EXERCISES / Path(file).name}:{name}")  # the copy has this name


# A learner's attention, correct but for the scale: the example output of exercises/README.md.
LEARNER_ATTENTION = """\
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, hidden_size, num_heads, attention_dropout=0.0):
        super().__init__()
        self.num_heads, self.head_size = num_heads, hidden_size // num_heads
        self.attention_dropout = attention_dropout
        self.query, self.key, self.value, self.output = (
            nn.Linear(hidden_size, hidden_size) for _ in range(4))

    def forward(self, hidden, additive_mask=None, return_weights=False):
        batch, length, width = hidden.shape
        split = lambda x: x.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)
        q, k, v = split(self.query(hidden)), split(self.key(hidden)), split(self.value(hidden))
        scores = q @ k.transpose(-2, -1)  # no / sqrt(d_k)
        if additive_mask is not None:
            scores = scores + additive_mask
        weights = F.dropout(scores.softmax(-1), self.attention_dropout, training=self.training)
        output = self.output((weights @ v).transpose(1, 2).reshape(batch, length, width))
        return (output, weights) if return_weights else output
"""


def test_the_example_output_of_the_exercises_readme(tmp_path, capsys, monkeypatch):
    readme = (EXERCISES / "README.md").read_text(encoding="utf-8")
    example = re.search(r"\n    (checking attention: .*?)\n\n", readme, re.S).group(1)
    expected = [line.removeprefix("    ") for line in example.splitlines()]
    (tmp_path / "mywork").mkdir()
    (tmp_path / "mywork" / "attention.py").write_text(LEARNER_ATTENTION, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["attention", "mywork/attention.py:MultiHeadAttention"]) == 1
    assert capsys.readouterr().out.splitlines() == expected


# ---- the real command: input it cannot judge is one line `error: ...`, status 2 -------------

LEARNER_FILES = {
    "exits_on_import.py": "import sys\n\nsys.exit(0)\n\n\n"
                          "def mean_pooling(states, attention_mask):\n"
                          "    return states.mean(1)\n",
    "exits_when_called.py": "def mean_pooling(states, attention_mask):\n    exit()\n",
    "raises_system_exit.py": "from minitransformer.model.attention import MultiHeadAttention "
                             "as Ours\n\n\n"
                             "class MultiHeadAttention(Ours):\n"
                             "    def forward(self, *args, **kwargs):\n"
                             "        raise SystemExit('done')\n",
    "one_argument.py": "def mean_pooling(states):\n    return states.mean(1)\n",
    "a_class.py": "from torch import nn\n\n\nclass mean_pooling(nn.Module):\n"
                  "    def forward(self, states, attention_mask):\n        return states.mean(1)\n",
    "a_function.py": "def MultiHeadAttention(hidden_size, num_heads, attention_dropout=0.0):\n"
                     "    return None\n",
    "narrow_init.py": "from torch import nn\n\n\nclass MultiHeadAttention(nn.Module):\n"
                      "    def __init__(self, hidden_size):\n        super().__init__()\n\n"
                      "    def forward(self, hidden, additive_mask=None, return_weights=False):\n"
                      "        return hidden\n",
    "no_forward.py": "from torch import nn\n\n\nclass EncoderLayer(nn.Module):\n"
                     "    def __init__(self, config):\n        super().__init__()\n",
    "no_scale.py": "def cosent_loss(cosines, scores):\n    return (cosines - scores).sum()\n",
    "no_such_name.py": "def pooling(states, attention_mask):\n    return states.mean(1)\n",
    "a_number.py": "mean_pooling = 3\n",
}
POOLING_EXPECTS = ("the pooling check expects mean_pooling(states (B, T, d), "
                   "attention_mask (B, T)) -> (B, d)")
COMMAND_CASES = {  # name: (component, FILE:NAME, words the one line must hold)
    "exit at import": ("pooling", "exits_on_import.py:mean_pooling",
                       ["exits_on_import.py, line 3: exits while being imported "
                        "(SystemExit with code 0",
                        "the checks stop without a verdict", 'if __name__ == "__main__":']),
    "exit() in the function": ("pooling", "exits_when_called.py:mean_pooling",
                               ["exits_when_called.py, line 2: exits while the check "
                                "'no padding: the plain mean' ran it (SystemExit with code None"]),
    "SystemExit in forward": ("attention", "raises_system_exit.py:MultiHeadAttention",
                              ["raises_system_exit.py, line 6: exits while the check",
                               "code 'done'"]),
    "an argument too few": ("pooling", "one_argument.py:mean_pooling",
                            ["mean_pooling(states) cannot be called with 2 arguments (too many "
                             "positional arguments)", POOLING_EXPECTS]),
    "a class for a function": ("pooling", "a_class.py:mean_pooling",
                               ["a_class.py:mean_pooling: is a class; the check calls a function",
                                POOLING_EXPECTS]),
    "a function for a class": ("attention", "a_function.py:MultiHeadAttention",
                               ["is a function; the check builds a class (an nn.Module)",
                                "expects a class MultiHeadAttention(hidden_size, num_heads, "
                                "attention_dropout=0.0)"]),
    "__init__ too narrow": ("attention", "narrow_init.py:MultiHeadAttention",
                            ["MultiHeadAttention(hidden_size) cannot be called with 3 arguments"]),
    "no forward": ("encoder_layer", "no_forward.py:EncoderLayer",
                   ["no_forward.py:EncoderLayer: has no forward method",
                    "expects a class EncoderLayer(config) with forward(x (B, T, d)"]),
    "no scale keyword": ("cosent", "no_scale.py:cosent_loss",
                         ["cosent_loss(cosines, scores) cannot be called with 2 arguments and the "
                          "keyword scale",
                          "expects cosent_loss(cosines (B,), scores (B,), scale=20.0)"]),
    "a missing name": ("pooling", "no_such_name.py:mean_pooling",
                       ["defines no 'mean_pooling' (it has: pooling)", POOLING_EXPECTS]),
    "not callable": ("pooling", "a_number.py:mean_pooling",
                     ["is int 3, not a function or a class"]),
}


@pytest.fixture(scope="module")
def command_outcomes(tmp_path_factory):
    """Every case through `python -m minitransformer.check`, each in a process of its own (forked
    by tests/command_runner.py), and our own cosent, which must pass:
    {case: {returncode, stderr}}."""
    folder = tmp_path_factory.mktemp("learner")
    for name, text in LEARNER_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    cases = {case: ["-m", "minitransformer.check", component, f"{folder / path}"]
             for case, (component, path, _) in COMMAND_CASES.items()}
    cases["ours"] = ["-m", "minitransformer.check", "cosent",
                     "minitransformer/tasks/heads.py:SimilarityObjective"]
    runner = subprocess.run([sys.executable, str(ROOT / "tests" / "command_runner.py")],
                            input=json.dumps(list(cases.values())), cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert runner.returncode == 0, runner.stderr
    return dict(zip(cases, json.loads(runner.stdout)))


@pytest.mark.parametrize("case", list(COMMAND_CASES))
def test_the_command_never_passes_what_it_cannot_check(case, command_outcomes):
    result = command_outcomes[case]
    assert "Traceback" not in result["stderr"], result["stderr"]
    assert result["returncode"] == 2, (result["returncode"], result["stderr"])
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result["stderr"]
    for words in COMMAND_CASES[case][2]:
        assert words in lines[0], (words, lines[0])


def test_the_command_passes_ours(command_outcomes):
    assert command_outcomes["ours"] == {"returncode": 0, "stderr": ""}
