"""Read and write the safetensors format without the `safetensors` package.

A safetensors file is three parts laid end to end:

    [8 bytes]  N, the header length, an unsigned little-endian 64-bit integer
    [N bytes]  a UTF-8 JSON object, possibly padded at the end with spaces
    [rest]     the data buffer: every tensor's raw little-endian bytes

The header maps each tensor name to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin,
end]}, with the offsets counted from the start of the data buffer. One optional key,
"__metadata__", holds a flat str -> str object. The format forbids holes and overlaps: sorted
by offset, the tensors must tile the buffer exactly. That rule is what lets a reader spot a
truncated file, so the reader below checks it, and every field, before it trusts a byte.

Format description: https://github.com/huggingface/safetensors#format
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import BinaryIO, Callable

import torch
from torch import nn

from ..errors import InputError
from ..values import is_integer_at_least
from .atomic import atomic_file
from .skeleton import build_for_loading, build_skeleton
from .text import lone_surrogate

# Tensors are stored little-endian and torch reads raw bytes in the host's order, so a
# big-endian host would silently scramble every value.
if sys.byteorder != "little":
    raise ImportError("minitransformer.storage.safetensors_io needs a little-endian host")

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
    "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
    "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
# The reference implementation refuses headers above 100 MB; a length beyond that is almost
# surely a file that is not safetensors at all.
MAX_HEADER_BYTES = 100_000_000
METADATA_KEY = "__metadata__"
LENGTH_BYTES = 8  # the header length field in front of the header

PathLike = str | os.PathLike
# One tensor's header entry: {"dtype": str, "shape": [int], "data_offsets": [int, int]}
Entry = dict


class SafetensorsError(InputError):
    """A file or a tensor dict that breaks the safetensors format (an InputError, so commands
    report it in one line)."""


def refuse_repeated_names(pairs: list[tuple[str, object]]) -> dict:
    """json.loads' object_pairs_hook: the object as a dict, or a SafetensorsError if a key
    occurs twice (json.loads would keep the last one and so silently drop a tensor)."""
    header = {}
    for name, value in pairs:
        if name in header:
            raise SafetensorsError(f"header names {name!r} twice")
        header[name] = value
    return header


def read_header(handle: BinaryIO, path: PathLike) -> tuple[dict[str, Entry], dict[str, str], int]:
    """Parse the header of the open file `handle`: (tensor entries by name, metadata, size of
    the data buffer in bytes). The entries' fields are not checked yet (`check_entries` does)."""
    file_size = os.fstat(handle.fileno()).st_size
    if file_size < LENGTH_BYTES:
        raise SafetensorsError(f"{path}: {file_size} bytes, too short to hold the 8-byte "
                               f"header length")
    header_length = int.from_bytes(handle.read(LENGTH_BYTES), "little")
    if header_length > min(file_size - LENGTH_BYTES, MAX_HEADER_BYTES):
        raise SafetensorsError(f"{path}: header length {header_length} exceeds the "
                               f"{file_size - LENGTH_BYTES} bytes after it "
                               f"(or the {MAX_HEADER_BYTES}-byte limit)")
    try:
        text = handle.read(header_length).decode("utf-8")
        header = json.loads(text, object_pairs_hook=refuse_repeated_names)
    except SafetensorsError as error:
        raise SafetensorsError(f"{path}: {error}") from None
    except (ValueError, RecursionError) as error:  # also UnicodeDecodeError, JSONDecodeError
        raise SafetensorsError(f"{path}: header is not valid UTF-8 JSON: {error}") from None
    surrogate = lone_surrogate(text)  # json.loads takes "\ud800"; the reference reader does not
    if surrogate is not None:
        raise SafetensorsError(f"{path}: header holds {surrogate[1]}, half of a surrogate pair")
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop(METADATA_KEY, {})
    if not isinstance(metadata, dict) or not all(isinstance(value, str)
                                                 for value in metadata.values()):
        raise SafetensorsError(f"{path}: {METADATA_KEY} must be an object of strings to strings")
    return header, metadata, file_size - LENGTH_BYTES - header_length


