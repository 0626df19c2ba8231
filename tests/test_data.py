"""Tests of tasks and data: specs, readers and their errors, label maps, token-label alignment,
padded batches, epoch order and sharding, task samplers. Every file is written in tmp_path."""

import json
import math
from itertools import islice
from pathlib import Path

import pytest
import torch

from minitransformer.model.tokenizer import Tokenizer
from minitransformer.tasks.data import (
    EncodedDataset,
    TaskSpec,
    build_label_map,
    check_labels,
    encode_examples,
    endless_batches,
    epoch_order,
    iterate_batches,
    load_task,
)
from minitransformer.tasks.kinds import IGNORE_INDEX, align_labels, get_kind, read_examples
from minitransformer.tasks.readers import (
    DataError,
    PairExample,
    SentenceExample,
    TokenExample,
    read_conll,
)
from minitransformer.tasks.samplers import (
    ProportionalSampler,
    RoundRobinSampler,
    TemperatureSampler,
    make_sampler,
)

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# A hand-made WordPiece vocabulary; the id of a token is its line number (from 0).
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",  # 0-4
         "the", "cat", "un", "##believ", "##able",  # 5-9
         "york", "##er", "##s", "new", "lives", "in", "."]  # 10-16
CLS, SEP, PAD, UNK = 2, 3, 0, 1


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, rows) -> Path:
    return write(path, "".join(json.dumps(row) + "\n" for row in rows))


@pytest.fixture
def small_tokenizer(tmp_path):
    write(tmp_path / "vocab.txt", "\n".join(VOCAB) + "\n")
    return Tokenizer.from_vocab(tmp_path / "vocab.txt", max_length=32)


# ---- TaskSpec -----------------------------------------------------------------------------------
def test_task_spec_defaults_depend_on_the_kind():
    sentence = TaskSpec("sst2", "sentence_classification", "train.jsonl")
    assert (sentence.text_field, sentence.label_field, sentence.second_text_field) == \
        ("text", "label", None)
    assert sentence.metrics == ("accuracy", "macro_f1")
    pair = TaskSpec("stsb", "sentence_similarity", "train.csv", dev="dev.tsv")
    assert (pair.text_field, pair.second_text_field, pair.label_field) == \
        ("sentence1", "sentence2", "score")
    assert pair.metrics == ("spearman", "pearson")
    ner = TaskSpec("ner", "token_classification", "train.conll")
    assert (ner.text_field, ner.label_field, ner.second_text_field) == (None, None, None)
    assert ner.metrics == ("entity_f1",)


def test_task_spec_round_trips_through_json(tmp_path):
    spec = TaskSpec("topic", "sentence_classification", tmp_path / "train.jsonl",
                    dev=tmp_path / "dev.jsonl", label_field="topic")
    values = json.loads(json.dumps(spec.to_dict()))  # Paths became strings, so this works
    assert values["train"] == str(tmp_path / "train.jsonl")
    assert TaskSpec.from_dict(values) == spec


def test_task_spec_rejects_bad_values():
    good = {"name": "sst2", "kind": "sentence_classification", "train": "train.jsonl"}
    with pytest.raises(ValueError, match="unknown TaskSpec field.*: colour, lr"):
        TaskSpec.from_dict({**good, "lr": 1e-3, "colour": "red"})
    with pytest.raises(ValueError, match="missing TaskSpec field.*: train"):
        TaskSpec.from_dict({"name": "sst2", "kind": "sentence_classification"})
    with pytest.raises(ValueError, match="unknown kind 'regression'"):
        TaskSpec.from_dict({**good, "kind": "regression"})
    with pytest.raises(ValueError, match="reads .conll files, not .jsonl"):
        TaskSpec("ner", "token_classification", "train.jsonl")
    with pytest.raises(DataError, match="dev.conll.*not .conll"):
        TaskSpec("sst2", "sentence_classification", "train.jsonl", dev="dev.conll")
    with pytest.raises(ValueError, match="has no text_field .*its files have no field names"):
        TaskSpec("ner", "token_classification", "train.conll", text_field="word")
    with pytest.raises(ValueError, match="sentence_classification task has no second_text_field"):
        TaskSpec("sst2", "sentence_classification", "t.csv", second_text_field="b")
    for bad in (0, 2.5, True, "100"):
        with pytest.raises(ValueError, match="max_train must be an integer >= 1"):
            TaskSpec.from_dict({**good, "max_train": bad})


