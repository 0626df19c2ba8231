"""A training process's resident memory: what made it grow, what keeps it flat, how to read it.

Why it grew (issue 28; docs/experiments.md, "Memory through a long run", has the runs). A CPU
tensor's memory comes from the C library's malloc. glibc serves a request of M_MMAP_THRESHOLD
bytes or more with a mapping of its own, given back to the system by free; smaller requests come
from the heap, whose freed space malloc keeps for later requests. The threshold starts at 128
KiB but is dynamic: freeing a mapped block raises it to that block's size, up to 32 MiB. So once
the first step has freed its activations, nearly every activation (a few MB to ~25 MB) comes
from the heap. With packed batching every step has other sizes (its number of real tokens), the
holes left by earlier steps do not fit, and the heap grows. Measured on FDU-MTL with packed
batches: malloc's bytes in use stayed at ~320 MB while its free heap grew by ~15 MB a step (1.06
GB after step 1, 2.86 GB after step 120), and the resident size with it; with random batches,
where every step has the same shape, it stayed flat.

What keeps it flat. After an optimizer step, and after a batch of dev scoring (whose batches are
padded to their own longest sentence, so their sizes vary too; the evaluate command does the
same), the trainer asks glibc to give the free parts of its heaps back to the system
(malloc_trim(3)) once the resident size stands TRIM_MARGIN_MIB (512) above its working level
(HeapTrimmer below): the pages of the holes are released, so the resident size follows the bytes
in use, not the heap's span, whatever the holes' sizes. Only pages are handed back; the holes
stay in malloc's lists and are reused when they fit, so the dynamic threshold keeps serving
activations from the heap, which is the fast path. After each step the resident size stands less
than the margin above its working level (the lowest size since the last trim; inside a step, the
step's own activations come on top): bounded, not growing.

What it costs, and what was tried (benchmarks/train_epoch.py's workload: MiniLM, CoNLL + SST-2,
2,000 examples each, one packed epoch of 126 steps, 2 threads, AMD EPYC; single runs, seconds
of training / peak MiB / MiB per 1,000 steps):

    glibc as it is (dynamic threshold)          61.0 s   1,484 MiB   +1,784
    threshold fixed at 128 KiB (mallopt)        91.8 s   1,030 MiB      +57
    malloc_trim every 4 steps                   62.0 s   1,338 MiB     +460
    malloc_trim every 2 steps                   67.4 s   1,317 MiB     +111
    malloc_trim after every step                74.1 s   1,182 MiB      +68

A fixed threshold (the first fix) maps and unmaps every large block, so the kernel hands out
and zeroes fresh pages for every activation: flat, but half again as slow. Trimming after every
step (the second fix) keeps the memory as flat for a third of that price, +17 % an epoch
(benchmarks/README.md, "What keeping memory flat costs"), but on small steps the price is
larger: the pages given back are faulted in and zeroed again by the next step. On issue 31's
small job (3,200 SST-2 sentences, batches of 16; quiet, interleaved, median of 2 rounds):

    glibc as it is                              42.7 s   1,154 MiB
    malloc_trim after every step                56.2 s     978 MiB
    malloc_trim past a 512 MiB margin (this)    43.0 s   1,158 MiB

Counting steps (every 2 or 4) does not bound anything: it still grew (the first table). A
margin on the resident size does, by construction, and costs a trim only when one is due: on
the all-tasks config the resident size between steps stayed at 858-1,404 MiB over a whole run
of 2,636 steps, -7 MiB per 1,000 steps (docs/experiments.md, "Memory through a long run").
Other C libraries (macOS, Windows, musl) are left as they are.

Tuning it. MINITRANSFORMER_TRIM_MARGIN_MIB=M in the environment sets the margin (0: trim after
every step, the lowest memory; benchmarks/train_epoch.py's contestant
ours-packed-trim-every-step). MINITRANSFORMER_DEFAULT_MALLOC=1 skips the trimming altogether
(its contestant ours-packed-default-malloc).

How to read it. A run's metrics.jsonl training records carry rss_mib (VmRSS) and peak_rss_mib
(VmHWM); resident_summary turns them into the peak and the growth per 1,000 steps once the run
is under way.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import sys
from pathlib import Path
from typing import Callable

DEFAULT_MALLOC_VARIABLE = "MINITRANSFORMER_DEFAULT_MALLOC"  # "1": leave malloc as it is
TRIM_MARGIN_VARIABLE = "MINITRANSFORMER_TRIM_MARGIN_MIB"  # MiB of growth between trims
TRIM_MARGIN_MIB = 512.0  # the default: measured at the top
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
GROWTH_FROM = 0.2  # the growth is read from this share of a run's steps on (after its warm-up)


def glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc, else None (macOS, Windows, musl)."""
    if os.name != "posix":
        return None
    library = ctypes.CDLL(None)  # the symbols already loaded into this process
    # gnu_get_libc_version exists only in glibc
    if not hasattr(library, "gnu_get_libc_version"):
        return None
    return library


