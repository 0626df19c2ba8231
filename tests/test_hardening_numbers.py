"""Numbers at the edges, loops that must end, and input that must not pass without a word
(issue 50, kinds 5, 6 and 7).

* Every number read from text goes through values.parse_int / parse_float: ASCII digits,
  finite, within bounds. Fuzzed (derandomized): any string parses to an in-bounds number or
  raises InputError, never anything else.
* Every loop whose end depends on data or sampling ends within a bound (a test per loop).
* Bad input through the commands, run in-process through their main(argv): exit status 2,
  exactly one line `error: ...` naming the flag or file, no traceback, no file changed.
"""

import hashlib
import json
import math
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import make_encoder

from minitransformer import evaluate as evaluate_command
from minitransformer import inspect as inspect_command
from minitransformer.cli import check_writable
from minitransformer.errors import InputError
from minitransformer.sentence import SentenceEncoder
from minitransformer.storage.text import parse_json, read_json
from minitransformer.tasks import samplers
from minitransformer.tasks.heads import MultiTaskModel, SentenceClassificationHead
from minitransformer.tasks.samplers import (
    RoundRobinSampler,
    TemperatureSampler,
    draw_different,
    make_sampler,
)
from minitransformer.training.freezing import GradualUnfreezing, apply_freezing
from minitransformer.training.options import TrainingOptions, check_run_options
from minitransformer.training.run_config import parse_interval
from minitransformer.values import parse_float, parse_int

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402

# ---- the one number parser ------------------------------------------------------------------
DIGITS_NOT_ASCII = ["３", "²", "٣", "१", "߃", "１２", "3²", "Ⅳ", "½", "𝟑"]


@pytest.mark.parametrize("text, expected", [("3", 3), (" 42 ", 42), ("+7", 7), ("-2", -2),
                                            ("007", 7), ("0", 0)])
def test_integers_in_ascii_digits_are_read(text, expected):
    number = parse_int(text, "--n", -10, 100)
    assert number == expected and type(number) is int


@pytest.mark.parametrize("text", DIGITS_NOT_ASCII)
def test_digits_that_are_not_ascii_are_refused_with_a_hint(text):
    with pytest.raises(InputError, match="--n must be an integer .* ASCII digits 0-9"):
        parse_int(text, "--n", 0, 100)
    with pytest.raises(InputError, match="ASCII digits 0-9"):
        parse_float(text, "--x")


@pytest.mark.parametrize("text", ["", " ", "1_000", "0x10", "1e3", "1.0", "- 1", "1 2", "one",
                                  "\u20073", "3\u00a0", "∞", "1" * 65])
def test_what_python_s_int_takes_or_a_user_mistypes_is_no_integer(text):
    with pytest.raises(InputError, match="--n must be an integer from 0 to 100, got"):
        parse_int(text, "--n", 0, 100)


def test_integer_bounds_are_checked_on_the_number_read():
    assert parse_int("100", "--n", 0, 100) == 100
    for text in ("101", "-1", "9" * 64):
        with pytest.raises(InputError, match="from 0 to 100"):
            parse_int(text, "--n", 0, 100)


@pytest.mark.parametrize("text, expected", [("0.5", 0.5), ("5e-5", 5e-5), (".5", 0.5),
                                            ("2.", 2.0), ("-1E2", -100.0), (" 3 ", 3.0)])
def test_decimal_numbers_are_read(text, expected):
    assert parse_float(text, "--x") == expected


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "Infinity", "1e999", "0x1p3", "1_0.5",
                                  "1e", "e5", ".", "1..2", "", "1,5"])
def test_no_float_that_is_not_finite_decimal_text(text):
    with pytest.raises(InputError, match="--x must be a number"):
        parse_float(text, "--x")


def test_float_bounds_open_and_closed():
    assert parse_float("0", "--x", 0) == 0.0
    with pytest.raises(InputError, match="a number > 0 and <= 10"):
        parse_float("0", "--x", 0, 10, low_open=True)
    with pytest.raises(InputError, match="> 0"):
        parse_float("1e-400", "--x", 0, low_open=True)  # rounds to 0
    with pytest.raises(InputError, match="<= 10"):
        parse_float("10.000001", "--x", 0, 10)


# ---- loops end ------------------------------------------------------------------------------
def draws_made(seed: int, sampler: TemperatureSampler, most: int) -> int:
    """How many numbers the sampler's generator has drawn since it was seeded with `seed`."""
    replay = np.random.default_rng(seed)
    for count in range(most + 1):
        if replay.bit_generator.state == sampler.rng.bit_generator.state:
            return count
        replay.random()
    raise AssertionError(f"more than {most} draws")


