"""Every reader of outside input, fed arbitrary bytes and arbitrary JSON (hypothesis).

The one property: a reader returns a result or raises the project's InputError, whose message
is one line; any other exception is a bug (it would end a command in a traceback). The
examples are derandomized, so every run, CI's too, tries the same ones, and few, so that the
whole file takes seconds. When hypothesis finds a failing input it prints it, smallest first.
"""

import json
import math
import os
import re
import struct

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is in the [test] extra")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from minitransformer.cli import check_arguments
from minitransformer.errors import InputError
from minitransformer.model.config import EncoderConfig
from minitransformer.model.tokenizer import SPECIAL_TOKENS, Tokenizer
from minitransformer.plot import series_of
from minitransformer.storage.safetensors_io import read_safetensors
from minitransformer.storage.text import lone_surrogate, read_json
from minitransformer.tasks.data import TaskSpec
from minitransformer.tasks.kinds import KINDS, read_examples
from minitransformer.tasks.readers import read_conll, read_records, read_text_lines
from minitransformer.training.progress import read_metrics
from minitransformer.training.run_config import read_config_file

# FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py: a longer, random search (new inputs every run).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 0))
FUZZ = settings(max_examples=EXAMPLES or 40, derandomize=not EXAMPLES, deadline=None,
                database=None, suppress_health_check=[HealthCheck.too_slow])

# Field names the readers look for, so that arbitrary records reach past "missing field".
NAMES = ["text", "label", "sentence1", "sentence2", "score", "tasks", "name", "kind", "train",
         "dev", "options", "init", "max_length", "type", "step", "task", "loss", "lr", "metrics",
         "hidden_size", "num_heads", "vocab_size", "dropout", "positional", "dtype", "shape",
         "data_offsets", "__metadata__"]
# Strings that have broken readers before: a lone surrogate (json.dumps writes the escape
# \ud800, which json.loads takes back), line separators, NUL, a byte-order mark, Latin-1.
TRICKY = ["\ud800", "a\udc00b", "\u2028", "\x85", "\x00", "\ufeff", "caf\xe9", "", " ", "\n",
          "\t", ",", '"', "0", "-1", "1e999", "NaN", "[CLS]", "sentence_classification",
          "masked_lm", "train.jsonl", "."]

keys = st.sampled_from(NAMES) | st.sampled_from(TRICKY) | st.text(max_size=6)
leaves = (st.none() | st.booleans() | st.integers(-2, 2**64) | st.floats()
          | st.sampled_from(TRICKY) | st.text(max_size=8))
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=12)
json_objects = st.dictionaries(keys, json_values, max_size=6)
# Text made of the pieces the formats are made of, so that the parsers get past the first byte;
# with an integer too long for int() and nesting too deep for json.loads.
pieces = st.sampled_from(["\n", "\r\n", "\t", ",", '"', " ", "{", "}", "[", "]", ":", "\\u",
                          "\\ud800", "O", "B-PER", "text", "label", "a", "\xe9", "\u2028",
                          "7" * 4400, "[" * 1500, '{"text": "a", "label": '])
format_text = st.lists(pieces | st.text(max_size=4), max_size=30).map("".join)
file_bytes = (st.binary(max_size=120) | format_text.map(lambda t: t.encode("utf-8"))
              | format_text.map(lambda t: t.encode("latin-1", "replace")))


def jsonl(records) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode("utf-8")


