"""Read and write the safetensors format without the `safetensors` package.

A safetensors file is three parts laid end to end:

    [8 bytes]  N, the header length, an unsigned little-endian 64-bit integer
    [N bytes]  a UTF-8 JSON object, possibly padded at the end with spaces
    [rest]     the byte buffer holding every tensor's raw little-endian data

The header maps each tensor name to {"dtype": "F32", "shape": [2, 3],
"data_offsets": [begin, end]}, with offsets counted from the start of the byte
buffer. One optional key, "__metadata__", holds a flat str -> str object.
The format forbids holes and overlaps: sorted by offset, the tensors must tile
the buffer exactly. That rule is what lets a reader spot a truncated file, so
the reader below checks it, along with every field, before trusting a byte.

Format description: https://github.com/huggingface/safetensors#format
"""

import json
import math
import os
import sys
import uuid

import torch

from ..errors import InputError, lone_surrogate

# Tensors are stored little-endian and torch reads raw bytes in the host's
# order, so a big-endian host would silently scramble every value.
if sys.byteorder != "little":
    raise ImportError("minitransformer.storage.safetensors_io needs a little-endian host")

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
    "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
    "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
_DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
# The reference implementation refuses headers above 100 MB; a length beyond
# that is almost surely a file that is not safetensors at all.
MAX_HEADER_BYTES = 100_000_000
METADATA_KEY = "__metadata__"


class SafetensorsError(InputError):
    """A file or a tensor dict that breaks the safetensors format (an InputError, so commands
    report it in one line)."""


def _is_int(x):
    # bool is a subclass of int in Python, but `true` is no valid size.
    return isinstance(x, int) and not isinstance(x, bool)


def _reject_duplicates(pairs):
    # json.loads keeps the last of two equal keys; a repeated tensor name
    # would then silently drop a tensor, so refuse it instead.
    result = {}
    for name, value in pairs:
        if name in result:
            raise SafetensorsError(f"header names {name!r} twice")
        result[name] = value
    return result


