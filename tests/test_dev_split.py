"""Every dev set in a select and a report part (tasks/dev_split.py): the rule, and that the
report part never reaches a choice."""

import hashlib
import json

import torch
from test_trainer import ROWS, make_trainer, rows_tokenizer

from minitransformer.loading import load_model_with_heads
from minitransformer.tasks.data import TaskSpec, load_task
from minitransformer.tasks.dev_split import REPORT, SELECT, part_of, split_parts
from minitransformer.tasks.readers import PairExample, SentenceExample, TokenExample
from minitransformer.tasks.scoring import report_results

DEFAULT_DEV = "minitransformer/default_data/dev.jsonl"


def test_the_part_is_the_parity_of_the_first_byte_of_the_texts_sha256():
    for text in ["the cat", "the cat lives", "Ünïcödé ✓", ""]:
        odd = hashlib.sha256(text.encode("utf-8")).digest()[0] % 2
        assert part_of(SentenceExample(text, "x")) == (REPORT if odd else SELECT), text
    # The input decides, never the label; words and pairs are joined as the docstring says.
    assert part_of(SentenceExample("the cat", "a")) == part_of(SentenceExample("the cat", "b"))
    assert part_of(TokenExample(["the", "cat"], ["O", "O"])) == \
        part_of(SentenceExample("the cat", "x"))
    assert part_of(PairExample("a", "b", 1.0)) == part_of(SentenceExample("a\tb", "x"))


def test_about_half_of_a_dev_set_falls_in_each_part_in_the_files_order():
    lines = open(DEFAULT_DEV, encoding="utf-8").read().splitlines()
    examples = [SentenceExample(json.loads(line)["text"], "x", number)
                for number, line in enumerate(lines, start=1)]
    parts = split_parts(examples)
    assert len(parts[SELECT]) + len(parts[REPORT]) == len(examples) == 150
    assert 55 <= len(parts[REPORT]) <= 95  # a fair coin's 150 throws, within 3.3 sigma
    for part in parts.values():
        assert [e.line for e in part] == sorted(e.line for e in part)


def write_rows(path, flip_report_labels: bool = False):
    """The rows as a topic/sentiment file; the report part's topics flipped if asked."""
    flip = {"sports": "tech", "tech": "sports"}
    rows = []
    for text, topic, sentiment in ROWS:
        if flip_report_labels and part_of(SentenceExample(text, topic)) == REPORT:
            topic = flip[topic]
        rows.append(json.dumps({"text": text, "topic": topic, "sentiment": sentiment}))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_report_part_never_reaches_the_choice_of_a_checkpoint(tmp_path):
    # Two runs that differ only in the labels of their dev sets' report part: if anything
    # during training read that part (evaluations, RUN/best's choice), their records would
    # differ, since flipped labels change every score measured on it.
    tokenizer, train = rows_tokenizer(), write_rows(tmp_path / "train.jsonl")
    assert {part_of(SentenceExample(text, "")) for text, _, _ in ROWS} == {SELECT, REPORT}
    runs = {}
    for name, flipped in (("plain", False), ("flipped", True)):
        dev = write_rows(tmp_path / f"dev_{name}.jsonl", flip_report_labels=flipped)
        specs = [TaskSpec(task, "sentence_classification", train, dev, label_field=task)
                 for task in ("topic", "sentiment")]
        trainer = make_trainer(tokenizer, specs, tmp_path / name, dropout=0.1, epochs=15,
                               eval_every=4, lr=3e-3, head_lr=1e-2)
        trainer.train()
        best = load_model_with_heads(tmp_path / name / "best").model
        runs[name] = (trainer.state.history, best.state_dict(),
                      report_results(best, [load_task(specs[0], tokenizer)])["topic"])
    (history, best, report), (history_f, best_f, report_f) = runs["plain"], runs["flipped"]
    strip = [{k: v for k, v in e.items() if k not in ("train_seconds", "elapsed_s")}
             for e in history]
    assert strip == [{k: v for k, v in e.items() if k not in ("train_seconds", "elapsed_s")}
                     for e in history_f]
    assert all(torch.equal(best[key], best_f[key]) for key in best)
    assert report["accuracy"] != report_f["accuracy"]  # the report part would have changed it