def check_entries(header: dict[str, Entry], buffer_size: int, path: PathLike) -> None:
    """Check every entry's fields, then that the entries' offsets tile the data buffer of
    `buffer_size` bytes exactly; raise a SafetensorsError naming the first fault."""
    for name, entry in header.items():
        where = f"{path}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{where}: entry must have exactly dtype, shape and "
                                   f"data_offsets")
        if not isinstance(entry["dtype"], str) or entry["dtype"] not in DTYPES:
            raise SafetensorsError(f"{where}: unknown dtype {entry['dtype']!r} "
                                   f"(known: {', '.join(DTYPES)})")
        shape, offsets = entry["shape"], entry["data_offsets"]
        # is_integer_at_least refuses JSON's true, which Python counts as the int 1.
        if not isinstance(shape, list) or not all(is_integer_at_least(size, 0) for size in shape):
            raise SafetensorsError(f"{where}: shape {shape!r} is not a list of non-negative "
                                   f"integers")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(is_integer_at_least(offset, 0) for offset in offsets)
                or offsets[0] > offsets[1]):
            raise SafetensorsError(f"{where}: data_offsets {offsets!r} is not [begin, end] "
                                   f"with 0 <= begin <= end")
        begin, end = offsets
        if end > buffer_size:
            raise SafetensorsError(f"{where}: data_offsets {offsets} run past the end of the "
                                   f"{buffer_size}-byte data buffer (truncated file?)")
        needed = math.prod(shape) * DTYPES[entry["dtype"]].itemsize
        if end - begin != needed:
            raise SafetensorsError(f"{where}: {end - begin} bytes of data, but "
                                   f"{entry['dtype']} of shape {shape} needs {needed}")
    covered = 0  # walk the tensors in buffer order; each must start where the last one ended
    for name, entry in sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"])):
        begin, end = entry["data_offsets"]
        if begin != covered:
            problem = ("leaves a hole before it" if begin > covered
                       else "overlaps the tensor before it")
            raise SafetensorsError(f"{path}: tensor {name!r} at data_offsets {[begin, end]} "
                                   f"{problem} (expected it to start at byte {covered})")
        covered = end
    if covered != buffer_size:
        raise SafetensorsError(f"{path}: tensors cover {covered} bytes of the {buffer_size}-byte "
                               f"data buffer, leaving {buffer_size - covered} unused bytes at its "
                               f"end")


def open_for_reading(path: PathLike) -> BinaryIO:
    """The file opened in binary mode, or a SafetensorsError saying why it cannot be."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise SafetensorsError(f"{path}: no such file") from None
    except OSError as error:
        raise SafetensorsError(f"{path}: cannot be read ({error.strerror})") from None


def read_safetensors(path: PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, {name: tensor} in header order, each a CPU tensor
    with memory of its own (writable, sharing nothing with the others).

    A malformed file raises a SafetensorsError that names the file and the tensor or field at
    fault, before any tensor data is read.
    """
    with open_for_reading(path) as handle:
        header, _, buffer_size = read_header(handle, path)
        check_entries(header, buffer_size, path)
        data = memoryview(handle.read())  # one read for all tensor data
    tensors = {}
    for name, entry in header.items():
        dtype, shape = DTYPES[entry["dtype"]], entry["shape"]
        begin, end = entry["data_offsets"]
        if begin == end:  # torch.frombuffer refuses an empty buffer
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        # bytearray copies the slice into fresh memory of its own: the tensor is writable,
        # aligned for its dtype, and keeps no other tensor's bytes alive.
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(shape)
    return tensors


def read_shapes(path: PathLike) -> dict[str, tuple[int, ...]]:
    """{name: shape} of a safetensors file, from its header alone (no tensor data is read)."""
    with open_for_reading(path) as handle:
        header, _, buffer_size = read_header(handle, path)
        check_entries(header, buffer_size, path)
    return {name: tuple(entry["shape"]) for name, entry in header.items()}


def check_fits(expected: dict[str, tuple[int, ...]], path: PathLike) -> None:
    """Raise a SafetensorsError naming every missing, unexpected or misshapen tensor unless the
    file holds exactly the tensors `expected` ({name: shape}) describes."""
    shapes = read_shapes(path)
    problems = []
    for what, names in (("missing", [name for name in expected if name not in shapes]),
                        ("unexpected", [name for name in shapes if name not in expected])):
        if names:
            problems.append(f"{what} tensor(s) {first_few(names)}")
    wrong_shapes = [f"{name} is {shape}, the model's {expected[name]}"
                    for name, shape in shapes.items()
                    if name in expected and shape != expected[name]]
    if wrong_shapes:
        problems.append(f"shape of {first_few(wrong_shapes)}")
    if problems:
        raise SafetensorsError(f"{path}: does not fit the model described by its config.json: "
                               + "; ".join(problems))