# ---- readers: good files ------------------------------------------------------------------------
def test_jsonl_reader(tmp_path):
    # A byte-order mark, Windows line ends, a blank line, an integer label, a U+2028 inside a text.
    path = write(tmp_path / "train.jsonl",
                 '\ufeff{"text": "a good film", "label": "positive"}\r\n\n'
                 '{"text": "line\u2028sep", "label": 3, "extra": 1}\r\n')
    examples = read_examples(path, "sentence_classification")
    assert examples == [SentenceExample("a good film", "positive"),
                        SentenceExample("line\u2028sep", "3")]
    assert [example.line for example in examples] == [1, 3]


def test_csv_reader_with_quotes_and_own_field_names(tmp_path):
    path = write(tmp_path / "train.csv",
                 'id,sentence,y\n1,"hello, world",greeting\n\n2,"two\nlines",odd\n3,x,"y"\n')
    examples = read_examples(path, "sentence_classification", text_field="sentence",
                             label_field="y")
    assert examples == [SentenceExample("hello, world", "greeting"),
                        SentenceExample("two\nlines", "odd"), SentenceExample("x", "y")]
    assert [example.line for example in examples] == [2, 4, 6]  # a row's *first* line


def test_tsv_reader_keeps_quote_marks(tmp_path):
    path = write(tmp_path / "dev.tsv", 'text\tlabel\nhe said "wow\tpositive\n')
    assert read_examples(path, "sentence_classification") == \
        [SentenceExample('he said "wow', "positive")]


def test_similarity_readers_parse_scores(tmp_path):
    a = jsonl(tmp_path / "a.jsonl", [{"sentence1": "x", "sentence2": "y", "score": 4},
                                     {"sentence1": "p", "sentence2": "q", "score": 0.25}])
    b = write(tmp_path / "b.csv", "s1,s2,gold\nx,y, 4.0\n")
    assert read_examples(a, "sentence_similarity") == \
        [PairExample("x", "y", 4.0), PairExample("p", "q", 0.25)]
    examples = read_examples(b, "sentence_similarity", "s1", "gold", "s2")
    assert examples == [PairExample("x", "y", 4.0)] and type(examples[0].score) is float


def test_conll_reader(tmp_path):
    # Two blank lines between sentences, \r\n line ends, no blank line at the end.
    path = write(tmp_path / "train.conll",
                 "EU\tB-ORG\r\nrejects\tO\r\n\r\n\r\nPeter\tB-PER\nBlackburn\tI-PER")
    sentences = read_examples(path, "token_classification")
    assert sentences == [TokenExample(["EU", "rejects"], ["B-ORG", "O"]),
                         TokenExample(["Peter", "Blackburn"], ["B-PER", "I-PER"])]
    assert [sentence.line for sentence in sentences] == [1, 5]


# ---- readers: bad files, each error names the file and line -------------------------------------
@pytest.mark.parametrize("name, text, where, what", [
    ("bad.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": }\n', 2, "not valid JSON"),
    ("bad.jsonl", '{"text": "a", "label": "x"}\n["b", "x"]\n', 2, "expected a JSON object"),
    ("bad.jsonl", '{"text": "a", "label": "x"}\n\n{"text": "b"}\n', 3, "missing field 'label'"),
    ("bad.jsonl", '{"text": 7, "label": "x"}\n', 1, "'text' must be a string"),
    ("bad.jsonl", '{"text": "a", "label": true}\n', 1, "string or an integer"),
    ("bad.jsonl", '{"text": "a", "label": ["x"]}\n', 1, "string or an integer"),
    ("bad.csv", "text,label\na,x\nb,x,extra\n", 3, "expected 2 fields .as in the header., got 3"),
    ("bad.csv", 'text,label\na,x\n"b"c,x\n', 3, "malformed row"),
    ("bad.csv", "text,label\na,x\nb,\n", 3, "empty label"),
    ("bad.csv", "text,text\na,x\n", 1, "duplicate column.*text"),
    ("bad.csv", "sentence,label\na,x\n", 2, "missing field 'text'"),
    ("bad.tsv", "text\tlabel\na\tx\nb x\n", 3, "expected 2 fields"),
])
def test_malformed_records_are_reported_with_file_and_line(tmp_path, name, text, where, what):
    path = write(tmp_path / name, text)
    with pytest.raises(DataError, match=f"{name}, line {where}: .*{what}") as caught:
        read_examples(path, "sentence_classification")
    assert caught.value.line == where and caught.value.path == str(path)