class HeapTrimmer:
    """Gives glibc's free heap pages back once the resident size stands `margin_mib` above its
    working level: the lowest resident size seen since the last trim, that trim's own result
    included (see the top: why, and why not after every step). The first call always trims
    (nothing is known yet: it gives back what loading left), and so does every call with a
    margin of 0.

    trim:     malloc_trim(0), or a stand-in (tests)
    resident: the resident size now in MiB, None where the system does not tell (then every
              call trims, as with margin 0)"""

    def __init__(self, trim: Callable[[], object], margin_mib: float,
                 resident: Callable[[], float | None]):
        self.trim, self.margin_mib, self.resident = trim, margin_mib, resident
        self.level: float | None = None  # MiB; None until the first trim

    def __call__(self) -> bool:
        """Trim if the heap has piled up enough free pages; True if it did."""
        now = self.resident()
        if self.margin_mib > 0 and now is not None and self.level is not None:
            # A step that frees something for good (a loader's buffers) lowers the level.
            self.level = min(self.level, now)
            if now < self.level + self.margin_mib:
                return False
        self.trim()
        self.level = self.resident()
        return True


def trim_margin_mib() -> float:
    """The margin from MINITRANSFORMER_TRIM_MARGIN_MIB (0: trim after every step, as before
    2026-12-06), else TRIM_MARGIN_MIB; a value that is not a finite number >= 0 is named and
    ignored."""
    text = os.environ.get(TRIM_MARGIN_VARIABLE)
    if text is None:
        return TRIM_MARGIN_MIB
    try:
        margin = float(text)
    except ValueError:
        margin = -1.0
    if not (math.isfinite(margin) and margin >= 0):
        print(f"note: {TRIM_MARGIN_VARIABLE}={text!r} is not a finite number of MiB >= 0; "
              f"using {TRIM_MARGIN_MIB:g}", file=sys.stderr)
        return TRIM_MARGIN_MIB
    return margin


def heap_trimmer(library: ctypes.CDLL | None = None,
                 resident: Callable[[], float | None] | None = None) -> HeapTrimmer | None:
    """What the trainer calls after every step and dev batch to give glibc's free heap pages
    back when they have piled up (see the top); None where there is nothing to do: no glibc,
    or MINITRANSFORMER_DEFAULT_MALLOC=1. `library`, `resident`: stand-ins for tests."""
    if os.environ.get(DEFAULT_MALLOC_VARIABLE) == "1":
        return None
    library = library if library is not None else glibc()
    if library is None or not hasattr(library, "malloc_trim"):
        return None
    trim = functools.partial(library.malloc_trim, 0)  # 0: no spare room kept at the heap's top
    return HeapTrimmer(trim, trim_margin_mib(), resident or resident_now_mib)


def resident_now_mib(statm: Path = Path("/proc/self/statm")) -> float | None:
    """This process's resident size in MiB (Linux), None elsewhere. /proc/self/statm, not
    status: one short line to parse, as this is read after every step."""
    try:
        return int(statm.read_bytes().split()[1]) * PAGE_BYTES / 2**20  # 2nd field, in pages
    except (OSError, IndexError, ValueError):
        return None


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


def resident_summary(readings: list[dict], growth_from: float = GROWTH_FROM) -> dict:
    """What a run's resident-memory readings say, in MiB (None for what they do not tell):

        peak_rss_mib                   the highest resident size up to the last reading (VmHWM)
        rss_growth_mib_per_1000_steps  the least-squares slope of rss_mib over the step, times
                                       1,000, through the readings from step growth_from x the
                                       last step on: the first steps (loading, the first
                                       allocations) are left out; None below two such steps

    readings: dicts with an integer "step" and, where the system told, "rss_mib" and
    "peak_rss_mib" (a metrics.jsonl training record is one). Several at one step count once."""
    rss = {r["step"]: r["rss_mib"] for r in readings if r.get("rss_mib") is not None}
    peaks = [r["peak_rss_mib"] for r in readings if r.get("peak_rss_mib") is not None]
    summary = {"peak_rss_mib": max(peaks) if peaks else None, "rss_growth_mib_per_1000_steps": None}
    if rss:
        start = growth_from * max(rss)
        points = [(step, value) for step, value in rss.items() if step >= start]
        if len(points) >= 2:
            mean_step = sum(step for step, _ in points) / len(points)
            mean_rss = sum(value for _, value in points) / len(points)
            covariance = sum((step - mean_step) * (value - mean_rss) for step, value in points)
            spread = sum((step - mean_step) ** 2 for step, _ in points)
            summary["rss_growth_mib_per_1000_steps"] = 1000 * covariance / spread
    return summary