def _read_header(f, path):
    """Parse the header of the open file `f`; return (entries, metadata, buffer size)."""
    file_size = os.fstat(f.fileno()).st_size
    if file_size < 8:
        raise SafetensorsError(f"{path}: {file_size} bytes, too short to hold the 8-byte header length")
    n = int.from_bytes(f.read(8), "little")
    if n > min(file_size - 8, MAX_HEADER_BYTES):
        raise SafetensorsError(f"{path}: header length {n} exceeds the {file_size - 8} bytes after it "
                               f"(or the {MAX_HEADER_BYTES}-byte limit)")
    try:
        text = f.read(n).decode("utf-8")
        header = json.loads(text, object_pairs_hook=_reject_duplicates)
    except SafetensorsError as e:
        raise SafetensorsError(f"{path}: {e}") from None
    except (ValueError, RecursionError) as e:  # also UnicodeDecodeError, JSONDecodeError
        raise SafetensorsError(f"{path}: header is not valid UTF-8 JSON: {e}") from None
    surrogate = lone_surrogate(text)  # json.loads takes "\ud800"; the reference reader does not
    if surrogate is not None:
        raise SafetensorsError(f"{path}: header holds {surrogate[1]}, half of a surrogate pair")
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop(METADATA_KEY, {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError(f"{path}: {METADATA_KEY} must be an object of strings to strings")
    return header, metadata, file_size - 8 - n


def _check_entries(header, buffer_size, path):
    """Check every entry's fields, then that the offsets tile the buffer exactly."""
    for name, entry in header.items():
        where = f"{path}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{where}: entry must have exactly dtype, shape and data_offsets")
        if not isinstance(entry["dtype"], str) or entry["dtype"] not in DTYPES:
            raise SafetensorsError(f"{where}: unknown dtype {entry['dtype']!r} (known: {', '.join(DTYPES)})")
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise SafetensorsError(f"{where}: shape {shape!r} is not a list of non-negative integers")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise SafetensorsError(f"{where}: data_offsets {offsets!r} is not [begin, end] "
                                   f"with 0 <= begin <= end")
        if offsets[1] > buffer_size:
            raise SafetensorsError(f"{where}: data_offsets {offsets} run past the end of the "
                                   f"{buffer_size}-byte data buffer (truncated file?)")
        expected = math.prod(shape) * DTYPES[entry["dtype"]].itemsize
        if offsets[1] - offsets[0] != expected:
            raise SafetensorsError(f"{where}: {offsets[1] - offsets[0]} bytes of data, but "
                                   f"{entry['dtype']} of shape {shape} needs {expected}")
    position = 0  # walk the tensors in buffer order; each must start where the last ended
    for name, entry in sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"])):
        begin, end = entry["data_offsets"]
        if begin != position:
            problem = "leaves a hole before it" if begin > position else "overlaps the tensor before it"
            raise SafetensorsError(f"{path}: tensor {name!r} at data_offsets {[begin, end]} {problem} "
                                   f"(expected it to start at byte {position})")
        position = end
    if position != buffer_size:
        raise SafetensorsError(f"{path}: tensors cover {position} bytes of the {buffer_size}-byte "
                               f"data buffer, leaving {buffer_size - position} unused bytes at its end")


def _open(path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise SafetensorsError(f"{path}: no such file") from None
    except OSError as e:
        raise SafetensorsError(f"{path}: cannot be read ({e.strerror})") from None


def read_safetensors(path):
    """Load every tensor of a safetensors file, in header order, as independent CPU tensors.

    Returns {name: tensor}; raises SafetensorsError, naming the file and the
    tensor or field at fault, before reading any data from a malformed file.
    """
    with _open(path) as f:
        header, _, buffer_size = _read_header(f, path)
        _check_entries(header, buffer_size, path)
        data = memoryview(f.read())  # one read for all tensor data
    tensors = {}
    for name, entry in header.items():
        dtype, shape = DTYPES[entry["dtype"]], entry["shape"]
        begin, end = entry["data_offsets"]
        if begin == end:  # torch.frombuffer refuses an empty buffer
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        # bytearray copies the slice into fresh memory of its own: the tensor is
        # writable, aligned for its dtype, and keeps no other tensor's bytes alive.
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(shape)
    return tensors


def load_weights(module, path):
    """Fill `module`'s parameters and buffers from a safetensors file of exactly its state dict.

    Every name and shape is compared first, so a file that does not fit the module (a config
    that disagrees with its weights, say) is reported by name instead of half loaded.
    """
    tensors = read_safetensors(path)
    expected = module.state_dict()
    problems = []
    for what, names in (("missing", [n for n in expected if n not in tensors]),
                        ("unexpected", [n for n in tensors if n not in expected])):
        if names:
            problems.append(f"{what} tensor(s) {_first(names)}")
    wrong = [f"{n} is {tuple(t.shape)}, the model's {tuple(expected[n].shape)}"
             for n, t in tensors.items() if n in expected and t.shape != expected[n].shape]
    if wrong:
        problems.append(f"shape of {_first(wrong)}")
    if problems:
        raise SafetensorsError(f"{path}: does not fit the model described by its config.json: "
                               + "; ".join(problems))
    module.load_state_dict(tensors, strict=True)


def _first(items, count=3):
    """'a, b, c and 4 more': long lists of names shortened for a one-line message."""
    shown = ", ".join(items[:count])
    return shown + (f" and {len(items) - count} more" if len(items) > count else "")


def read_safetensors_metadata(path):
    """Return the file's "__metadata__" (str -> str; empty when absent), reading only the header."""
    with _open(path) as f:
        return _read_header(f, path)[1]


def write_safetensors(path, tensors, metadata=None):
    """Write `tensors` (name -> tensor) and optional str -> str `metadata` to `path` atomically.

    Tensors are laid out in sorted-name order so the same dict always gives the
    same bytes, and the header is padded with spaces so the data starts at a
    multiple of 8 bytes, which lets readers map every dtype without misalignment.
    """
    header = {}
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError(f"{path}: metadata must be a dict of str to str")
        header[METADATA_KEY] = metadata
    for name in tensors:
        if not isinstance(name, str) or name == METADATA_KEY:
            raise SafetensorsError(f"{path}: tensor name {name!r} must be a string "
                                   f"other than {METADATA_KEY!r}")
    flat, position = {}, 0
    for name in sorted(tensors):
        tensor = tensors[name]
        if not isinstance(tensor, torch.Tensor):
            raise SafetensorsError(f"{path}: {name!r} is a {type(tensor).__name__}, not a torch.Tensor")
        if tensor.dtype not in _DTYPE_NAMES:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {tensor.dtype}")
        # reshape(-1) turns 0-d tensors into 1-d, which view(uint8) needs.
        flat[name] = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
        header[name] = {"dtype": _DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [position, position + flat[name].numel()]}
        position += flat[name].numel()
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-(8 + len(header_bytes)) % 8)
    start = 8 + len(header_bytes)
    out = bytearray(start + position)
    out[:start] = len(header_bytes).to_bytes(8, "little") + header_bytes
    if position:
        buffer = torch.frombuffer(out, dtype=torch.uint8)  # writes into `out` in place
        for name, data in flat.items():
            begin, end = header[name]["data_offsets"]
            buffer[start + begin:start + end] = data
        del buffer
    # A crash mid-write must never leave a half-written file under the real
    # name, so write a temporary file beside it and rename it in one step.
    # (open() rather than tempfile.mkstemp, whose 0600 mode the file would keep.)
    tmp = f"{os.fspath(path)}.{uuid.uuid4().hex[:12]}.tmp"
    f = open(tmp, "xb")
    try:
        with f:
            f.write(out)
            f.flush()
            os.fsync(f.fileno())  # the bytes reach the disk before the rename does
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
