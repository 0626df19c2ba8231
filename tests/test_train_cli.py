"""train.py end to end: the default two-task run on a shortened schedule, then `evaluate --json`;
token and similarity tasks; the shipped configs; example predictions; --init from a run."""

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from conftest import make_encoder  # noqa: E402

import train  # noqa: E402
from minitransformer.loading import load_model_with_heads  # noqa: E402
from minitransformer.tasks.data import TaskData, TaskSpec, encode_examples  # noqa: E402
from minitransformer.tasks.heads import MultiTaskModel, TokenClassificationHead  # noqa: E402
from minitransformer.tasks.kinds import TOKEN_CLASSIFICATION  # noqa: E402
from minitransformer.tasks.readers import TokenExample  # noqa: E402
from minitransformer.tasks.scoring import example_predictions  # noqa: E402
from minitransformer.training.run_config import RunConfig, read_config_file  # noqa: E402
from minitransformer.training.runs import prepare_run  # noqa: E402
from minitransformer.training.trainer import Trainer  # noqa: E402

DEV = ROOT / "minitransformer" / "default_data" / "dev.jsonl"


def test_default_run_then_evaluate_json(tmp_path, capsys):
    run = tmp_path / "run"
    assert train.main(["--init", "scratch", "--preset", "tiny", "--epochs", "1", "--max-train",
                       "60", "--run-dir", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "from scratch" in printed and "topic=" in printed
    assert "best (step 8), report part" in printed and "final (step 8), select part" in printed
    assert ((run / "best" / "config.json").is_file()
            and (run / "last" / "training_state.pt").is_file())
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "finished" and record["command"].endswith("--run-dir " + str(run))
    assert [t["train"]["examples"] for t in record["tasks"]] == [60, 60]
    assert record["best"]["metrics"]["topic"]["accuracy"] >= 0.0 and record["wall_seconds"] > 0
    # RUN/best was chosen on the select part: its select scores are the ones training logged.
    parts = record["parts"]
    assert parts["best"]["select"] == record["best"]["metrics"]
    assert parts["best"]["step"] == record["best"]["step"] and parts["final"]["step"] == 8
    assert set(parts["final"]["report"]) == {"topic", "sentiment"}

    assert train.main(["evaluate", str(run), "--task", f"topic={DEV}", "--task", f"sentiment={DEV}",
                       "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert set(results) == {"topic", "sentiment"}
    for metrics in results.values():
        assert set(metrics) == {"accuracy", "macro_f1"} and 0.0 <= metrics["accuracy"] <= 1.0
    # The same split of the same file gives the run's own report scores, RUN/best's.
    assert train.main(["evaluate", str(run), "--task", f"topic={DEV}", "--json",
                       "--part", "report"]) == 0
    assert json.loads(capsys.readouterr().out)["topic"] == pytest.approx(
        parts["best"]["report"]["topic"])


def test_kill_saves_the_last_checkpoint_and_resume_finishes_the_run(tmp_path, capsys,
                                                                    monkeypatch):
    run = tmp_path / "run"
    argv = ["--init", "scratch", "--preset", "tiny", "--epochs", "2", "--max-train", "60",
            "--run-dir", str(run)]  # 8 steps an epoch
    end_step = Trainer._end_step

    def killed_after_step_5(trainer, names, losses):
        values = end_step(trainer, names, losses)
        if trainer.state.global_step == 5:
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would
        return values

    def callers_handler(signum, frame):  # reached only if train.py does not catch it
        raise AssertionError("SIGTERM was not handled by train.py")

    monkeypatch.setattr(Trainer, "_end_step", killed_after_step_5)
    default = signal.signal(signal.SIGTERM, callers_handler)
    try:
        assert train.main(argv) == 130
        assert signal.getsignal(signal.SIGTERM) is callers_handler  # given back afterwards
    finally:
        signal.signal(signal.SIGTERM, default)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["steps"] == 5
    assert json.loads((run / "last" / "config.json").read_text())["progress"]["global_step"] == 5
    assert "continue with --resume" in capsys.readouterr().err
    monkeypatch.undo()
    assert train.main(argv + ["--resume"]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "finished" and record["steps"] == 16


def test_print_param_groups_and_errors(tmp_path, capsys):
    assert train.main(["--init", "scratch", "--preset", "tiny", "--print-param-groups",
                       "--run-dir", str(tmp_path / "r")]) == 0
    table = capsys.readouterr().out
    assert "embeddings" in table and "head topic" in table and "total" in table
    assert not (tmp_path / "r").exists()
    (tmp_path / "r" / "best").mkdir(parents=True)  # a run there: printing still writes nothing
    assert train.main(["--init", "scratch", "--preset", "tiny", "--print-param-groups",
                       "--run-dir", str(tmp_path / "r")]) == 0
    assert train.main(["evaluate", str(tmp_path / "missing"), "--task", "topic=x.jsonl"]) == 2
    assert "no such model directory" in capsys.readouterr().err


def test_shipped_configs_define_valid_tasks_that_point_outside_the_repo():
    configs = sorted((ROOT / "configs").glob("*.json"))
    assert len(configs) >= 4
    for path in configs:
        config = read_config_file(path)
        specs = [TaskSpec.from_dict(task) for task in config["tasks"]]
        pretraining = [spec.kind for spec in specs] == ["masked_lm"]
        assert len(specs) >= 2 or pretraining, path.name
        for spec in specs:  # real data is read from ../shared/data, never copied into the repo
            train = Path(spec.train)
            if pretraining:  # text collected from it by tools/pretraining_text.py, under runs/
                assert train.parent.parent == ROOT / "runs", path.name
            else:
                assert train.parent.parent.name == "data" and ROOT not in train.parents


def test_token_and_similarity_tasks_train_end_to_end(tmp_path, capsys):
    conll = tmp_path / "ner.conll"
    conll.write_text("Anna\tB-PER\nlives\tO\nin\tO\nParis\tB-LOC\n\nBob\tB-PER\nSmith\tI-PER\nruns\tO\n\n")
    sts = tmp_path / "sts.jsonl"
    sts.write_text("".join(
        json.dumps({"sentence1": a, "sentence2": b, "score": s}) + "\n" for a, b, s in [
            ("A man runs.", "A man is running.", 4.8), ("A cat sleeps.", "Stocks fell.", 0.2),
            ("Bob cooks rice.", "Bob is cooking.", 3.5), ("Rain again.", "A dog barks.", 0.5)]))
    config = tmp_path / "mixed.json"
    config.write_text(json.dumps({"tasks": [
        {"name": "ner", "kind": "token_classification", "train": "ner.conll", "dev": "ner.conll"},
        {"name": "sts", "kind": "sentence_similarity", "train": "sts.jsonl", "dev": "sts.jsonl"}]}))
    run = tmp_path / "run"
    assert train.main(["--config", str(config), "--init", "scratch", "--preset", "tiny",
                       "--epochs", "2", "--run-dir", str(run)]) == 0
    capsys.readouterr()
    assert train.main(["evaluate", str(run), "--task", f"ner={conll}", "--task", f"sts={sts}",
                       "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert set(results["ner"]) == {"entity_f1"} and set(results["sts"]) == {"spearman", "pearson"}


def test_example_predictions_name_the_entities_found_at_first_sub_words(tokenizer):
    # A head that ignores its input and always says B-PER: every word is its own PER entity.
    # Words that split into several pieces (this small vocabulary splits most of them) must
    # still appear once each and in order: tags are read at first sub-words only.
    labels = ["O", "B-PER", "I-PER"]
    words = ["Transformers", "read", "every", "zebra"]
    examples = [TokenExample(tokens=words, tags=["B-PER", "O", "O", "O"])]
    data = encode_examples(examples, TOKEN_CLASSIFICATION, tokenizer, labels)
    assert len(data[0]["input_ids"]) > len(words) + 2  # at least one word is several pieces
    encoder = make_encoder(tokenizer.vocab_size)
    head = TokenClassificationHead(encoder.config.hidden_size, len(labels))
    with torch.no_grad():
        head.classifier.weight.zero_()
        head.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    model = MultiTaskModel(encoder, {"ner": head})
    spec = TaskSpec.from_dict({"name": "ner", "kind": TOKEN_CLASSIFICATION,
                               "train": "x.conll", "dev": "x.conll"})
    lines = example_predictions(model, [TaskData(spec, labels, data, data)])
    assert lines[-1].endswith("-> ner: Transformers (PER), read (PER), every (PER), zebra (PER)")


def test_init_from_a_run_continues_its_trained_heads(tmp_path):
    """MT-DNN's second stage: --init RUN starts each task from RUN's head of the same name
    when kind and labels match, and from a new head when they do not."""
    first = tmp_path / "first"
    assert train.main(["--init", "scratch", "--preset", "tiny", "--epochs", "1", "--max-train",
                       "40", "--run-dir", str(first), "--progress", "off"]) == 0
    saved = load_model_with_heads(first / "best")[0].heads
    # The same file with the topics renamed: as many labels, other names.
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text("".join(json.dumps({**row, "topic": row["topic"].upper()}) + "\n" for row in
                               map(json.loads, DEV.read_text().splitlines())))
    config_file = tmp_path / "renamed.json"
    config_file.write_text(json.dumps({"tasks": [
        {"name": "topic", "kind": "sentence_classification", "train": str(renamed),
         "dev": str(renamed), "label_field": "topic"},
        {"name": "sentiment", "kind": "sentence_classification", "train": str(DEV), "dev": str(DEV),
         "label_field": "sentiment"}]}))
    logged = []
    config = RunConfig.read(vars(train.training_parser().parse_args(
        ["--config", str(config_file), "--init", str(first),
         "--run-dir", str(tmp_path / "second")])))
    run = prepare_run(config, log=logged.append)
    heads = run.model.heads
    for name, continued in (("sentiment", True), ("topic", False)):
        same = [torch.equal(a, b) for a, b in zip(heads[name].state_dict().values(),
                                                  saved[name].state_dict().values())]
        assert all(same) if continued else not any(same), name
    assert "task sentiment: its trained head from" in "\n".join(logged)
    assert "task topic: a new head" in "\n".join(logged) and "other labels" in "\n".join(logged)
    assert run.start.description.endswith("with its trained head(s) for sentiment")


def test_model_paths_in_a_config_are_relative_to_the_file(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "c.json").write_text(json.dumps({
        "init": "../runs/teacher",
        "tasks": [{"name": "t", "kind": "sentence_classification", "train": "t.jsonl"}],
        "options": {"distill_weight": 1, "distill_from": "../runs/teacher"}}))
    config = read_config_file(folder / "c.json")
    assert config["options"]["distill_from"] == str((tmp_path / "runs" / "teacher").resolve())
    assert config["init"] == config["options"]["distill_from"]
    (folder / "c.json").write_text(json.dumps({
        "tasks": [{"name": "t", "kind": "sentence_classification", "train": "t.jsonl"}],
        "options": {"distill_weight": 1, "distill_from": "minilm"}}))
    assert read_config_file(folder / "c.json")["options"]["distill_from"] == "minilm"
