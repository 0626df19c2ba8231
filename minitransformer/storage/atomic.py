"""Writing files and directories so that nobody ever sees half of one.

Everything the project writes for a person to keep (a checkpoint, a saved model, embeddings, a
picture, a JSON record) goes through the two context managers here. The recipe is the same for
both: write the whole thing under a temporary name beside the target (the same folder, so the
same file system), then rename it into place. A rename within one file system is atomic: a
reader sees the old content or the new, never a mix. A crash, a full disk or Ctrl-C before the
rename leaves the old content untouched and the temporary removed, and a write that fails (a
full disk, a file-size limit, no right to write) is reported as one OutputError that names the
target, whichever library's writer met it (`write_failure`).

    with atomic_file("out/curves.png") as temporary:
        figure.savefig(temporary)
    write_npy("out/embeddings.npy", vectors)      # numpy arrays: see write_npy

    with atomic_directory("runs/x/best") as temporary:
        save_everything_into(temporary)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError, OutputError

NAME_BYTES = 96  # of the target's name kept in a temporary's: file names end at 255 bytes
# The tokenizers package reports a failed write as a plain Exception whose text ends so.
OS_ERROR_IN_TEXT = re.compile(r"\(os error (\d+)\)")


def _beside(path: Path, role: str) -> Path:
    """A hidden name next to `path` that no other writer picks: .NAME.ROLE-1a2b3c4d (NAME cut
    to its first NAME_BYTES bytes, so that a long but legal name still has a temporary)."""
    name = os.fsdecode(os.fsencode(path.name)[:NAME_BYTES])
    return path.with_name(f".{name}.{role}-{uuid.uuid4().hex[:8]}")


def write_failure(error: Exception) -> str | None:
    """Why a write failed, if `error` is how a writer reports one; None for anything else (a
    bug in the writing code, which keeps its traceback). Not every writer raises OSError with
    an errno: numpy's short write is an OSError without one ("1152 requested and 109
    written"), torch.save's C++ archive writer raises RuntimeError ("[enforce fail at
    inline_container.cc:...] unexpected pos ..." or "... file write failed"), the tokenizers
    package a plain Exception ("File too large (os error 27)")."""
    if isinstance(error, InputError):
        return None
    if isinstance(error, OSError):
        return error.strerror or str(error) or type(error).__name__
    text = str(error)
    found = OS_ERROR_IN_TEXT.search(text)
    if found:
        return os.strerror(int(found[1]))
    if isinstance(error, RuntimeError) and ("inline_container" in text
                                            or "file write failed" in text):
        return f"the file was cut short: {text.split(']')[-1].strip()[:80]}"
    return None


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write; when the block ends without an exception
    the temporary replaces `path` (created or overwritten), else it is removed. The temporary
    keeps `path`'s suffix, since numpy.save and matplotlib choose the format by it. A failed
    write (`write_failure`) becomes an OutputError naming `path`."""
    path = Path(path)
    existed = path.exists()
    temporary = _beside(path, "tmp").with_suffix(f".tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())  # the bytes reach the disk before the rename does
        os.replace(temporary, path)
    except Exception as error:
        reason = write_failure(error)
        if reason is None:
            raise
        raise OutputError(path, reason, existed) from None
    finally:
        with suppress(OSError):  # still there only if the block failed
            temporary.unlink(missing_ok=True)


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a new, empty temporary directory beside `path` to fill; when the block ends without
    an exception it takes `path`'s place (an existing directory there is replaced), else it is
    removed and `path` is left as it was. A failed write inside (`write_failure`) becomes an
    OutputError naming `path`.

    A directory cannot replace another in one rename, so the swap takes two: the old directory
    moves aside to .NAME.old-XXXXXXXX, the new one takes its name, then the old one is deleted.
    If the second rename fails, the old directory moves back. Between the two renames nothing
    stands under `path`; a crash exactly there leaves the complete old directory under the .old
    name, where a person can find it.
    """
    path = Path(path)
    existed = path.exists()
    temporary = _beside(path, "tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.mkdir()
        yield temporary
        old = _beside(path, "old")
        moved = path.exists()
        if moved:
            path.rename(old)
        try:
            temporary.rename(path)
        except OSError:
            if moved:
                old.rename(path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except OutputError as error:  # a file inside failed: name the directory the user named
        raise OutputError(path, error.reason, existed) from None
    except Exception as error:
        reason = write_failure(error)
        if reason is None:
            raise
        raise OutputError(path, reason, existed) from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)  # still there only if the block failed


class _PythonWrites:
    """A file that hands every write to Python's file object `file`, for np.save: given a real
    file, numpy writes the array through the C library's buffered stdio, which can lose the end
    of the file without an error (under a file-size limit, an array of 1,152 bytes was saved as
    600 and np.save returned); Python's file raises on a short write."""

    def __init__(self, file):
        self.write = file.write


def write_npy(path: str | Path, array: np.ndarray) -> None:
    """np.save `array` to `path` atomically, every byte written or an OutputError."""
    with atomic_file(path) as temporary, open(temporary, "wb") as file:
        np.save(_PythonWrites(file), array)


def write_json(path: str | Path, value: dict | list) -> None:
    """Write a JSON value (indented, UTF-8, a final newline) atomically."""
    with atomic_file(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