@pytest.mark.parametrize("line", ["Peter B-PER", "Peter\tB-PER\textra", "\tO", "Peter\t"])
def test_malformed_conll_line(tmp_path, line):
    path = write(tmp_path / "bad.conll", f"EU\tB-ORG\n\nthe\tO\n{line}\n")
    with pytest.raises(DataError, match="bad.conll, line 4: "):
        read_conll(path)


@pytest.mark.parametrize("name, text, what", [
    ("s.jsonl", '{"sentence1": "a", "sentence2": "b", "score": "high"}\n', "not a number: 'high'"),
    ("s.jsonl", '{"sentence1": "a", "sentence2": "b", "score": null}\n', "not a number: None"),
    ("s.jsonl", '{"sentence1": "a", "sentence2": "b", "score": true}\n', "not a number: True"),
    ("s.jsonl", '{"sentence1": "a", "sentence2": "b", "score": NaN}\n', "not a finite number"),
    ("s.csv", "sentence1,sentence2,score\na,b,n/a\n", "not a number: 'n/a'"),
    ("s.jsonl", '{"sentence1": "a", "score": 1.0}\n', "missing field 'sentence2'"),
])
def test_bad_similarity_rows(tmp_path, name, text, what):
    path = write(tmp_path / name, text)
    line = 2 if name.endswith(".csv") else 1
    with pytest.raises(DataError, match=f"{name}, line {line}: .*{what}"):
        read_examples(path, "sentence_similarity")


@pytest.mark.parametrize("name, kind, text", [
    ("empty.jsonl", "sentence_classification", ""),
    ("blank.jsonl", "sentence_classification", "\n  \n"),
    ("header_only.csv", "sentence_classification", "text,label\n"),
    ("empty.tsv", "sentence_similarity", ""),
    ("blank.conll", "token_classification", "\n\n"),
])
def test_a_file_without_examples_is_an_error(tmp_path, name, kind, text):
    with pytest.raises(DataError, match=f"{name}: no examples"):
        read_examples(write(tmp_path / name, text), kind)


@pytest.mark.parametrize("name, kind", [("latin1.jsonl", "sentence_classification"),
                                        ("latin1.csv", "sentence_classification"),
                                        ("latin1.conll", "token_classification")])
def test_a_file_that_is_not_utf8(tmp_path, name, kind):
    good = {"jsonl": b'{"text": "a", "label": "x"}\n', "csv": b"text,label\n",
            "conll": b"the\tO\n"}[name.split(".")[1]]
    path = tmp_path / name
    path.write_bytes(good + "caf\u00e9\tO\n".encode("latin-1"))  # \xe9 alone is not UTF-8
    offset = len(good) + 3
    with pytest.raises(DataError, match=f"{name}, line 2: not valid UTF-8: byte 0xe9 at byte "
                                        f"offset {offset}"):
        read_examples(path, kind)


def test_unknown_extension(tmp_path):
    with pytest.raises(DataError, match="notes.txt: a sentence_classification task reads "
                                        r"\.jsonl / \.csv / \.tsv files, not \.txt"):
        read_examples(write(tmp_path / "notes.txt", "text\n"), "sentence_classification")


# ---- label maps ---------------------------------------------------------------------------------
def test_label_map_is_sorted_and_independent_of_order():
    examples = [SentenceExample("a", "pos"), SentenceExample("b", "neg"),
                SentenceExample("c", "neutral"), SentenceExample("d", "pos")]
    assert build_label_map(examples, "sentence_classification") == ["neg", "neutral", "pos"]
    assert build_label_map(examples[::-1], "sentence_classification") == ["neg", "neutral", "pos"]
    tokens = [TokenExample(["x", "y"], ["O", "B-PER"]), TokenExample(["z"], ["I-PER"])]
    assert json.loads(json.dumps(build_label_map(tokens, "token_classification"))) == [
        "B-PER", "I-PER", "O"]
    with pytest.raises(ValueError, match="no class labels"):
        build_label_map([PairExample("a", "b", 1.0)], "sentence_similarity")


