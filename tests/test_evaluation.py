"""Scoring a multi-task model: the modes it leaves the model in, and metrics that are undefined
(a correlation of equal scores) reported as such, from the table to the commands, instead of a
crash."""

import json
import math
import sys
import warnings
from pathlib import Path

import torch
from conftest import CORPUS, make_encoder

from minitransformer.evaluate import main as evaluate_main
from minitransformer.plot import series_of
from minitransformer.sentence import SentenceEncoder
from minitransformer.tasks.data import TaskData, TaskSpec, encode_examples
from minitransformer.tasks.heads import (
    MultiTaskModel,
    SentenceClassificationHead,
    SimilarityObjective,
)
from minitransformer.tasks.kinds import SENTENCE_CLASSIFICATION, SENTENCE_SIMILARITY
from minitransformer.tasks.readers import PairExample, SentenceExample
from minitransformer.tasks.scoring import (
    evaluate_task,
    example_predictions,
    format_results,
    main_score,
)
from minitransformer.training import runs as runs_module
from minitransformer.training.freezing import apply_freezing
from minitransformer.training.progress import METRICS_FILE, read_metrics

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402


def similarity_task(tokenizer, scores) -> TaskData:
    """An STS task of len(scores) pairs of CORPUS sentences; its dev set is its train set."""
    pairs = [PairExample(CORPUS[i], CORPUS[-1 - i], score) for i, score in enumerate(scores)]
    data = encode_examples(pairs, SENTENCE_SIMILARITY, tokenizer)
    spec = TaskSpec("sts", SENTENCE_SIMILARITY, "sts.jsonl", "sts.jsonl")
    return TaskData(spec, None, data, data)


def topic_task(tokenizer) -> TaskData:
    examples = [SentenceExample(text, "ab"[i % 2]) for i, text in enumerate(CORPUS)]
    data = encode_examples(examples, SENTENCE_CLASSIFICATION, tokenizer, ["a", "b"])
    spec = TaskSpec("topic", SENTENCE_CLASSIFICATION, "topic.jsonl", "topic.jsonl")
    return TaskData(spec, ["a", "b"], data, data)


def two_task_model(tokenizer) -> MultiTaskModel:
    encoder = make_encoder(tokenizer.vocab_size, num_layers=3, dropout=0.1)
    return MultiTaskModel(encoder, {"topic": SentenceClassificationHead(32, 2),
                                    "sts": SimilarityObjective()})


# ---- modes ------------------------------------------------------------------------------------
def test_scoring_gives_back_the_modes_it_found_module_by_module(tokenizer):
    model = two_task_model(tokenizer)
    tasks = [topic_task(tokenizer), similarity_task(tokenizer, [4.0, 1.0, 2.5])]
    apply_freezing(model, "layers:1")
    model.train_unfrozen()  # as in training: the frozen blocks in eval mode, the rest training
    found = [module.training for module in model.modules()]
    assert any(found) and not all(found)
    for task in tasks:
        evaluate_task(model, task)
        assert [module.training for module in model.modules()] == found, task.spec.name
    example_predictions(model, tasks)
    assert [module.training for module in model.modules()] == found
    assert not torch.is_inference_mode_enabled()
    model.eval()  # a model found in eval mode stays in it
    evaluate_task(model, tasks[0])
    assert not any(module.training for module in model.modules())


def test_scoring_runs_in_eval_mode(tokenizer):
    """Dropout off while scoring, whatever mode the model was in: the same numbers twice."""
    model = two_task_model(tokenizer).train()
    task = similarity_task(tokenizer, [4.0, 1.0, 2.5, 0.5])
    assert evaluate_task(model, task) == evaluate_task(model.eval(), task)


# ---- undefined metrics -------------------------------------------------------------------------
def test_a_similarity_dev_set_of_equal_scores_or_one_pair_is_undefined(tokenizer):
    model = two_task_model(tokenizer)
    for scores in ([2.5, 2.5, 2.5], [3.0]):
        results = evaluate_task(model, similarity_task(tokenizer, scores))
        assert results == {"spearman": None, "pearson": None}, scores
    defined = evaluate_task(model, similarity_task(tokenizer, [4.0, 1.0, 2.5]))
    assert all(isinstance(value, float) for value in defined.values())


def test_main_score_is_undefined_when_a_main_metric_is(tokenizer):
    tasks = [topic_task(tokenizer), similarity_task(tokenizer, [1.0, 2.0])]
    results = {"topic": {"accuracy": 0.75, "macro_f1": 0.5},
               "sts": {"spearman": 0.25, "pearson": None}}
    assert main_score(results, tasks) == (0.75 + 0.25) / 2  # pearson is not a main metric
    results["sts"]["spearman"] = None
    assert main_score(results, tasks) is None


def test_format_results_prints_undefined_metrics_as_such():
    table = format_results({"topic": {"accuracy": 0.75}, "sts": {"spearman": None, "pearson": 0.5}})
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:4]}
    # columns in name order: accuracy, pearson, spearman; topic has only accuracy
    assert rows == {"topic": ["0.7500"], "sts": ["0.5000", "undefined"]}
    assert "every gold score, or every prediction, is the same" in table.splitlines()[-1]
    assert "undefined" not in format_results({"topic": {"accuracy": 0.75}})


def jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_run_whose_dev_metric_is_undefined_trains_and_saves(tmp_path, capsys, monkeypatch):
    jsonl(tmp_path / "topic.jsonl", [{"text": text, "label": "ab"[i % 2]}
                                              for i, text in enumerate(CORPUS)])
    pairs = list(zip(CORPUS, CORPUS[::-1]))
    jsonl(tmp_path / "sts_train.jsonl", [{"sentence1": a, "sentence2": b, "score": i}
                                                     for i, (a, b) in enumerate(pairs)])
    sts_dev = jsonl(tmp_path / "sts_dev.jsonl", [{"sentence1": a, "sentence2": b, "score": 2.5}
                                                 for a, b in pairs])
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"tasks": [
        {"name": "topic", "kind": "sentence_classification", "train": "topic.jsonl",
         "dev": "topic.jsonl"},
        {"name": "sts", "kind": "sentence_similarity", "train": "sts_train.jsonl",
         "dev": "sts_dev.jsonl"}]}))
    run = tmp_path / "run"
    assert train.main(["--config", str(config), "--init", "scratch", "--preset", "tiny",
                       "--epochs", "2", "--run-dir", str(run), "--progress", "off"]) == 0
    assert "undefined" in capsys.readouterr().out  # in the dev table of each evaluation
    assert (run / "best" / "model.safetensors").is_file()
    assert (run / "last" / "model.safetensors").is_file()
    evaluations = [r for r in read_metrics(run / METRICS_FILE) if r["type"] == "eval"]
    assert len(evaluations) == 2
    for record in evaluations:
        assert record["score"] is None and record["metrics"]["sts"]["spearman"] is None
        assert isinstance(record["metrics"]["topic"]["accuracy"], float)
    assert json.loads((run / "run.json").read_text())["best"] is None  # no score chose one
    assert "sts" not in series_of(evaluations).metrics  # the curves skip the undefined
    assert "accuracy" in series_of(evaluations).metrics["topic"]
    trims = []  # the evaluate command gives free heap pages back after each batch (memory.py)
    monkeypatch.setattr(runs_module, "heap_trimmer", lambda: lambda: trims.append(1))
    assert train.main(["evaluate", str(run), "--task", f"sts={sts_dev}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sts": {"spearman": None, "pearson": None}}
    assert len(trims) == math.ceil(len(pairs) / 64)  # the command's batch size


def test_evaluate_command_reports_an_undefined_correlation(tmp_path, tokenizer, capsys):
    """python -m minitransformer.evaluate on equal gold scores and on a single pair: exit 0, no
    warning and no traceback, the correlations null in the JSON. (Warnings are made errors, so
    a NumPy "invalid value" on the way fails the test too.)"""
    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(tmp_path / "model")
    files = {"equal": jsonl(tmp_path / "equal.jsonl", [
                 {"sentence1": CORPUS[i], "sentence2": CORPUS[i + 1], "score": 3.0}
                 for i in range(3)]),
             "single": jsonl(tmp_path / "single.jsonl", [
                 {"sentence1": CORPUS[0], "sentence2": CORPUS[1], "score": 4.2}])}
    for name, path in files.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert evaluate_main(["--model", str(tmp_path / "model"), "--sts", str(path),
                                  "--json"]) == 0, name
        captured = capsys.readouterr()
        assert captured.err == "", captured.err
        printed = json.loads(captured.out)
        assert printed["spearman"] is None and printed["pearson"] is None, name
        assert printed["pairs"] == {"equal": 3, "single": 1}[name]
    # Without --json: the word, not a number and not a crash.
    assert evaluate_main(["--model", str(tmp_path / "model"), "--sts", str(files["single"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["spearman", "undefined", "pearson", "undefined"]
    assert "every gold score, or every cosine, is the same" in lines[2]


def test_evaluate_command_scores_one_part_of_a_file(tmp_path, tokenizer, capsys):
    """--part select / report: the pairs that dev_split.py puts there, and together the file."""
    from minitransformer.tasks.dev_split import split_parts
    from minitransformer.tasks.kinds import SENTENCE_SIMILARITY, read_examples

    SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size)).save(tmp_path / "model")
    path = jsonl(tmp_path / "pairs.jsonl", [
        {"sentence1": a, "sentence2": b, "score": float(i % 5)}
        for i, (a, b) in enumerate(zip(CORPUS, CORPUS[1:] + CORPUS[:1]))])
    expected = {part: len(pairs) for part, pairs in
                split_parts(read_examples(path, SENTENCE_SIMILARITY)).items()}
    assert min(expected.values()) > 0  # both parts hold pairs, so the counts can tell them apart
    counts = {}
    for part in ("all", "select", "report"):
        assert evaluate_main(["--model", str(tmp_path / "model"), "--sts", str(path), "--json",
                              "--part", part]) == 0
        printed = json.loads(capsys.readouterr().out)
        counts[part] = printed["pairs"]
        assert printed["part"] == part
    assert counts == {"all": len(CORPUS), **expected}
