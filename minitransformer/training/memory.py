"""A training process's resident memory: what made it grow, what keeps it flat, how to read it.

Why it grew (issue 28; docs/experiments.md, "Memory through a long run", has the runs). A CPU tensor's
memory comes from the C library's malloc. glibc serves a request of M_MMAP_THRESHOLD bytes or
more with a mapping of its own, given back to the system by free; smaller requests come from
the heap, whose freed space malloc keeps for later requests. The threshold starts at 128 KiB but
is dynamic: freeing a mapped block raises it to that block's size, up to 32 MiB. So once the
first step has freed its activations, nearly every activation (a few MB to ~25 MB) comes from
the heap. With packed batching every step has other sizes (its number of real tokens), the
holes left by earlier steps do not fit, and the heap grows. Measured on FDU-MTL with packed
batches: malloc's bytes in use stayed at ~320 MB while its free heap grew by ~15 MB a step
(1.06 GB after step 1, 2.86 GB after step 120), and the resident size with it; with random
batches, where every step has the same shape, it stayed flat.

What keeps it flat. Setting the threshold ourselves switches the dynamic raise off (mallopt(3)),
so blocks of 128 KiB or more are always mapped and unmapped: a step's activations go back to
the system when they are freed and never fragment the heap. The price is that the kernel maps
fresh pages for each step's activations (page faults, system time), a cost not yet measured
on a quiet machine. Other C libraries (macOS, Windows, musl) are left as they are.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

M_MMAP_THRESHOLD = -3  # the mallopt parameter's number in glibc's <malloc.h>
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept instead of raised


def glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc, else None (macOS, Windows, musl)."""
    if os.name != "posix":
        return None
    library = ctypes.CDLL(None)  # the symbols already loaded into this process
    # gnu_get_libc_version exists only in glibc; other C libraries' mallopt, if any, differs
    if not hasattr(library, "gnu_get_libc_version") or not hasattr(library, "mallopt"):
        return None
    return library


def keep_large_blocks_off_the_heap(library: ctypes.CDLL | None = None) -> bool:
    """Fix glibc's mmap threshold at 128 KiB (see the top); True if it was set.

    Skipped where the C library is not glibc, and where the user chose a threshold in the
    environment: theirs to keep. `library`: the C library to set it in (tests)."""
    if ("MALLOC_MMAP_THRESHOLD_" in os.environ
            or "malloc.mmap_threshold" in os.environ.get("GLIBC_TUNABLES", "")):
        return False
    library = library if library is not None else glibc()
    if library is None:
        return False
    return bool(library.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))  # 1 on success


def resident_mib(status: Path = Path("/proc/self/status")) -> dict[str, float]:
    """{"rss_mib": now, "peak_rss_mib": highest so far} of this process (Linux: VmRSS and
    VmHWM); {} where the system does not tell."""
    fields = {"VmRSS": "rss_mib", "VmHWM": "peak_rss_mib"}
    try:
        lines = status.read_text().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name in fields:
            found[fields[name]] = round(int(value.split()[0]) / 1024, 1)  # given in kB
    return found