def test_unknown_dev_label_names_file_line_and_label(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": "neg"},
                                             {"text": "b", "label": "pos"}])
    dev = jsonl(tmp_path / "dev.jsonl", [{"text": "c", "label": "pos"},
                                         {"text": "d", "label": "neutral"}])
    label_map = build_label_map(read_examples(train, "sentence_classification"),
                                "sentence_classification")
    dev_examples = read_examples(dev, "sentence_classification")
    with pytest.raises(DataError, match="dev.jsonl, line 2: label 'neutral' is not in the label "
                                        r"map of the training data \(neg, pos\)"):
        check_labels(dev_examples, label_map, "sentence_classification", dev)

    # In a CoNLL file the line is the one of the offending tag, not of the sentence.
    dev_conll = write(tmp_path / "dev.conll", "EU\tB-ORG\n\nthe\tO\nKing\tB-TITLE\n")
    with pytest.raises(DataError, match="dev.conll, line 4: label 'B-TITLE'"):
        check_labels(read_conll(dev_conll), ["B-ORG", "O"], "token_classification", dev_conll)


def test_load_task_builds_or_keeps_the_label_map(tmp_path, small_tokenizer):
    jsonl(tmp_path / "train.jsonl", [{"text": "the cat", "topic": "pets"},
                                     {"text": "new york", "topic": "city"}])
    # "the cat" falls in the dev set's select part (dev_split.py), the part training reads.
    jsonl(tmp_path / "dev.jsonl", [{"text": "the cat", "topic": "pets"}])
    spec = TaskSpec("topic", "sentence_classification", tmp_path / "train.jsonl",
                    tmp_path / "dev.jsonl", label_field="topic")
    task = load_task(spec, small_tokenizer)
    assert task.label_map == ["city", "pets"]
    assert [item["label"] for item in task.train] == [1, 0]
    assert task.dev[0] == {"input_ids": [CLS, 5, 6, SEP], "label": 1} and task.report is None
    # A saved label map (from a checkpoint) keeps its ids even if sorting would differ.
    assert [item["label"] for item in load_task(spec, small_tokenizer, ["pets", "city"]).train] \
        == [0, 1]
    jsonl(tmp_path / "dev.jsonl", [{"text": "the cat", "topic": "pets"},
                                   {"text": "a dog", "topic": "dogs"}])
    with pytest.raises(DataError, match="dev.jsonl, line 2: label 'dogs'"):
        load_task(spec, small_tokenizer)


def test_the_smaller_of_the_task_and_run_subsample_sizes_wins(tmp_path, small_tokenizer):
    rows = [{"text": "the cat" if i % 2 else "new york", "label": str(i)} for i in range(20)]
    path = jsonl(tmp_path / "train.jsonl", rows)
    spec = TaskSpec("t", "sentence_classification", path, max_train=5)
    labels = lambda task: sorted(task.label_map[item["label"]] for item in task.train)  # noqa: E731
    own = load_task(spec, small_tokenizer, seed=1)
    assert len(own.train) == 5 and labels(own) == labels(load_task(spec, small_tokenizer, seed=1))
    assert labels(own) != labels(load_task(spec, small_tokenizer, seed=2))  # seeded, random
    assert len(load_task(spec, small_tokenizer, max_train=3).train) == 3  # the run's is smaller
    assert len(load_task(spec, small_tokenizer, max_train=50).train) == 5  # the task's is
    plain = TaskSpec("t", "sentence_classification", path)
    assert len(load_task(plain, small_tokenizer).train) == 20


# ---- token-label alignment ----------------------------------------------------------------------
def test_align_labels_by_hand():
    #           [CLS] w0    w1 w1   w2 w2 w2 [SEP]
    word_ids = [None, 0, 1, 1, 2, 2, 2, None]
    assert align_labels(word_ids, [7, 8, 9]) == [-100, 7, 8, -100, 9, -100, -100, -100]
    # A word with no token at all (word 1 here) simply gets no label.
    assert align_labels([None, 0, 2, None], [7, 8, 9]) == [-100, 7, 9, -100]