def strings_of(value):
    """Every str inside a reader's result: dicts, lists, tuples and dataclasses, walked."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_of(key)
            yield from strings_of(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_of(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from strings_of(getattr(value, name))


def answers(read, *arguments):
    """read(*arguments), or None when it raised an InputError of one non-empty line. A result
    holds text only: a lone surrogate would fail later, in the tokenizer or in a print."""
    try:
        result = read(*arguments)
    except InputError as error:
        message = str(error)
        assert message.strip() and len(message.splitlines()) == 1, repr(message)
        return None
    for text in strings_of(result):
        text.encode("utf-8")  # UnicodeEncodeError: a surrogate got through
    return result


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def put(folder, name: str, data: bytes):
    path = folder / name
    path.write_bytes(data)
    return path


# ---- task data: .jsonl, .csv, .tsv, .conll, .txt -----------------------------------------------
@example(data=b'{"text": "caf\\ud800", "label": "a"}', suffix=".jsonl", kind="masked_lm")
@example(data=b'{"text": "a", "label": ' + b"7" * 4400 + b"}", suffix=".jsonl",
         kind="sentence_classification")
@example(data=b"[" * 1500, suffix=".jsonl", kind="sentence_classification")
@example(data=b'"a\nb","a\nb"\n', suffix=".csv", kind="sentence_classification")
@FUZZ
@given(data=file_bytes, suffix=st.sampled_from([".jsonl", ".csv", ".tsv", ".conll", ".txt"]),
       kind=st.sampled_from(sorted(KINDS)))
def test_task_files_of_any_bytes(folder, data, suffix, kind):
    path = put(folder, "task" + suffix, data)
    answers(read_examples, path, kind)
    if suffix in (".jsonl", ".csv", ".tsv"):
        answers(lambda: list(read_records(path)))
    answers({".conll": read_conll, ".txt": read_text_lines}.get(suffix, read_text_lines), path)


# Records with the fields the kinds read, of any JSON value.
task_records = st.fixed_dictionaries({}, optional={name: leaves | json_values
                                                   for name in NAMES[:5]})


@FUZZ
@given(records=st.lists(task_records | json_objects | json_values, max_size=4),
       kind=st.sampled_from(sorted(KINDS)))
def test_jsonl_task_files_of_any_json(folder, records, kind):
    answers(read_examples, put(folder, "task.jsonl", jsonl(records)), kind)


@FUZZ
@given(rows=st.lists(st.lists(st.sampled_from(TRICKY[2:]) | st.text(max_size=5), max_size=4),
                     max_size=4),
       header=st.lists(st.sampled_from(NAMES[:5]) | st.text(max_size=3), max_size=4),
       suffix=st.sampled_from([".csv", ".tsv"]), kind=st.sampled_from(sorted(KINDS)))
def test_delimited_task_files_of_any_cells(folder, rows, header, suffix, kind):
    separator = "\t" if suffix == ".tsv" else ","
    text = "\n".join(separator.join(row) for row in [header, *rows])
    answers(read_examples, put(folder, "task" + suffix, text.encode("utf-8")), kind)


# ---- config files ----------------------------------------------------------------------------
@example(data=b'{"\\r": null}')  # an unknown key: shown escaped, the message one line
@example(data=b'{"tasks": [{"name": "t", "train": "a\\u0000b"}]}')  # a NUL in a path
@example(data=b'{"tasks": [{"name": "t\\udc00"}]}')
@FUZZ
@given(data=file_bytes | json_values.map(lambda v: json.dumps(v).encode()))
def test_run_config_files_of_any_bytes(folder, data):
    answers(read_config_file, put(folder, "config.json", data))


task_fields = ["name", "kind", "train", "dev", "text_field", "label_field", "second_text_field",
               "head_hidden", "max_train"]
tasks = st.lists(st.dictionaries(st.sampled_from(task_fields) | keys, leaves | json_values,
                                 max_size=4).map(
    lambda task: {"name": "t", "kind": "sentence_classification", "train": "x.jsonl", **task}),
    max_size=3)


@FUZZ
@given(config=st.fixed_dictionaries({"tasks": tasks}, optional={
    "options": json_objects, "init": json_values, "max_length": json_values,
    "max_train": json_values, "extra": json_values}))
def test_run_config_files_of_any_json(folder, config):
    """As train.py reads one: the file, then each task in it."""
    read = answers(read_config_file, put(folder, "config.json", json.dumps(config).encode()))
    for task in (read or {}).get("tasks", []):
        answers(TaskSpec.from_dict, task)


FIELDS = {"vocab_size": 100, "hidden_size": 8, "num_heads": 2, "num_layers": 1, "ff_size": 8,
          "max_length": 16}


@example(values=None)
@example(values={**FIELDS, "layer_norm_eps": float("inf")})
@FUZZ
@given(values=json_values | st.dictionaries(st.sampled_from(NAMES[19:23]), json_values)
       | st.dictionaries(st.sampled_from(list(EncoderConfig.__dataclass_fields__)), json_values,
                         max_size=3).map(lambda changed: {**FIELDS, **changed}))
def test_encoder_configs_of_any_json(values):
    answers(EncoderConfig.from_dict, values)


@example(data=b"7" * 4400)
@example(data=b"[" * 1500)
@example(data=b'{"a": "\\ud800"}')
@FUZZ
@given(data=file_bytes | json_values.map(lambda v: json.dumps(v).encode()))
def test_json_files_of_any_bytes(folder, data):
    answers(read_json, put(folder, "any.json", data))


@pytest.mark.parametrize("text, found", [
    (r'"\ud83d\ude00"', None),  # a pair: one character
    (r'"\uD83D\uDE00 \u00e9"', None),
    (r'"\\ud800"', None),  # an escaped backslash, then the letters ud800
    (r'"\ud800"', (1, r"\ud800")),
    (r'"\ude00\ud83d"', (1, r"\ude00")),  # the halves in the wrong order
    (r'"\ud83d x\ude00"', (1, r"\ud83d")),  # not side by side
    ('{"a": 1,\n "b": "\\ud83d"}', (16, r"\ud83d")),
])
def test_lone_surrogates_are_told_from_pairs(text, found, tmp_path):
    assert lone_surrogate(text) == found
    if found is None:
        json.loads(text).encode("utf-8")  # what json.loads makes of it is text
    else:
        with pytest.raises(InputError, match=f"line {text.count(chr(10)) + 1}"):
            read_json(put(tmp_path, "any.json", text.encode()))


@pytest.mark.parametrize("arguments, message", [
    (["fine", "caf\udce9"], "argument 2: not valid UTF-8: byte 0xe9 at byte offset 3"),
    (["\ud800"], "argument 1: holds '\\ud800', a UTF-16 surrogate, which is no character"),
    (["\udcc3\udca9"], "argument 1: holds '\\udcc3'"),  # escapes of bytes that are UTF-8
    (["caf\xe9", "\u200b", "naïve"], None),  # UTF-8 text of any kind is fine
])
def test_arguments_must_be_utf8(arguments, message):
    if message is None:
        check_arguments(arguments)
    else:
        with pytest.raises(InputError, match=re.escape(message)):
            check_arguments(arguments)


# ---- safetensors -------------------------------------------------------------------------------
entries = st.fixed_dictionaries({
    "dtype": st.sampled_from(["F32", "F16", "I64", "BOOL", "U8", "X9"]) | json_values,
    "shape": st.lists(st.integers(-1, 4), max_size=3) | json_values,
    "data_offsets": st.lists(st.integers(-1, 40), min_size=2, max_size=2) | json_values})


@example(header={"w": {"dtype": [], "shape": [], "data_offsets": [0, 0]}}, buffer=b"",
         stated=None, cut=0)
@example(header={"\ud800": {"dtype": "U8", "shape": [], "data_offsets": [0, 1]}}, buffer=b"x",
         stated=None, cut=0)
@example(header=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], buffer=b"",
         stated=None, cut=0)
@FUZZ
@given(header=st.dictionaries(keys, entries | json_values, max_size=3) | json_values,
       buffer=st.binary(max_size=48), stated=st.none() | st.integers(0, 2**64 - 1),
       cut=st.integers(0, 8))
def test_safetensors_files_of_any_header(folder, header, buffer, stated, cut):
    text = json.dumps(header).encode("utf-8")
    length = len(text) if stated is None else stated
    data = struct.pack("<Q", length) + text + buffer
    answers(read_safetensors, put(folder, "model.safetensors", data[:len(data) - cut]))


SIZES = {"F32": 4, "F16": 2, "I64": 8, "BOOL": 1}


@st.composite
def safetensors_files(draw) -> bytes:
    """A well-formed file of a few small tensors under any names, then maybe one byte changed
    or the end cut off."""
    header, position = {}, 0
    for name in draw(st.lists(keys, max_size=3, unique=True)):
        dtype = draw(st.sampled_from(sorted(SIZES)))
        shape = draw(st.lists(st.integers(0, 3), max_size=2))
        size = SIZES[dtype] * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [position, position + size]}
        position += size
    text = json.dumps(header).encode("utf-8")
    data = bytearray(struct.pack("<Q", len(text)) + text + draw(st.binary(min_size=position,
                                                                          max_size=position)))
    change = draw(st.sampled_from(["none", "byte", "cut"]))
    if change == "byte":
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif change == "cut":
        del data[len(data) - draw(st.integers(1, len(data))):]
    return bytes(data)


@FUZZ
@given(data=file_bytes | safetensors_files())
def test_safetensors_files_of_any_bytes(folder, data):
    answers(read_safetensors, put(folder, "model.safetensors", data))


# ---- vocabularies ------------------------------------------------------------------------------
@example(data=b"", tokens=["[PAD]", "[UNK]", "[MASK]"])  # no [CLS], [SEP]
@FUZZ
@given(data=file_bytes, tokens=st.lists(st.sampled_from(SPECIAL_TOKENS + TRICKY[2:])
                                        | st.text(max_size=4), max_size=12))
def test_vocab_files_of_any_bytes(folder, data, tokens):
    answers(Tokenizer.from_vocab, put(folder, "vocab.txt", data))
    vocab = put(folder, "vocab.txt", "\n".join(tokens).encode("utf-8", "surrogatepass"))
    tokenizer = answers(Tokenizer.from_vocab, vocab)
    if tokenizer is not None:  # what a vocabulary that loads must do: tokenize
        assert tokenizer.tokenize(["a b"])[0][0] == tokenizer.backend.token_to_id("[CLS]")


@FUZZ
@given(data=file_bytes | json_objects.map(lambda v: json.dumps(v).encode()))
def test_tokenizer_files_of_any_bytes(folder, data):
    directory = folder / "tokenizer"
    directory.mkdir(exist_ok=True)
    put(directory, "tokenizer.json", data)
    answers(Tokenizer.load, directory)


# ---- metrics logs ------------------------------------------------------------------------------
train = st.fixed_dictionaries({"type": st.just("train"), "step": st.integers(0, 9),
                               "task": st.text(max_size=3), "loss": st.floats(), "lr": st.floats()})
evaluation = st.fixed_dictionaries({"type": st.just("eval"), "step": st.integers(0, 9),
                                    "metrics": st.dictionaries(st.text(max_size=3), st.dictionaries(
                                        st.text(max_size=3), st.floats() | st.none()))})
later_fields = st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=4), max_size=2)
record = st.one_of(train, evaluation).flatmap(  # and a few fields a later version may add
    lambda r: later_fields.map(lambda extra: {**extra, **r}))


@example(data=b"[1]\n", tail=b"")
@example(data=b'{"type": "train", "step": 1, "loss": 1, "lr": 1}\n', tail=b"")  # no task
@example(data=b'{"type": "eval", "step": 1, "metrics": {"t": {"f1": "high"}}}\n', tail=b"")
@example(data=b'{"type": "train", "task": "caf\xe9"}\n', tail=b"")
@example(data=b'{"type": "eval", "step": 1, "metrics": {"t": {"f1": 0.5}}}', tail=b'\n{"type')
@FUZZ
@given(data=file_bytes | st.lists(record | json_objects | json_values, max_size=4).map(jsonl),
       tail=file_bytes)
def test_metrics_logs_of_any_content(folder, data, tail):
    read = answers(read_metrics, put(folder, "metrics.jsonl", data + tail))
    if read is not None:
        series_of(read)  # what read_metrics lets through, the plot can draw


@FUZZ
@given(records=st.lists(record, max_size=4), cut=st.integers(0, 30))
def test_a_log_cut_anywhere_reads_as_its_whole_records(folder, records, cut):
    """A run still writing its log: the log ends anywhere, even inside a character."""
    data = jsonl(records)
    data = data[:max(0, len(data) - cut)]
    whole = data.count(b"\n")
    tail = data[data.rfind(b"\n") + 1:]
    complete = whole < len(records) and tail == json.dumps(records[whole]).encode()
    read = read_metrics(put(folder, "metrics.jsonl", data))
    assert json.dumps(read) == json.dumps(records[:whole + complete])  # NaN too is equal