@pytest.mark.parametrize("temperature", [0.01, 1e-3, 1e-300])
def test_drawing_k_different_tasks_ends_even_when_one_almost_never_comes_up(temperature,
                                                                          monkeypatch):
    """T = 0.01 and sizes 1000 : 1 give the small task p = 1e-300 (T = 1e-3: exactly 0 in
    floats): drawing until it comes up would never end. Each step ends, after at most
    1 + (k - 1) * (REDRAWS + 1) draws."""
    sizes = {"big": 1000, "small": 1, "mid": 30}
    with ends_within(10):
        sampler = TemperatureSampler(sizes, temperature, seed=1)
        for k in (2, 3):
            for _ in range(2):
                names = draw_different(sampler, k)
                assert len(set(names)) == k and names[0] == "big"
    monkeypatch.setattr(samplers, "REDRAWS", 10)
    for k in (2, 3):
        sampler = TemperatureSampler(sizes, temperature, seed=2)
        assert len(set(draw_different(sampler, k))) == k
        assert draws_made(2, sampler, 100) == 1 + (k - 1) * (10 + 1)


def old_draw_different(sampler, k: int) -> list[str]:
    """The rule before: draw until k different tasks came up (ends only when each can)."""
    names = []
    while len(names) < k:
        name = next(sampler)
        if name not in names:
            names.append(name)
    return names


@pytest.mark.parametrize("sizes, temperature, k", [({"a": 30, "b": 10, "c": 5}, 1.0, 2),
                                                   ({"a": 30, "b": 10, "c": 5}, 2.0, 3),
                                                   ({"a": 100, "b": 3}, 1.0, 2),
                                                   ({"a": 8, "b": 8}, 1.0, 2)])
def test_the_draws_are_those_of_the_old_rule_wherever_it_ended(sizes, temperature, k):
    """Same tasks, same order, and the generator left in the same state, step after step: a
    seeded run that ended before draws what it drew (the trainer's reference run too)."""
    for seed in range(3):
        new, old = (TemperatureSampler(sizes, temperature, seed) for _ in range(2))
        for _ in range(200):
            assert draw_different(new, k) == old_draw_different(old, k)
        assert new.rng.random() == old.rng.random()
    robin, again = RoundRobinSampler(list(sizes)), RoundRobinSampler(list(sizes))
    for _ in range(10):
        assert draw_different(robin, k) == old_draw_different(again, k)


def test_drawing_from_the_tasks_left_has_the_old_rule_s_distribution(monkeypatch):
    """With no redraws at all, every second task comes from draw_excluding: P(a, then b) must
    be p_a * p_b / (1 - p_a), as drawing until a new task comes up gives."""
    monkeypatch.setattr(samplers, "REDRAWS", 0)
    sampler = TemperatureSampler({"a": 6, "b": 3, "c": 1}, 1.0, seed=0)
    p = sampler.probabilities()
    counts: dict[tuple, int] = {}
    draws = 6000
    for _ in range(draws):
        pair = tuple(draw_different(sampler, 2))
        counts[pair] = counts.get(pair, 0) + 1
    for (a, b), count in counts.items():
        expected = p[a] * p[b] / (1 - p[a])
        assert abs(count / draws - expected) < 4 * math.sqrt(expected / draws) + 1e-3, (a, b)


def test_draw_different_refuses_more_tasks_than_there_are():
    for sampler in (make_sampler("round_robin", {"a": 1, "b": 2}),
                    make_sampler("temperature", {"a": 1, "b": 2}, temperature=0.01)):
        with pytest.raises(ValueError, match="cannot draw 3 different tasks out of 2"):
            draw_different(sampler, 3)


def small_model() -> MultiTaskModel:
    return MultiTaskModel(make_encoder(60), {"t": SentenceClassificationHead(32, 2, 0.0)})


def test_gradual_unfreezing_ends_after_the_last_depth():
    """advance() loops once per depth due; however late the step, at most every depth."""
    model = small_model()
    unfreezing = GradualUnfreezing(model, every=1)
    assert unfreezing.advance(10**18) == [2, 1, 0]  # two layers, then the embeddings
    assert unfreezing.advance(10**18 + 1) == []