def test_first_sub_word_carries_the_tag(small_tokenizer):
    sentence = TokenExample(["The", "New", "Yorkers", "are", "unbelievable", "."],
                            ["O", "B-MISC", "I-MISC", "O", "O", "O"])
    label_map = build_label_map([sentence], "token_classification")  # B-MISC 0, I-MISC 1, O 2
    data = encode_examples([sentence], "token_classification", small_tokenizer, label_map)
    # [CLS] the new york ##er ##s [UNK] un ##believ ##able . [SEP]  ("are" is not in VOCAB)
    assert data[0]["input_ids"] == [CLS, 5, 13, 10, 11, 12, UNK, 7, 8, 9, 16, SEP]
    assert data[0]["labels"] == [-100, 2, 0, 1, -100, -100, 2, 2, -100, -100, 2, -100]
    assert data.words_without_label == 0


def test_truncated_words_lose_their_labels(small_tokenizer):
    short = Tokenizer(small_tokenizer.backend, max_length=6)
    sentence = TokenExample(["The", "New", "Yorkers", "are", "unbelievable", "."],
                            ["O", "B-MISC", "I-MISC", "O", "O", "O"])
    data = encode_examples([sentence], "token_classification", short, ["B-MISC", "I-MISC", "O"])
    # [CLS] the new york ##er [SEP]: "Yorkers" keeps its first piece and so its label.
    assert data[0]["input_ids"] == [CLS, 5, 13, 10, 11, SEP]
    assert data[0]["labels"] == [-100, 2, 0, 1, -100, -100]
    assert data.words_without_label == 3  # are, unbelievable, .


def test_a_word_the_normaliser_erases_has_no_label(small_tokenizer):
    sentence = TokenExample(["the", "\u200b", "cat"], ["O", "B-X", "O"])  # zero-width space
    data = encode_examples([sentence], "token_classification", small_tokenizer, ["B-X", "O"])
    assert data[0]["input_ids"] == [CLS, 5, 6, SEP]
    assert data[0]["labels"] == [-100, 1, 1, -100]
    assert data.words_without_label == 1


# ---- padded batches -----------------------------------------------------------------------------
def test_sentence_batch_pads_to_the_longest_in_the_batch(small_tokenizer):
    examples = [SentenceExample("the cat", "b"), SentenceExample("new york cats lives in", "a")]
    data = encode_examples(examples, "sentence_classification", small_tokenizer, ["a", "b"])
    batch = data.collate([data[0], data[1]])
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert batch["input_ids"].tolist() == [[CLS, 5, 6, SEP, PAD, PAD, PAD, PAD],
                                           [CLS, 13, 10, 6, 12, 14, 15, SEP]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0, 0, 0], [1] * 8]
    assert batch["labels"].tolist() == [1, 0] and batch["labels"].dtype == torch.long
    # One short sentence alone is not padded to the other's length.
    assert data.collate([data[0]])["input_ids"].shape == (1, 4)


def test_token_batch_labels_are_ignored_at_padding(small_tokenizer):
    examples = [TokenExample(["the", "cats"], ["O", "B-X"]), TokenExample(["cat"], ["B-X"])]
    data = encode_examples(examples, "token_classification", small_tokenizer, ["B-X", "O"])
    batch = get_kind("token_classification").collate([data[0], data[1]], small_tokenizer)
    assert batch["input_ids"].tolist() == [[CLS, 5, 6, 12, SEP], [CLS, 6, SEP, PAD, PAD]]
    assert batch["labels"].tolist() == [[-100, 1, 0, -100, -100], [-100, 0, -100, -100, -100]]
    assert batch["labels"].shape == batch["attention_mask"].shape == (2, 5)
    # Every padding position is ignored by the loss.
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE_INDEX).all()


