"""Bad input through the real commands, as a user meets it: one line `error: ...` on stderr that
names the place and the problem, exit status 2, no traceback, and nothing written.

Each case is a command line run in a process of its own. tests/command_runner.py imports the
commands once and forks a child per case (most of a fresh process's time is importing torch);
the fixture's tiny training run and tests/test_embed_cli.py run commands from a fresh interpreter.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CORPUS, make_encoder

from minitransformer.bert_format import export_bert
from minitransformer.sentence import SentenceEncoder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402

TRAIN, EMBED, EVALUATE = ["train.py"], ["embed.py"], ["-m", "minitransformer.evaluate"]
EXPORT, CHECK = ["-m", "minitransformer.export"], ["-m", "minitransformer.check"]
INSPECT, PLOT = ["-m", "minitransformer.inspect"], ["-m", "minitransformer.plot"]
NOT_UTF8 = "caf\udce9"  # the bytes caf\xe9 (Latin-1) in an argument, as Python hands them over


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
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size,
                                            norm_placement="pre")).save(d / "pre")
    np.save(d / "corpus.npy", np.zeros((3, 32), dtype=np.float32))  # 3 rows; the corpus has 8
    np.save(d / "corpus_nan.npy", np.full((8, 32), np.nan, dtype=np.float32))
    write(d / "corpus.txt", "\n".join(CORPUS))
    write(d / "mine.py", "def pooling(states, mask):\n    return states.mean(1)\n")
    write(d / "broken.py", "def pooling(states, mask):\n    return states.mean(1))\n")
    for name in ("model_vocab", "bert_vocab"):  # a vocab.txt without [CLS] and [SEP]
        if name == "bert_vocab":
            export_bert(bert, d / name)
        else:
            SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(d / name)
        (d / name / "tokenizer.json").unlink()
        vocab = (d / name / "vocab.txt").read_text(encoding="utf-8").split("\n")
        write(d / name / "vocab.txt", "\n".join(t for t in vocab if t not in ("[CLS]", "[SEP]")))
    np.save(d / "corpus_complex.npy", np.ones((8, 32), dtype=np.complex64))
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
    # JSON that json.loads takes, or refuses otherwise than as malformed: a lone surrogate
    # escape (valid JSON, no character), an integer beyond Python's 4300 digits, deep nesting
    write(d / "surrogate.jsonl", jsonl(rows[:1]) + '{"text": "caf\\ud800", "label": "a"}\n')
    write(d / "digits.jsonl", jsonl(rows[:2]) + '{"text": "x", "label": %s}\n' % ("7" * 5000))
    write(d / "deep.jsonl", '{"text": "x", "label": %s}\n' % ("[" * 100_000))
    write(d / "sts_surrogate.jsonl", '{"sentence1": "a", "sentence2": "\\udc00", "score": 1}\n')
    write(d / "surrogate_name.json",
          '{"tasks": [{"name": "t\\udc00", "kind": "sentence_classification",\n'
          '            "train": "train.jsonl", "dev": "train.jsonl"}]}')
    # metrics logs that `python -m minitransformer.plot RUN` reads
    train_record = {"type": "train", "step": 1, "task": "t", "loss": 1.0, "lr": 1e-4}
    write(d / "log_no_task" / "metrics.jsonl",
          jsonl([train_record, {k: v for k, v in train_record.items() if k != "task"}]))
    write(d / "log_list" / "metrics.jsonl", jsonl([[train_record]]))
    write(d / "log_latin1" / "metrics.jsonl",
          jsonl([train_record]).encode() + b'{"type": "train", "task": "caf\xe9"}\n')

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
    config("surrogate.json", task={"train": "surrogate.jsonl"})
    config("digits.json", task={"train": "digits.jsonl"})
    config("deep.json", task={"train": "deep.jsonl"})
    write(d / "broken.json", '{"tasks": [\n  {"name": "t",\n}')

    run = d / "run"  # a real, tiny run for `train.py evaluate`
    assert train.main(["--config", str(d / "good.json"), "--init", "scratch", "--preset", "tiny",
                       "--epochs", "1", "--run-dir", str(run), "--progress", "off"]) == 0
    for name, junk in (("run_bad_state", b"\x80\x04h\x01."),  # a pickle with a broken memo
                       ("run_code_state", pickle.dumps(RunsCode(d / "MARKER")))):
        shutil.copytree(run, d / name)
        write(d / name / "last" / "training_state.pt", junk)

    # Sizes a config claims, checked before anything is allocated.
    def model_claiming(name, **sizes):
        SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(d / name)
        description = json.loads((d / name / "config.json").read_text())
        description["encoder"].update(sizes)
        write(d / name / "config.json", description)
    model_claiming("model_10M_layers", num_layers=10**7)
    model_claiming("model_1G_wide", hidden_size=10**9, num_heads=1)
    model_claiming("model_1G_vocabulary", vocab_size=10**9)
    model_claiming("model_100_layers", num_layers=100)  # within limits, not the weights' 2
    export_bert(bert, d / "bert_10M_layers")
    config = json.loads((d / "bert_10M_layers" / "config.json").read_text())
    write(d / "bert_10M_layers" / "config.json", {**config, "num_hidden_layers": 10**7})
    nan_model = SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size))
    with torch.no_grad():
        nan_model.encoder.layers[0].attention.output.weight[0, 0] = float("nan")
    nan_model.save(d / "model_nan")
    export_bert(bert, d / "bert_memo")
    (d / "bert_memo" / "model.safetensors").unlink()
    write(d / "bert_memo" / "pytorch_model.bin", b"\x80\x04h\x01.")  # a broken memo
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
                         ["latin1.txt, line 1", "not valid UTF-8", "byte 0xe9"]),
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
    "embed, a model whose vocab.txt lacks [CLS] and [SEP]": (
        EMBED + ["--model", "{d}/model_vocab", "x"],
        ["model_vocab/vocab.txt", "no [CLS], [SEP] tokens"]),
    "embed, a BERT directory whose vocab.txt lacks [CLS] and [SEP]": (
        EMBED + ["--model", "{d}/bert_vocab", "x"], ["bert_vocab/vocab.txt", "no [CLS], [SEP]"]),
    # text that is not UTF-8, or no text at all: refused with its place, never replaced
    "embed, an argument that is not UTF-8": (EMBED + ["--model", "{d}/model", "fine", NOT_UTF8],
                                             ["argument 4", "not valid UTF-8", "byte 0xe9"]),
    "embed, a query that is not UTF-8": (
        EMBED + ["--model", "{d}/model", "--query", NOT_UTF8, "--corpus", "{d}/corpus.txt"],
        ["argument 4", "byte 0xe9"]),
    "embed, standard input that is not UTF-8": (
        {"argv": EMBED + ["--model", "{d}/model"], "stdin": f"fine\n{NOT_UTF8}\n"},
        ["standard input, line 2", "not valid UTF-8", "byte 0xe9"]),
    "train, a flag that is not UTF-8": (TRAIN_SCRATCH + ["--tasks", NOT_UTF8],
                                        ["argument 8", "byte 0xe9"]),
    "inspect, a sentence that is not UTF-8": (INSPECT + ["--model", "{d}/model", NOT_UTF8],
                                              ["argument 3", "byte 0xe9"]),
    "inspect, a sentence of zero-width spaces": (
        INSPECT + ["--model", "{d}/model", "fine", "\u200b\u200b"],
        ["sentence 2", "no word pieces"]),
    "train, a lone surrogate escape in a JSONL file": (
        TRAIN_SCRATCH + ["--config", "{d}/surrogate.json"],
        ["surrogate.jsonl, line 2", "\\ud800", "surrogate pair"]),
    "train, a lone surrogate escape in the config": (
        TRAIN_SCRATCH + ["--config", "{d}/surrogate_name.json"],
        ["surrogate_name.json, line 1", "\\udc00"]),
    "train, an integer of 5000 digits in a JSONL file": (
        TRAIN_SCRATCH + ["--config", "{d}/digits.json"],
        ["digits.jsonl, line 3", "4300 digits"]),
    "train, JSON nested 100,000 deep": (TRAIN_SCRATCH + ["--config", "{d}/deep.json"],
                                        ["deep.jsonl, line 1", "nested too deeply"]),
    "sts, a lone surrogate escape": (
        EVALUATE + ["--model", "{d}/model", "--sts", "{d}/sts_surrogate.jsonl"],
        ["sts_surrogate.jsonl, line 1", "\\udc00"]),
    # python -m minitransformer.plot: metrics logs
    "plot, a training record without its task": (
        PLOT + ["{d}/log_no_task", "--out", "{d}/curves.png"],
        ["log_no_task/metrics.jsonl, line 2", "no string 'task'"]),
    "plot, a line that is a JSON list": (PLOT + ["{d}/log_list", "--out", "{d}/curves.png"],
                                         ["log_list/metrics.jsonl, line 1", "JSON list"]),
    "plot, a log that is not UTF-8": (PLOT + ["{d}/log_latin1", "--out", "{d}/curves.png"],
                                      ["log_latin1/metrics.jsonl, line 2", "byte 0xe9"]),
    # embed.py: flags
    "embed, batch size 0": (EMBED + ["--batch-size", "0", "x"], ["--batch-size", "at least 1"]),
    "embed, --out not .npy": (EMBED + ["--out", "{d}/out.txt", "x"], ["--out", ".npy"]),
    "embed, --out inside a file": (EMBED + ["--model", "{d}/model", "--out",
                                            "{d}/train.jsonl/x.npy", "x"],
                                   ["--out", "train.jsonl is a file"]),
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
    "train, --tasks naming no task": (TRAIN_SCRATCH + ["--config", "{d}/good.json", "--tasks", ""],
                                      ["--tasks", "names no task"]),
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
    "train, missing --distill-from directory": (
        TRAIN_SCRATCH + ["--distill-weight", "1", "--distill-from", "{d}/nothing"],
        ["--distill-from", "nothing", "no such model directory"]),
    "train, --distill-from a model of another vocabulary": (
        TRAIN_SCRATCH + ["--distill-weight", "1", "--distill-from", "{d}/model"],
        ["--distill-from", "model", "another vocabulary"]),
    "train, --distill-from without a weight": (
        TRAIN_SCRATCH + ["--distill-from", "{d}/model"],
        ["--distill-from", "--distill-weight X > 0"]),
    "train, --distill-task-weight for a task the run does not have": (
        TRAIN_SCRATCH + ["--distill-weight", "1", "--distill-task-weight", "nosuchtask=0"],
        ["--distill-task-weight", "unknown task", "nosuchtask"]),
    "train, --distill-task-weight without a number": (
        TRAIN_SCRATCH + ["--distill-task-weight", "ner"],
        ["--distill-task-weight takes TASK=NUMBER", "'ner'"]),
    # train.py evaluate
    "evaluate a run that is not there": (TRAIN + ["evaluate", "{d}/norun", "--task", "t=x.jsonl"],
                                         ["norun", "no such model directory"]),
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
                 "--corpus-embeddings", "{d}/corpus_nan.npy"],
        ["corpus_nan.npy", "not all finite"]),
    "search saving what it reads": (
        EMBED + ["--query", "cats", "--corpus", "{d}/corpus.txt", "--corpus-embeddings",
                 "{d}/corpus.npy", "--out", "{d}/again.npy"], ["--out", "give one of the two"]),
    "search with complex embeddings": (
        EMBED + ["--model", "{d}/model", "--query", "cats", "--corpus", "{d}/corpus.txt",
                 "--corpus-embeddings", "{d}/corpus_complex.npy"],
        ["corpus_complex.npy", "complex64", "not all finite real numbers"]),
    "an empty --model": ({"argv": EMBED + ["--model", "", "x"], "cwd": "{d}/model"},
                         ["--model"]),  # not the model in the current directory
    # A run directory is sacred: another run in it is refused; nothing of it changes.
    "train into another finished run": (
        TRAIN + ["--config", "{d}/good.json", "--init", "scratch", "--preset", "tiny",
                 "--run-dir", "{d}/run"], ["--run-dir", "holds another run", "--resume",
                                           "--overwrite"]),
    "train --resume and --overwrite together": (
        TRAIN_SCRATCH + ["--resume", "--overwrite"], ["--resume", "--overwrite", "one of them"]),
    "resume from a malformed training state": (
        TRAIN + ["--config", "{d}/good.json", "--init", "scratch", "--preset", "tiny",
                 "--run-dir", "{d}/run_bad_state", "--resume"],
        ["run_bad_state/last/training_state.pt", "not a readable pickle"]),
    "resume from a training state that would run code": (
        TRAIN + ["--config", "{d}/good.json", "--init", "scratch", "--preset", "tiny",
                 "--run-dir", "{d}/run_code_state", "--resume"],
        ["run_code_state/last/training_state.pt", "refused", "could run code"]),
    # Sizes are checked before anything is allocated (the commands would otherwise grow to
    # gigabytes): against sane limits, and against the weight file's header.
    "embed, a config of 10 million layers": (EMBED + ["--model", "{d}/model_10M_layers", "x"],
                                             ["model_10M_layers", "num_layers", "10,000,000"]),
    "embed, a config a billion wide": (EMBED + ["--model", "{d}/model_1G_wide", "x"],
                                       ["model_1G_wide", "hidden_size", "1,000,000,000"]),
    "embed, a vocabulary of a billion": (EMBED + ["--model", "{d}/model_1G_vocabulary", "x"],
                                         ["model_1G_vocabulary", "vocab_size"]),
    "embed, a BERT config of 10 million layers": (
        EMBED + ["--model", "{d}/bert_10M_layers", "x"], ["bert_10M_layers", "num_layers"]),
    "embed, more layers than the weights hold": (
        EMBED + ["--model", "{d}/model_100_layers", "x"],
        ["model_100_layers/model.safetensors", "does not fit", "missing tensor(s) layers.2"]),
    "train, a max length of a billion": (TRAIN_SCRATCH + ["--max-length", "1000000000"],
                                         ["--max-length", "from 4 to 65,536"]),
    "train, a hidden head layer of a billion": (TRAIN_SCRATCH + ["--head-hidden", "1000000000"],
                                                ["head_hidden", "from 1 to 65,536"]),
    "embed, weights with NaN": (EMBED + ["--model", "{d}/model_nan", "x"],
                                ["model_nan/model.safetensors", "layers.0.attention.output.weight",
                                 "NaN"]),
    "embed, a pickle with a broken memo": (EMBED + ["--model", "{d}/bert_memo", "x"],
                                           ["bert_memo/pytorch_model.bin",
                                            "not a readable pickle"]),
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
    "check a missing file": (CHECK + ["attention", "{d}/yours.py:Attention"],
                             ["yours.py", "no such file"]),
    "check a name the file lacks": (CHECK + ["pooling", "{d}/mine.py:mean_pooling"],
                                    ["mine.py", "defines no 'mean_pooling'", "it has: pooling"]),
    "check a file that does not import": (CHECK + ["pooling", "{d}/broken.py:pooling"],
                                          ["broken.py, line 2", "unmatched"]),
    # python -m minitransformer.evaluate
    "sts, missing file": (EVALUATE + ["--model", "{d}/model", "--sts", "{d}/nope.jsonl"],
                          ["nope.jsonl", "no such file"]),
    "sts, row without a score": (EVALUATE + ["--model", "{d}/model", "--sts",
                                             "{d}/sts_no_score.jsonl"],
                                 ["sts_no_score.jsonl, line 1", "missing field 'score'"]),
    "sts, missing model": (EVALUATE + ["--model", "{d}/nothing", "--sts", "{d}/sts_no_score.jsonl"],
                           ["missing field 'score'"]),  # the data is read (and refused) first
}


def runner_case(command, place: Path) -> dict:
    """A CASES command (an argv list, or {"argv", "stdin", "cwd"}) for tests/command_runner.py."""
    case = dict(command) if isinstance(command, dict) else {"argv": command}
    case["argv"] = [word.format(d=place) for word in case["argv"]]
    if "cwd" in case:
        case["cwd"] = case["cwd"].format(d=place)
    return case


@pytest.fixture(scope="module")
def before_cases(place):
    return tree_state(place)


@pytest.fixture(scope="module")
def outcomes(place, before_cases):
    """Every case run once: {case: {"returncode", "stderr"}}."""
    cases = [runner_case(command, place) for command, _ in CASES.values()]
    runner = subprocess.run([sys.executable, str(ROOT / "tests" / "command_runner.py")],
                            input=json.dumps(cases), cwd=ROOT, capture_output=True, text=True,
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


def tree_state(folder: Path) -> dict[str, tuple[int, int]]:
    """{path: (size, modification time in ns)} of every file below `folder`."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_nothing_that_existed_changed(place, outcomes, before_cases):
    """Every file the cases found is as it was: no refused command changed a byte or a time."""
    after = tree_state(place)
    changed = [name for name, state in before_cases.items() if after.get(name) != state]
    assert changed == []


def test_bad_input_writes_nothing(outcomes, place):
    assert not (place / "out").exists()  # no run directory from any failed train.py
    record = json.loads((place / "run" / "run.json").read_text())  # the refused --resume
    assert record["status"] == "finished" and "earlier_commands" not in record
    assert not (place / "out.txt").exists()
    assert not (place / "exported").exists()
    assert not (place / "curves.png").exists()  # no plot of a refused log
    assert not (place / "MARKER").exists()  # the pickle's code never ran
    assert not list(place.glob("**/*.tmp*"))


def test_bytes_that_are_not_utf8_reach_a_fresh_interpreter_as_in_the_cases(place):
    """The forked cases hand the commands what Python makes of the bytes caf\\xe9 (a surrogate
    escape); here the bytes themselves go to a fresh `python embed.py`, as from a shell."""
    command = [sys.executable.encode(), str(ROOT / "embed.py").encode(), b"--model",
               str(place / "model").encode(), b"fine", b"caf\xe9"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=300)
    assert result.returncode == 2 and result.stdout == b"", result.stderr
    assert result.stderr.decode().startswith("error: argument 4: not valid UTF-8: byte 0xe9")
