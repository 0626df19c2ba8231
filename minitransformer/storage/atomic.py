"""Writing files and directories so that nobody ever sees half of one.

Everything the project writes for a person to keep (a checkpoint, a saved model, embeddings, a
picture, a JSON record) goes through the two context managers here. The recipe is the same for
both: write the whole thing under a temporary name beside the target (the same folder, so the
same file system), then rename it into place. A rename within one file system is atomic: a
reader sees the old content or the new, never a mix. A crash, a full disk or Ctrl-C before the
rename leaves the old content untouched and the temporary removed.

    with atomic_file("out/embeddings.npy") as temporary:
        numpy.save(temporary, vectors)

    with atomic_directory("runs/x/best") as temporary:
        save_everything_into(temporary)
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _beside(path: Path, role: str) -> Path:
    """A hidden name next to `path` that no other writer picks: .NAME.ROLE-1a2b3c4d."""
    return path.with_name(f".{path.name}.{role}-{uuid.uuid4().hex[:8]}")


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write; when the block ends without an exception
    the temporary replaces `path` (created or overwritten), else it is removed. The temporary
    keeps `path`'s suffix, since numpy.save and matplotlib choose the format by it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _beside(path, "tmp").with_suffix(f".tmp{path.suffix}")
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())  # the bytes reach the disk before the rename does
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # still there only if the block failed


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a new, empty temporary directory beside `path` to fill; when the block ends without
    an exception it takes `path`'s place (an existing directory there is replaced), else it is
    removed and `path` is left as it was.

    A directory cannot replace another in one rename, so the swap takes two: the old directory
    moves aside to .NAME.old-XXXXXXXX, the new one takes its name, then the old one is deleted.
    Between the two renames nothing stands under `path`; a crash exactly there leaves the
    complete old directory under the .old name, where a person can find it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _beside(path, "tmp")
    temporary.mkdir()
    try:
        yield temporary
        old = _beside(path, "old")
        if path.exists():
            path.rename(old)
        temporary.rename(path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)  # still there only if the block failed


def write_json(path: str | Path, value: dict | list) -> None:
    """Write a JSON value (indented, UTF-8, a final newline) atomically."""
    with atomic_file(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