def test_similarity_batch_pads_each_side_on_its_own(small_tokenizer):
    examples = [PairExample("the cat", "new york lives in the cat", 4.5),
                PairExample("the", "cat", 0.0)]
    data = encode_examples(examples, "sentence_similarity", small_tokenizer)
    batch = data.collate([data[0], data[1]])
    assert set(batch) == {"input_ids_a", "attention_mask_a", "input_ids_b", "attention_mask_b",
                          "scores"}
    assert batch["input_ids_a"].tolist() == [[CLS, 5, 6, SEP], [CLS, 5, SEP, PAD]]
    assert batch["attention_mask_b"].tolist() == [[1] * 8, [1, 1, 1, 0, 0, 0, 0, 0]]
    assert batch["scores"].dtype == torch.float32 and batch["scores"].tolist() == [4.5, 0.0]
    # Real tokens 4 + 3 on side a, 8 + 3 on side b; both sides run as one batch padded to
    # the longer side: 2 sides x 2 rows x 8 positions.
    assert data.kind.count_tokens(batch) == (4 + 3 + 8 + 3, 2 * 2 * 8)


def test_a_single_text_batch_counts_its_real_tokens_and_its_positions(small_tokenizer):
    examples = [SentenceExample("the cat", "a"), SentenceExample("cat", "b")]
    data = encode_examples(examples, "sentence_classification", small_tokenizer, ["a", "b"])
    # [CLS] the cat [SEP] and [CLS] cat [SEP] [PAD]: 4 + 3 real tokens in 2 x 4 positions
    assert data.kind.count_tokens(data.collate([data[0], data[1]])) == (7, 8)


def test_dataset_works_with_torch_dataloader(small_tokenizer):
    examples = [SentenceExample("the cat", "a"), SentenceExample("cat", "b")] * 3
    data = encode_examples(examples, "sentence_classification", small_tokenizer, ["a", "b"])
    loader = torch.utils.data.DataLoader(data, batch_size=4, collate_fn=data.collate)
    assert [batch["labels"].tolist() for batch in loader] == [[0, 1, 0, 1], [0, 1]]


# ---- epoch order, batches, sharding -------------------------------------------------------------
def numbered_dataset(tokenizer, size):
    """A dataset whose label is the example's index, so batches show which examples they hold."""
    items = [{"input_ids": [CLS] + [5] * (index % 4) + [SEP], "label": index}
             for index in range(size)]
    return EncodedDataset("sentence_classification", items, tokenizer)


def test_one_epoch_visits_every_example_once(small_tokenizer):
    data = numbered_dataset(small_tokenizer, 23)
    batches = [batch["labels"].tolist() for batch in iterate_batches(data, 5, generator=7)]
    assert [len(batch) for batch in batches] == [5, 5, 5, 5, 3]
    seen = [index for batch in batches for index in batch]
    assert sorted(seen) == list(range(23)) and seen != list(range(23))  # shuffled
    again = [batch["labels"].tolist() for batch in iterate_batches(data, 5, generator=7)]
    assert again == batches  # the same seed, the same order
    assert epoch_order(23, 8) != epoch_order(23, 7)
    assert epoch_order(23, None) == list(range(23))  # no generator: file order, for evaluation


def test_a_generator_advances_from_epoch_to_epoch(small_tokenizer):
    generator = torch.Generator().manual_seed(3)
    first, second = epoch_order(50, generator), epoch_order(50, generator)
    assert first != second and sorted(first) == sorted(second) == list(range(50))
    data = numbered_dataset(small_tokenizer, 6)
    stream = endless_batches(data, 4, generator=3)
    epochs = [batch["labels"].tolist() for batch in islice(stream, 4)]  # 4 + 2, then 4 + 2
    assert [len(batch) for batch in epochs] == [4, 2, 4, 2]
    assert sorted(epochs[0] + epochs[1]) == sorted(epochs[2] + epochs[3]) == list(range(6))
    assert epochs[0] + epochs[1] != epochs[2] + epochs[3]


def test_shards_are_disjoint_and_cover_the_epoch():
    full = epoch_order(11, 5)
    shards = [epoch_order(11, 5, rank=rank, world_size=3) for rank in range(3)]
    assert shards == [full[0::3], full[1::3], full[2::3]]
    assert sorted(index for shard in shards for index in shard) == list(range(11))
    assert [len(shard) for shard in shards] == [4, 4, 3]
    with pytest.raises(ValueError, match="rank must be in"):
        epoch_order(11, 5, rank=3, world_size=3)


def test_sharded_batches(small_tokenizer):
    data = numbered_dataset(small_tokenizer, 10)
    per_rank = [[index for batch in iterate_batches(data, 2, 1, rank, 2)
                 for index in batch["labels"].tolist()] for rank in range(2)]
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == list(range(10))