def check_finite(tensors: dict[str, torch.Tensor], path: PathLike) -> None:
    """Refuse weights with NaN or infinite values, naming the first such tensor: loaded, they
    would silently turn every output into NaN."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise SafetensorsError(f"{path}: tensor {name!r} holds NaN or infinite values")


def state_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}


def read_weights_into(module: nn.Module, path: PathLike) -> None:
    """Fill `module`'s parameters and buffers from a safetensors file of exactly its state dict.

    Every name and shape is compared first (check_fits), so a file that does not fit the module
    (a config that disagrees with its weights, say) is reported by name instead of half loaded.
    """
    check_fits(state_shapes(module), path)
    tensors = read_safetensors(path)
    check_finite(tensors, path)
    module.load_state_dict(tensors, strict=True)


def build_to_fit(build: Callable[[], nn.Module], path: PathLike) -> nn.Module:
    """`build()`'s module with its weights from `path`, checked before anything is allocated:
    the module is first built on the meta device (shapes without memory) and compared with the
    file's header, so a config whose sizes disagree with its weights is refused at once instead
    of allocating what it claims."""
    check_fits(state_shapes(build_skeleton(build)), path)
    tensors = read_safetensors(path)
    check_finite(tensors, path)
    module = build_for_loading(build)  # every value is loaded next: no random fills first
    module.load_state_dict(tensors, strict=True)
    return module


def first_few(items: list[str], count: int = 3) -> str:
    """'a, b, c and 4 more': a long list of names shortened for a one-line message."""
    shown = ", ".join(items[:count])
    return shown + (f" and {len(items) - count} more" if len(items) > count else "")


def read_safetensors_metadata(path: PathLike) -> dict[str, str]:
    """The file's "__metadata__" (empty when it has none), reading only the header."""
    with open_for_reading(path) as handle:
        return read_header(handle, path)[1]


def write_safetensors(path: PathLike, tensors: dict[str, torch.Tensor],
                      metadata: dict[str, str] | None = None) -> None:
    """Write `tensors` and the optional `metadata` to `path` atomically: a reader finds the old
    file or the whole new one, never a part.

    The tensors are laid out in sorted-name order, so the same dict always gives the same bytes,
    and the header is padded with spaces so that the data starts at a multiple of 8 bytes, which
    lets readers map every dtype without misalignment. Bad input (a name, a dtype, metadata that
    is not str -> str) raises a SafetensorsError before anything is written.
    """
    header: dict[str, object] = {}
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()):
            raise SafetensorsError(f"{path}: metadata must be a dict of str to str")
        header[METADATA_KEY] = metadata
    for name in tensors:
        if not isinstance(name, str) or name == METADATA_KEY:
            raise SafetensorsError(f"{path}: tensor name {name!r} must be a string "
                                   f"other than {METADATA_KEY!r}")
    raw_bytes: dict[str, torch.Tensor] = {}  # name -> the tensor's bytes, (nbytes,) uint8
    data_size = 0
    for name in sorted(tensors):
        tensor = tensors[name]
        if not isinstance(tensor, torch.Tensor):
            raise SafetensorsError(f"{path}: {name!r} is a {type(tensor).__name__}, "
                                   f"not a torch.Tensor")
        if tensor.dtype not in DTYPE_NAMES:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {tensor.dtype}")
        # reshape(-1) turns a 0-d tensor into a 1-d one, which view(uint8) needs.
        raw_bytes[name] = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
        header[name] = {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [data_size, data_size + raw_bytes[name].numel()]}
        data_size += raw_bytes[name].numel()
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-(LENGTH_BYTES + len(header_bytes)) % 8)  # data 8-byte aligned
    data_start = LENGTH_BYTES + len(header_bytes)
    file_bytes = bytearray(data_start + data_size)
    file_bytes[:data_start] = len(header_bytes).to_bytes(LENGTH_BYTES, "little") + header_bytes
    if data_size:
        buffer = torch.frombuffer(file_bytes, dtype=torch.uint8)  # writes into file_bytes in place
        for name, data in raw_bytes.items():
            begin, end = header[name]["data_offsets"]
            buffer[data_start + begin : data_start + end] = data
        del buffer  # release the export of file_bytes' memory
    with atomic_file(path) as temporary:
        temporary.write_bytes(file_bytes)