def test_a_task_without_an_example_per_process_is_refused_before_its_batches_loop():
    """endless_batches repeats epochs of a task until one yields a batch: a task (or a rank's
    shard) without examples would loop forever, so check_run_options refuses it first."""
    class NoExamples:
        train = []
        spec = type("Spec", (), {"name": "empty"})()
    with pytest.raises(InputError, match="empty have fewer training examples than the 1"):
        check_run_options(TrainingOptions(), ["empty"], 1, [NoExamples()])


@pytest.mark.parametrize("path", ["", "a/b/c/d/e/f/g/h/out", "../../../../../../../../../x"])
def test_finding_an_existing_ancestor_ends(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    check_writable(Path(path) if path else Path(), "--out", directory=True)


@contextmanager
def ends_within(seconds: float):
    """Raise TimeoutError in the block after `seconds` of this process's CPU time (not the
    clock's, which a busy machine stretches): a loop that would never end fails."""
    def expire(signum, frame):
        raise TimeoutError(f"did not end within {seconds} s of CPU time")
    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


# ---- the commands ---------------------------------------------------------------------------
def jsonl(rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


@pytest.fixture(scope="module")
def place(tmp_path_factory, tokenizer):
    """Two tasks of unequal sizes, their config, a finished run of
    `--tasks-per-step 2 --sampler temperature --temperature 0.01` (the run that never ended),
    a saved model, and files with repeated keys."""
    d = tmp_path_factory.mktemp("numbers")
    words = ["good", "bad", "fine", "awful", "great", "poor", "nice", "grim"]
    rows = [{"text": f"a {w} film number {i}", "label": "pos" if i % 2 else "neg"}
            for i, w in enumerate(words)]
    (d / "big.jsonl").write_text(jsonl(rows))
    (d / "small.jsonl").write_text(jsonl(rows[:4]))
    task = {"kind": "sentence_classification"}
    tasks = [{**task, "name": "big", "train": "big.jsonl", "dev": "small.jsonl"},
             {**task, "name": "small", "train": "small.jsonl", "dev": "small.jsonl"}]
    (d / "good.json").write_text(json.dumps({"tasks": tasks}))
    (d / "twice_top.json").write_text('{"tasks": %s,\n "options": {},\n "options": {"epochs": 1}}'
                                      % json.dumps(tasks))
    (d / "twice_option.json").write_text(
        '{"tasks": %s,\n "options": {"epochs": 9, "epochs": 1}}' % json.dumps(tasks))
    (d / "twice_task.json").write_text(
        '{"tasks": [{"name": "big", "kind": "sentence_classification", "train": "big.jsonl",\n'
        '            "dev": "small.jsonl", "train": "small.jsonl"}]}')
    (d / "twice_row.jsonl").write_text(jsonl(rows[:2]) + '{"text": "a", "label": "pos", '
                                                          '"label": "neg"}\n')
    (d / "twice_row.json").write_text(json.dumps(
        {"tasks": [{**task, "name": "big", "train": "twice_row.jsonl", "dev": "small.jsonl"}]}))
    for name, options in (("decay_huge.json", {"layer_decay": 1e300}),
                          ("epochs_huge.json", {"epochs": 10**30}),
                          ("weight_huge.json", {"loss_weights": {"big": 1e300}})):
        (d / name).write_text(json.dumps({"tasks": tasks, "options": options}))
    (d / "sts.jsonl").write_text(jsonl([{"sentence1": "a", "sentence2": "b", "score": 1},
                                        {"sentence1": "c", "sentence2": "d", "score": 2}]))
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(d / "model")
    with ends_within(60):
        assert train.main(["--config", str(d / "good.json"), "--init", "scratch", "--preset",
                           "tiny", "--epochs", "1", "--batch-size", "8", "--tasks-per-step",
                           "2", "--sampler", "temperature", "--temperature", "0.01",
                           "--run-dir", str(d / "run"), "--progress", "off"]) == 0
    return d


def test_the_run_that_never_ended_ends(place):
    """The fixture trained it (within 60 s of CPU, or TimeoutError): every step mixed both tasks,
    although at T = 0.01 the small one has p = (4/8)^100 ~ 8e-31."""
    records = [json.loads(line) for line in (place / "run" / "metrics.jsonl").open()]
    steps = {}
    for record in records:
        if record["type"] == "train":
            steps.setdefault(record["step"], []).append(record["task"])
    assert steps and all(sorted(tasks) == ["big", "small"] for tasks in steps.values())


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def run_command(main, argv: list[str], capsys) -> tuple[int, str]:
    """main(argv) as the command would run it: (exit status, stderr)."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's errors: CommandParser.error exits with 2
        code = exit_.code
    return code, capsys.readouterr().err


TRAIN = ["--config", "{d}/good.json", "--init", "scratch", "--preset", "tiny",
         "--progress", "off", "--run-dir", "{d}/out"]


def flag(*words) -> list[str]:
    return TRAIN + list(words)


# (main, argv, words the one line must hold)
CASES = {
    # train.py: the flags that argparse reads, through values.flag_type
    "train --epochs in fullwidth digits": (train.main, flag("--epochs", "３"),
                                           ["argument --epochs", "'３'", "ASCII digits"]),
    "train --epochs as a superscript": (train.main, flag("--epochs", "²"),
                                        ["argument --epochs", "'²'"]),
    "train --batch-size in Arabic-Indic digits": (train.main, flag("--batch-size", "٣"),
                                                  ["argument --batch-size", "'٣'"]),
    "train --epochs with an underscore": (train.main, flag("--epochs", "1_000"),
                                          ["argument --epochs", "'1_000'"]),
    "train --epochs in hexadecimal": (train.main, flag("--epochs", "0x10"), ["'0x10'"]),
    "train --epochs as a float": (train.main, flag("--epochs", "1e3"), ["must be an integer"]),
    "train --epochs beyond a billion": (train.main, flag("--epochs", "10000000000"),
                                        ["--epochs", "<= 1e+09"]),
    "train --epochs of 70 digits": (train.main, flag("--epochs", "9" * 70),
                                    ["argument --epochs", "70 characters"]),
    "train --lr nan": (train.main, flag("--lr", "nan"), ["argument --lr", "'nan'"]),
    "train --lr inf": (train.main, flag("--lr", "inf"), ["argument --lr", "'inf'"]),
    "train --lr beyond a float": (train.main, flag("--lr", "1e999"),
                                  ["argument --lr", "beyond a float's range"]),
    "train --lr above any Adam rate": (train.main, flag("--lr", "11"), ["--lr", "<= 10"]),
    "train --layer-decay 1e300": (train.main, flag("--layer-decay", "1e300"),
                                  ["--layer-decay", "<= 10", "1e+300"]),
    "train --layer-decay 0": (train.main, flag("--layer-decay", "0"), ["--layer-decay", "> 0"]),
    "train --head-lr 1e300": (train.main, flag("--head-lr", "1e300"), ["--head-lr", "<= 10"]),
    "train --temperature in fullwidth digits": (train.main, flag("--temperature", "０.５"),
                                                ["argument --temperature", "ASCII digits"]),
    "train --seed -1": (train.main, flag("--seed", "-1"), ["--seed", ">= 0"]),
    "train --seed in Devanagari digits": (train.main, flag("--seed", "४२"), ["argument --seed"]),
    "train --max-length in Arabic-Indic digits": (train.main, flag("--max-length", "٦٤"),
                                                  ["argument --max-length", "'٦٤'"]),
    "train --max-train as a superscript": (train.main, flag("--max-train", "²"),
                                           ["argument --max-train"]),
    "train --head-hidden 0": (train.main, flag("--head-hidden", "0"),
                              ["argument --head-hidden", ">= 1"]),
    "train --tasks-per-step in Arabic-Indic digits": (train.main, flag("--tasks-per-step", "٢"),
                                                      ["argument --tasks-per-step"]),
    "train --eval-every in fullwidth digits": (train.main, flag("--eval-every", "９"),
                                               ["argument --eval-every"]),
    "train --weight-decay 1e300": (train.main, flag("--weight-decay", "1e300"),
                                   ["--weight-decay", "<= 1e+06"]),
    # train.py: numbers it parses by hand
    "train --unfreeze-every as a superscript": (train.main, flag("--unfreeze-every", "²"),
                                                ["--unfreeze-every", "'²'", "ASCII digits"]),
    "train --unfreeze-every ²steps": (train.main, flag("--unfreeze-every", "²steps"),
                                      ["--unfreeze-every '²steps'"]),
    "train --unfreeze-every 0steps": (train.main, flag("--unfreeze-every", "0steps"),
                                      ["--unfreeze-every", "from 1 to"]),
    "train --unfreeze-every steps": (train.main, flag("--unfreeze-every", "steps"),
                                     ["--unfreeze-every 'steps'"]),
    "train --unfreeze-every 10**12": (train.main, flag("--unfreeze-every", "1000000000000"),
                                      ["--unfreeze-every", "1,000,000,000"]),
    "train --freeze layers:²": (train.main, flag("--freeze", "layers:²"),
                                ["--freeze", "layers:K", "'layers:²'"]),
    "train --freeze layers:-1": (train.main, flag("--freeze", "layers:-1"),
                                 ["--freeze", "0 <= K <= 2", "'layers:-1'"]),
    "train --loss-weight in fullwidth digits": (train.main, flag("--loss-weight", "big=１"),
                                                ["--loss-weight 'big'=NUMBER", "'１'"]),
    "train --loss-weight nan": (train.main, flag("--loss-weight", "big=nan"),
                                ["--loss-weight", "'nan'"]),
    "train --loss-weight 1e7": (train.main, flag("--loss-weight", "big=1e7"),
                                ["--loss-weight", "<= 1e+06"]),
    "train --step-scale inf": (train.main, flag("--step-scale", "big=inf"),
                               ["--step-scale", "'inf'"]),
    "train --distill-task-weight in hexadecimal": (
        train.main, flag("--distill-weight", "1", "--distill-task-weight", "big=0x1"),
        ["--distill-task-weight", "'0x1'"]),
    "train --loss-weight for one task twice": (
        train.main, flag("--loss-weight", "big=1", "--loss-weight", "big=2"),
        ["--loss-weight", "'big' twice"]),
    # train.py: config files
    "train, a config with 'options' twice": (
        train.main, TRAIN[:1] + ["{d}/twice_top.json"] + TRAIN[2:],
        ["twice_top.json", "'options' occurs twice"]),
    "train, a config with an option twice": (
        train.main, TRAIN[:1] + ["{d}/twice_option.json"] + TRAIN[2:],
        ["twice_option.json", "'epochs' occurs twice"]),
    "train, a config with a task's key twice": (
        train.main, TRAIN[:1] + ["{d}/twice_task.json"] + TRAIN[2:],
        ["twice_task.json", "'train' occurs twice"]),
    "train, a data row with a key twice": (
        train.main, TRAIN[:1] + ["{d}/twice_row.json"] + TRAIN[2:],
        ["twice_row.jsonl, line 3", "'label' occurs twice"]),
    "train, a config's layer_decay 1e300": (
        train.main, TRAIN[:1] + ["{d}/decay_huge.json"] + TRAIN[2:],
        ["decay_huge.json", "options.layer_decay", "<= 10"]),
    "train, a config's epochs 10**30": (
        train.main, TRAIN[:1] + ["{d}/epochs_huge.json"] + TRAIN[2:],
        ["epochs_huge.json", "options.epochs"]),
    "train, a config's loss weight 1e300": (
        train.main, TRAIN[:1] + ["{d}/weight_huge.json"] + TRAIN[2:],
        ["weight_huge.json", "options.loss_weights"]),
    # train.py: --init with spaces, --resume with another seed
    "train --init 'scratch '": (train.main, ["--init", "scratch ", "--run-dir", "{d}/out"],
                                ["init", "'scratch '", "spaces at its ends"]),
    "train --init ' minilm'": (train.main, ["--init", " minilm", "--run-dir", "{d}/out"],
                               ["init", "' minilm'"]),
    "train --init with a tab": (train.main, ["--init", "\tscratch", "--run-dir", "{d}/out"],
                                ["init", "'\\tscratch'"]),
    "train --resume with another --seed": (
        train.main, ["--config", "{d}/good.json", "--init", "scratch", "--preset", "tiny",
                     "--epochs", "1", "--batch-size", "8", "--tasks-per-step", "2",
                     "--sampler", "temperature", "--temperature", "0.01", "--progress", "off",
                     "--run-dir", "{d}/run", "--resume", "--seed", "1"],
        ["run/last", "--seed 0, not --seed 1", "resume with --seed 0"]),
    # train.py evaluate
    "evaluate the same task twice": (
        train.main, ["evaluate", "{d}/run", "--task", "big={d}/big.jsonl", "--task",
                     "big={d}/big.jsonl"], ["argument --task", "'big' given twice"]),
    "evaluate one task on two files": (
        train.main, ["evaluate", "{d}/run", "--task", "small={d}/big.jsonl", "--task",
                     "big={d}/big.jsonl", "--task", "small={d}/small.jsonl"],
        ["argument --task", "'small' given twice"]),
    # python -m minitransformer.evaluate
    "sts, the same file twice": (
        evaluate_command.main, ["--model", "{d}/model", "--sts", "{d}/sts.jsonl", "--sts",
                                "{d}/sts.jsonl"], ["argument --sts", "given twice"]),
    "sts, two files": (
        evaluate_command.main, ["--model", "{d}/model", "--sts", "{d}/sts.jsonl", "--sts",
                                "{d}/big.jsonl"], ["argument --sts", "given twice"]),
    # python -m minitransformer.inspect
    "inspect --layers as a superscript": (
        inspect_command.main, ["--model", "{d}/model", "x", "--layers", "²"],
        ["--layers", "'²'"]),
    "inspect --layers 1-30000000": (
        inspect_command.main, ["--model", "{d}/model", "x", "--layers", "1-30000000"],
        ["--layers", "the model has layers 1 to 2", "'1-30000000'"]),
    "inspect --layers 2-1": (inspect_command.main, ["--model", "{d}/model", "x", "--layers", "2-1"],
                             ["--layers", "'2-1' runs downwards", "1-2"]),
    "inspect --heads in fullwidth digits": (
        inspect_command.main, ["--model", "{d}/model", "x", "--heads", "３"], ["--heads", "'３'"]),
    "inspect --heads 0": (inspect_command.main, ["--model", "{d}/model", "x", "--heads", "0"],
                          ["--heads", "from 1"]),
    "inspect --layers 1-": (inspect_command.main, ["--model", "{d}/model", "x", "--layers", "1-"],
                            ["--layers", "'1-'"]),
    "inspect --layers -2": (inspect_command.main, ["--model", "{d}/model", "x", "--layers", "-2"],
                            ["--layers", "'-2'"]),
    "inspect --layers empty": (inspect_command.main, ["--model", "{d}/model", "x", "--layers", ""],
                               ["--layers", "''"]),
    "inspect --layers 1,,2": (inspect_command.main,
                              ["--model", "{d}/model", "x", "--layers", "1,,2"], ["'1,,2'"]),
    "inspect --layers 1-2-3": (inspect_command.main,
                               ["--model", "{d}/model", "x", "--layers", "1-2-3"], ["'1-2-3'"]),
    "inspect --heads of 30 digits": (
        inspect_command.main, ["--model", "{d}/model", "x", "--heads", "1-" + "9" * 30],
        ["--heads", "the model has heads 1 to 4"]),
    "inspect --sentence in fullwidth digits": (
        inspect_command.main, ["--model", "{d}/model", "x", "--sentence", "２"],
        ["argument --sentence", "'２'"]),
    "inspect --layers of a model that is not loaded yet": (
        inspect_command.main, ["--model", "{d}/nothing", "x", "--layers", "٣"],
        ["--layers", "'٣'"]),  # the form is checked before the model is looked for
}


@pytest.fixture(scope="module")
def before(place):
    return tree_hashes(place)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_number_or_repeat_is_one_line_and_exit_2(case, place, before, capsys):
    main, argv, words = CASES[case]
    with ends_within(30):
        code, err = run_command(main, [word.format(d=place) for word in argv], capsys)
    assert "Traceback" not in err, err
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word.format(d=place) in lines[0], (word, lines[0])
    assert tree_hashes(place) == before  # nothing changed, nothing written (no {d}/out)


def test_a_repeated_key_is_refused_wherever_json_is_read(tmp_path):
    for text in ('{"a": 1, "a": 1}', '[{"x": {"b": 1, "b": 2}}]', '{"": 0, "": 0}'):
        with pytest.raises(InputError, match="occurs twice in one object"):
            parse_json(text)
    (tmp_path / "c.json").write_text('{\n"a": 1,\n"a": 2}')
    with pytest.raises(InputError, match=r"c\.json: the key 'a' occurs twice"):
        read_json(tmp_path / "c.json")
    assert parse_json('{"a": {"a": 1}, "b": [{"a": 2}]}') == {"a": {"a": 1}, "b": [{"a": 2}]}


def test_an_interval_is_read_by_the_one_parser():
    assert parse_interval("2") == (2, "epochs") and parse_interval("300steps") == (300, "steps")
    assert parse_interval(" 1 step") == (1, "steps")
    for text in ("²", "３epochs", "1_0steps", "-1", "2.5"):
        with pytest.raises(InputError, match="--unfreeze-every"):
            parse_interval(text)


def test_freezing_layers_k_reads_ascii_digits_only():
    model = small_model()
    assert apply_freezing(model, "layers:2") == ["embeddings", "layer 1", "layer 2"]
    for strategy in ("layers:²", "layers:３", "layers:", "layers:3", "layers:1e0"):
        with pytest.raises(InputError, match="0 <= K <= 2"):
            apply_freezing(model, strategy)