# ---- task samplers ------------------------------------------------------------------------------
SIZES = {"sst2": 6920, "stsb": 5749, "ner": 14041, "tiny": 100}


def test_round_robin_sequence():
    sampler = RoundRobinSampler(["a", "b", "c"])
    assert list(islice(sampler, 7)) == ["a", "b", "c", "a", "b", "c", "a"]
    assert sampler.probabilities() == {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}
    assert list(islice(make_sampler("round_robin", {"x": 5, "y": 1}), 3)) == ["x", "y", "x"]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 5.0])
def test_temperature_probabilities_follow_the_formula(temperature):
    sampler = TemperatureSampler(SIZES, temperature=temperature, seed=0)
    total = sum(n ** (1 / temperature) for n in SIZES.values())
    expected = {name: n ** (1 / temperature) / total for name, n in SIZES.items()}
    assert sampler.probabilities() == pytest.approx(expected, rel=1e-12, abs=0)


def test_proportional_and_uniform_limits():
    total = sum(SIZES.values())
    assert ProportionalSampler(SIZES).probabilities() == \
        pytest.approx({name: n / total for name, n in SIZES.items()}, rel=1e-12, abs=0)
    assert TemperatureSampler(SIZES, math.inf).probabilities() == {name: 0.25 for name in SIZES}
    nearly = TemperatureSampler(SIZES, 1e6).probabilities()
    assert max(abs(p - 0.25) for p in nearly.values()) < 1e-5
    # A very small temperature neither overflows nor gives NaN: the largest task takes it all.
    assert TemperatureSampler(SIZES, 0.001).probabilities()["ner"] == pytest.approx(1.0)


@pytest.mark.parametrize("strategy", ["proportional", "temperature"])
def test_empirical_frequencies_match_the_probabilities(strategy):
    sampler = make_sampler(strategy, SIZES, seed=1, temperature=3.0)
    draws = list(islice(sampler, 20000))
    for name, probability in sampler.probabilities().items():
        assert draws.count(name) / len(draws) == pytest.approx(probability, abs=0.015)


def test_samplers_are_deterministic_given_a_seed():
    first = list(islice(TemperatureSampler(SIZES, 2.0, seed=4), 200))
    assert first == list(islice(TemperatureSampler(SIZES, 2.0, seed=4), 200))
    assert first != list(islice(TemperatureSampler(SIZES, 2.0, seed=5), 200))


def test_sampler_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown sampling strategy 'random'"):
        make_sampler("random", SIZES)
    with pytest.raises(ValueError, match="temperature must be positive"):
        TemperatureSampler(SIZES, 0.0)
    with pytest.raises(ValueError, match="task 'empty' has size 0"):
        ProportionalSampler({"a": 3, "empty": 0})
    with pytest.raises(ValueError, match="at least one task"):
        RoundRobinSampler([])


# ---- the real benchmark files, when this checkout sits next to them -----------------------------
@pytest.mark.skipif(not SHARED_DATA.is_dir(),
                    reason="the shared benchmark data (../shared/data next to the repository) "
                           "is not present")
def test_readers_accept_the_real_formats(tmp_path):
    def head(relative: str, lines: int) -> Path:
        # Only a copy of the first lines, in tmp_path: the data must never enter the repository.
        with open(SHARED_DATA / relative, encoding="utf-8") as handle:
            text = "".join(islice(handle, lines))
        return write(tmp_path / relative.replace("/", "_"), text)

    sst2 = read_examples(head("sst2/train.jsonl", 50), "sentence_classification")
    assert len(sst2) == 50 and {example.label for example in sst2} <= {"negative", "positive"}
    stsb = read_examples(head("stsb/train.jsonl", 50), "sentence_similarity")
    assert len(stsb) == 50 and all(0.0 <= example.score <= 5.0 for example in stsb)
    conll = read_examples(head("conll2003/train.conll", 200), "token_classification")
    assert len(conll) > 5 and all(len(s.tokens) == len(s.tags) > 0 for s in conll)
    assert {tag for s in conll for tag in s.tags} <= {"O"} | {f"{bio}-{kind}" for bio in "BI"
                                                              for kind in ("PER", "ORG", "LOC",
                                                                           "MISC")}
