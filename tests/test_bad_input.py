"""Bad input through the real commands, as a user meets it: one line `error: ...` on stderr that
names the place and the problem, exit status 2, no traceback, and nothing written.

Each case is a command line run in a process of its own. tests/command_runner.py imports the
commands once and forks a child per case (most of a fresh process's time is importing torch);
the fixture's tiny training run and tests/test_embed_cli.py run commands from a fresh interpreter.
"""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, make_encoder

from minitransformer.pretrained import export_bert
from minitransformer.sentence import SentenceEncoder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402

TRAIN, EMBED, EVALUATE = ["train.py"], ["embed.py"], ["-m", "minitransformer.evaluate"]
EXPORT, CHECK = ["-m", "minitransformer.export"], ["-m", "minitransformer.check"]


class RunsCode:
    """A pickle that would run `touch MARKER` when unpickled by a plain pickle.load."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def write(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content),
                        encoding="utf-8")
    return path


def jsonl(rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


@pytest.fixture(scope="module")
def place(tmp_path_factory, tokenizer):
    """A folder of bad (and a few good) inputs; returns it."""
    d = tmp_path_factory.mktemp("bad")
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(d / "model")
    bert = SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size, positional="learned",
                                                   segment_vocab_size=2))
    for name in ("bert", "bert_cut", "bert_header", "bert_sizes", "bert_pickle"):
        export_bert(bert, d / name)
    weights = (d / "bert_cut" / "model.safetensors").read_bytes()
    write(d / "bert_cut" / "model.safetensors", weights[:-200])
    write(d / "bert_header" / "model.safetensors", (2**60).to_bytes(8, "little") + weights[8:])
    config = json.loads((d / "bert_sizes" / "config.json").read_text())
    write(d / "bert_sizes" / "config.json", {**config, "intermediate_size": 48})
    (d / "bert_pickle" / "model.safetensors").unlink()
    write(d / "bert_pickle" / "pytorch_model.bin", pickle.dumps(RunsCode(d / "MARKER")))
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(d / "model_sizes")
    description = json.loads((d / "model_sizes" / "config.json").read_text())
    description["encoder"]["ff_size"] = 96
    write(d / "model_sizes" / "config.json", description)
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(d / "model_keys")
    description = json.loads((d / "model_keys" / "config.json").read_text())
    description["encoder"]["segment_vocab_size"] = 2  # a tensor the weights do not have
    write(d / "model_keys" / "config.json", description)
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size, norm_placement="pre")).save(d / "pre")
    np.save(d / "corpus.npy", np.zeros((3, 32), dtype=np.float32))  # 3 rows; the corpus has 8
    np.save(d / "corpus_nan.npy", np.full((8, 32), np.nan, dtype=np.float32))
    write(d / "corpus.txt", "\n".join(CORPUS))
    write(d / "mine.py", "def pooling(states, mask):\n    return states.mean(1)\n")
    write(d / "broken.py", "def pooling(states, mask):\n    return states.mean(1))\n")
    write(d / "not_a_model" / "config.json", {})
    (d / "empty_dir").mkdir()

    write(d / "empty.txt", "\n  \n")
    write(d / "empty.jsonl", "")
    write(d / "latin1.txt", "caf\xe9\n".encode("latin-1"))
    rows = [{"text": text, "label": "a" if i % 2 else "b"} for i, text in enumerate(CORPUS)]
    write(d / "train.jsonl", jsonl(rows))
    write(d / "no_label.jsonl", jsonl([{"text": "fine"}, {"text": "no label here"}]))
    write(d / "new_label.jsonl", jsonl(rows[:2] + [{"text": "odd", "label": "c"}]))
    write(d / "sts_no_score.jsonl", jsonl([{"sentence1": "a", "sentence2": "b"}]))

    def config(name, **changes):
        task = {"name": "t", "kind": "sentence_classification", "train": "train.jsonl",
                "dev": "train.jsonl"}
        return write(d / name, {"tasks": [{**task, **changes.pop("task", {})}], **changes})
    config("good.json")
    config("unknown_key.json", learning_rate=0.1)
    config("unknown_option.json", options={"epoch": 3})
    config("bad_option.json", options={"batch_size": "16"})
    config("missing_file.json", task={"train": "nowhere.jsonl"})
    config("empty_file.json", task={"train": "empty.jsonl"})
    config("missing_field.json", task={"train": "no_label.jsonl"})
    config("unknown_label.json", task={"dev": "new_label.jsonl"})
    config("unknown_kind.json", task={"kind": "regression"})
    config("dotted_name.json", task={"name": "sst.2"})
    write(d / "broken.json", '{"tasks": [\n  {"name": "t",\n}')

    run = d / "run"  # a real, tiny run for `train.py evaluate`
    assert train.main(["--config", str(d / "good.json"), "--init", "scratch", "--preset", "tiny",
                       "--epochs", "1", "--run-dir", str(run), "--progress", "off"]) == 0
    return d


TRAIN_SCRATCH = TRAIN + ["--init", "scratch", "--preset", "tiny", "--run-dir", "{d}/out"]
# (command, words that the one-line message must hold)
CASES = {
    # embed.py: input files
    "embed, missing file": (EMBED + ["--model", "{d}/model", "--file", "{d}/nope.txt"],
                            ["nope.txt", "no such file"]),
    "embed, empty file": (EMBED + ["--model", "{d}/model", "--file", "{d}/empty.txt"],
                          ["empty.txt", "no sentences"]),
    "embed, not UTF-8": (EMBED + ["--model", "{d}/model", "--file", "{d}/latin1.txt"],
                         ["latin1.txt", "not UTF-8"]),
    # embed.py: model directories
    "embed, missing model": (EMBED + ["--model", "{d}/nothing", "x"],
                             ["nothing", "no such model directory", "pip install", "train.py"]),
    "embed, directory that is no model": (EMBED + ["--model", "{d}/not_a_model", "x"],
                                          ["not_a_model", "neither a minitransformer model"]),
    "embed, directory without config": (EMBED + ["--model", "{d}/empty_dir", "x"],
                                        ["empty_dir", "no config.json"]),
    "embed, truncated safetensors": (EMBED + ["--model", "{d}/bert_cut", "x"],
                                     ["bert_cut/model.safetensors", "truncated"]),
    "embed, absurd safetensors header": (EMBED + ["--model", "{d}/bert_header", "x"],
                                         ["bert_header/model.safetensors", "header length"]),
    "embed, BERT config does not fit the weights": (
        EMBED + ["--model", "{d}/bert_sizes", "x"],
        ["bert_sizes", "shape of encoder.layer.0.intermediate.dense.weight"]),
    "embed, our config does not fit the weights": (
        EMBED + ["--model", "{d}/model_sizes", "x"],
        ["model_sizes/model.safetensors", "does not fit", "feed_forward"]),
    "embed, our config names a tensor the weights lack": (
        EMBED + ["--model", "{d}/model_keys", "x"],
        ["model_keys/model.safetensors", "missing tensor(s) embeddings.segment.weight"]),
    "embed, refused pickle": (EMBED + ["--model", "{d}/bert_pickle", "x"],
                              ["pytorch_model.bin", "refused"]),
    # embed.py: flags
    "embed, batch size 0": (EMBED + ["--batch-size", "0", "x"], ["--batch-size", "at least 1"]),
    "embed, --out not .npy": (EMBED + ["--out", "{d}/out.txt", "x"], ["--out", ".npy"]),
    "embed, --out inside a file": (EMBED + ["--model", "{d}/model", "--out", "{d}/train.jsonl/x.npy",
                                            "x"], ["--out", "train.jsonl is a file"]),
    # train.py: config files and flags
    "train, malformed config": (TRAIN_SCRATCH + ["--config", "{d}/broken.json"],
                                ["broken.json, line 3", "not valid JSON"]),
    "train, missing config": (TRAIN_SCRATCH + ["--config", "{d}/none.json"],
                              ["none.json", "no such file"]),
    "train, unknown config key": (TRAIN_SCRATCH + ["--config", "{d}/unknown_key.json"],
                                  ["unknown_key.json", "learning_rate"]),
    "train, unknown option": (TRAIN_SCRATCH + ["--config", "{d}/unknown_option.json"],
                              ["unknown_option.json", "unknown training option", "epoch"]),
    "train, option of the wrong type": (TRAIN_SCRATCH + ["--config", "{d}/bad_option.json"],
                                        ["bad_option.json", "options.batch_size", "integer"]),
    "train, unknown task kind": (TRAIN_SCRATCH + ["--config", "{d}/unknown_kind.json"],
                                 ["unknown_kind.json", "unknown kind 'regression'"]),
    "train, task name a head cannot have": (TRAIN_SCRATCH + ["--config", "{d}/dotted_name.json"],
                                            ["dotted_name.json", "'sst.2'"]),
    "train, seed beyond torch's seeds": (TRAIN_SCRATCH + ["--seed", str(2**40)],
                                         ["--seed", "<= 4.29497e+09"]),
    "train, --run-dir inside a file": (
        TRAIN + ["--init", "scratch", "--run-dir", "{d}/train.jsonl/run"],
        ["--run-dir", "train.jsonl is a file"]),
    "train, resume a run of other tasks": (
        TRAIN + ["--init", "scratch", "--preset", "tiny", "--run-dir", "{d}/run", "--resume"],
        ["run/last", "saved with tasks t, not topic, sentiment"]),
    "train, unknown task name": (TRAIN_SCRATCH + ["--config", "{d}/good.json", "--tasks", "tx"],
                                 ["--tasks", "no task tx"]),
    "train, missing data file": (TRAIN_SCRATCH + ["--config", "{d}/missing_file.json"],
                                 ["nowhere.jsonl", "no such file"]),
    "train, empty data file": (TRAIN_SCRATCH + ["--config", "{d}/empty_file.json"],
                               ["empty.jsonl", "no examples"]),
    "train, data without its label field": (TRAIN_SCRATCH + ["--config", "{d}/missing_field.json"],
                                            ["no_label.jsonl, line 1", "missing field 'label'"]),
    "train, dev label unknown to training": (
        TRAIN_SCRATCH + ["--config", "{d}/unknown_label.json"],
        ["new_label.jsonl, line 3", "label 'c' is not in the label map"]),
    "train, out-of-range flag": (TRAIN_SCRATCH + ["--epochs", "0"],
                                 ["--epochs", "integer >= 1", "got 0"]),
    "train, flag that is no number": (TRAIN_SCRATCH + ["--lr", "fast"], ["--lr", "'fast'"]),
    "train, nothing to resume": (TRAIN_SCRATCH + ["--resume"], ["--resume", "nothing to resume"]),
    "train, missing --init directory": (
        TRAIN + ["--init", "{d}/nothing", "--run-dir", "{d}/out"],
        ["--init", "nothing", "no such model directory"]),
    # train.py evaluate
    "evaluate a run that is not there": (TRAIN + ["evaluate", "{d}/norun", "--task", "t=x.jsonl"],
                                         ["norun", "neither a training run"]),
    "evaluate an unknown task": (TRAIN + ["evaluate", "{d}/run", "--task", "u={d}/train.jsonl"],
                                 ["no task 'u'", "it has t"]),
    "evaluate a non-UTF-8 file": (TRAIN + ["evaluate", "{d}/run", "--task", "t={d}/latin1.txt"],
                                  ["latin1.txt", "reads .jsonl"]),
    "evaluate a file with an unknown label": (
        TRAIN + ["evaluate", "{d}/run", "--task", "t={d}/new_label.jsonl"],
        ["new_label.jsonl, line 3", "not in the label map"]),
    # embed.py --query: semantic search
    "search without a corpus": (EMBED + ["--query", "cats"], ["--query needs --corpus"]),
    "search with embeddings of another corpus": (
        EMBED + ["--model", "{d}/model", "--query", "cats", "--corpus", "{d}/corpus.txt",
                 "--corpus-embeddings", "{d}/corpus.npy"],
        ["corpus.npy", "shape (3, 32)", "8 sentences"]),
    "search with broken embeddings": (
        EMBED + ["--model", "{d}/model", "--query", "cats", "--corpus", "{d}/corpus.txt",
                 "--corpus-embeddings", "{d}/corpus_nan.npy"], ["corpus_nan.npy", "not all finite"]),
    "search saving what it reads": (
        EMBED + ["--query", "cats", "--corpus", "{d}/corpus.txt", "--corpus-embeddings",
                 "{d}/corpus.npy", "--out", "{d}/again.npy"], ["--out", "give one of the two"]),
    "a device that is not there": (EMBED + ["--device", "cuda:7", "x"], ["--device cuda:7"]),
    "int8 on a GPU": (EMBED + ["--precision", "int8", "--device", "cuda", "x"],
                      ["--precision", "CPU only", "--device cuda"]),
    "an unknown precision": (EMBED + ["--precision", "fp8", "x"], ["--precision", "fp8"]),
    # python -m minitransformer.export
    "export a pre-norm model": (EXPORT + ["{d}/pre", "{d}/exported"],
                                ["pre-norm", "cannot be exported as a BERT"]),
    "export over a directory": (EXPORT + ["{d}/model", "{d}/bert"], ["bert", "already exists"]),
    "export a missing model": (EXPORT + ["{d}/nothing", "{d}/exported"],
                               ["nothing", "no such model directory"]),
    # python -m minitransformer.check
    "check a missing file": (CHECK + ["attention", "{d}/yours.py:Attention"], ["yours.py", "no such file"]),
    "check a name the file lacks": (CHECK + ["pooling", "{d}/mine.py:mean_pooling"],
                                    ["mine.py", "defines no 'mean_pooling'", "it has: pooling"]),
    "check a file that does not import": (CHECK + ["pooling", "{d}/broken.py:pooling"],
                                          ["broken.py, line 2", "unmatched"]),
    # python -m minitransformer.evaluate
    "sts, missing file": (EVALUATE + ["--model", "{d}/model", "--sts", "{d}/nope.jsonl"],
                          ["nope.jsonl", "no such file"]),
    "sts, row without a score": (EVALUATE + ["--model", "{d}/model", "--sts", "{d}/sts_no_score.jsonl"],
                                 ["sts_no_score.jsonl, line 1", "missing field 'score'"]),
    "sts, missing model": (EVALUATE + ["--model", "{d}/nothing", "--sts", "{d}/sts_no_score.jsonl"],
                           ["missing field 'score'"]),  # the data is read (and refused) first
}


@pytest.fixture(scope="module")
def outcomes(place):
    """Every case run once: {case: {"returncode", "stderr"}}."""
    argvs = [[word.format(d=place) for word in command] for command, _ in CASES.values()]
    runner = subprocess.run([sys.executable, str(ROOT / "tests" / "command_runner.py")],
                            input=json.dumps(argvs), cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert runner.returncode == 0, runner.stderr
    return dict(zip(CASES, json.loads(runner.stdout)))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_line(case, outcomes, place):
    result = outcomes[case]
    words = [word.format(d=place) for word in CASES[case][1]]
    assert "Traceback" not in result["stderr"], result["stderr"]
    assert result["returncode"] == 2, (result["returncode"], result["stderr"])
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result["stderr"]
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_bad_input_writes_nothing(outcomes, place):
    assert not (place / "out").exists()  # no run directory from any failed train.py
    record = json.loads((place / "run" / "run.json").read_text())  # the refused --resume
    assert record["status"] == "finished" and "earlier_commands" not in record
    assert not (place / "out.txt").exists()
    assert not (place / "exported").exists()
    assert not (place / "MARKER").exists()  # the pickle's code never ran
    assert not list(place.glob("**/*.tmp*"))
