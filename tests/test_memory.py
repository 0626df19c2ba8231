"""training/memory.py: glibc's free heap pages are given back once the resident size stands the
margin above its working level (every call with margin 0), and not when
MINITRANSFORMER_DEFAULT_MALLOC=1 asks for malloc as it is; the resident-memory readings parse
/proc and are empty elsewhere; the summary of a run's readings gives its peak and its growth
after the warm-up, None where nothing was read."""

import os

import pytest

from minitransformer.training import memory


class FakeLibrary:
    """Records malloc_trim calls as glibc would take them (1 = memory was released)."""

    def __init__(self):
        self.calls = []

    def malloc_trim(self, pad):
        self.calls.append(pad)
        return 1


@pytest.fixture
def no_switch(monkeypatch):
    monkeypatch.delenv("MINITRANSFORMER_DEFAULT_MALLOC", raising=False)
    monkeypatch.delenv("MINITRANSFORMER_TRIM_MARGIN_MIB", raising=False)


class Resident:
    """A resident size in MiB, set by the test, that a trim brings down to `after_trim`."""

    def __init__(self, library, after_trim):
        self.now, self.library, self.after_trim, self.seen_calls = 0.0, library, after_trim, 0

    def __call__(self):
        if len(self.library.calls) > self.seen_calls:  # a trim happened since the last reading
            self.seen_calls, self.now = len(self.library.calls), self.after_trim
        return self.now


def trims(trimmer, resident, readings):
    """Whether each call trimmed, the resident size before the call given by `readings`."""
    made = []
    for now in readings:
        resident.now = now
        made.append(trimmer())
    return made


def test_with_margin_zero_every_call_trims_even_when_memory_fell(no_switch, monkeypatch):
    monkeypatch.setenv("MINITRANSFORMER_TRIM_MARGIN_MIB", "0")
    library = FakeLibrary()
    resident = Resident(library, after_trim=650.0)
    trimmer = memory.heap_trimmer(library, resident=resident)
    assert library.calls == []  # nothing happens before a step asks
    assert trims(trimmer, resident, [700.0, 640.0, 600.0]) == [True, True, True]
    assert library.calls == [0, 0, 0]  # pad 0: no spare room kept at the heap's top


def test_the_trimmer_waits_until_the_heap_stands_the_margin_above_its_level(no_switch):
    assert memory.trim_margin_mib() == memory.TRIM_MARGIN_MIB == 512
    library = FakeLibrary()
    resident = Resident(library, after_trim=600.0)
    trimmer = memory.heap_trimmer(library, resident=resident)
    # the first call trims whatever the size (what loading left), down to 600; then from
    # 600 + 512 = 1112 MiB on
    assert trims(trimmer, resident, [300.0, 900.0, 1111.0, 1112.0]) == [True, False, False, True]
    assert trimmer.level == 600.0


def test_memory_freed_for_good_lowers_the_level_the_margin_counts_from(no_switch):
    library = FakeLibrary()
    resident = Resident(library, after_trim=1000.0)  # the first trim leaves loading's buffers
    trimmer = memory.heap_trimmer(library, resident=resident)
    # the buffers go at the second call (700): from then on trims from 700 + 512 = 1212
    assert trims(trimmer, resident, [2000.0, 700.0, 1300.0]) == [True, False, True]


def test_a_trim_that_gives_nothing_back_is_not_repeated_at_every_call(no_switch):
    library = FakeLibrary()
    resident = Resident(library, after_trim=900.0)  # the trim cannot lower the size
    trimmer = memory.heap_trimmer(library, resident=resident)
    assert trims(trimmer, resident, [900.0, 900.0, 950.0]) == [True, False, False]


def test_without_a_resident_size_the_trimmer_trims_every_call(no_switch):
    library = FakeLibrary()
    trimmer = memory.heap_trimmer(library, resident=lambda: None)
    assert trimmer() and trimmer() and library.calls == [0, 0]


@pytest.mark.parametrize("text, margin, named", [
    ("0", 0.0, False), ("128", 128.0, False), ("64.5", 64.5, False),
    ("abc", 512.0, True), ("-1", 512.0, True), ("nan", 512.0, True), ("inf", 512.0, True),
    ("", 512.0, True)])
def test_the_margin_comes_from_the_environment_and_bad_values_are_named(
        monkeypatch, capsys, text, margin, named):
    monkeypatch.setenv("MINITRANSFORMER_TRIM_MARGIN_MIB", text)
    assert memory.trim_margin_mib() == margin
    note = capsys.readouterr().err
    assert (f"MINITRANSFORMER_TRIM_MARGIN_MIB={text!r} is not a finite number" in note) == named


def test_the_resident_size_now_is_read_from_proc_statm(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "PAGE_BYTES", 4096)
    statm = tmp_path / "statm"
    statm.write_text("90000 2560 300 1 0 5000 0\n")  # in pages: 2,560 x 4 KiB = 10 MiB
    assert memory.resident_now_mib(statm) == 10.0
    assert memory.resident_now_mib(tmp_path / "missing") is None
    statm.write_text("garbage")
    assert memory.resident_now_mib(statm) is None


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="no /proc (not Linux)")
def test_the_resident_size_now_agrees_with_proc_status():
    now, status = memory.resident_now_mib(), memory.resident_mib()["rss_mib"]
    assert abs(now - status) < 16  # MiB: read a moment apart, and status rounds


def test_without_glibc_there_is_no_trimmer(no_switch, monkeypatch):
    monkeypatch.setattr(memory, "glibc", lambda: None)
    assert memory.heap_trimmer() is None
    assert memory.heap_trimmer(object()) is None  # a C library without malloc_trim


def test_default_malloc_switch_leaves_malloc_as_it_is(no_switch, monkeypatch):
    # benchmarks/train_epoch.py's ours-packed-default-malloc runs the trainer this way
    monkeypatch.setenv("MINITRANSFORMER_DEFAULT_MALLOC", "1")
    assert memory.heap_trimmer(FakeLibrary()) is None
    monkeypatch.setenv("MINITRANSFORMER_DEFAULT_MALLOC", "0")  # only 1 switches it off
    assert memory.heap_trimmer(FakeLibrary()) is not None


@pytest.mark.skipif(not (os.name == "posix" and os.uname().sysname == "Linux"),
                    reason="glibc lives on Linux")
def test_glibc_is_found_on_a_glibc_linux():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("this Linux has another C library")
    assert memory.glibc() is not None


def test_resident_memory_is_read_from_proc_status(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  3145728 kB\nVmRSS:\t  1048576 kB\nThreads:\t3\n")
    assert memory.resident_mib(status) == {"rss_mib": 1024.0, "peak_rss_mib": 3072.0}


def test_resident_memory_is_empty_where_the_system_does_not_tell(tmp_path):
    assert memory.resident_mib(tmp_path / "missing") == {}


def test_growth_is_the_slope_after_the_warm_up():
    # Steps 2-10 on a line of +0.5 MiB a step; step 1, still settling, 2.4 MiB below it. From
    # 20 % of the last step on (steps 2-10) the fit is exact: 500 MiB per 1,000 steps. With
    # step 1 the slope would be higher.
    readings = [{"step": 1, "rss_mib": 798.1, "peak_rss_mib": 1500.0}]
    readings += [{"step": s, "rss_mib": 800 + 0.5 * s, "peak_rss_mib": 1500.0 + s}
                 for s in range(2, 11)]
    summary = memory.resident_summary(readings)
    assert summary["rss_growth_mib_per_1000_steps"] == pytest.approx(500.0)
    assert summary["peak_rss_mib"] == 1510.0
    # with the warm-up read too, the first reading pulls the slope up
    assert memory.resident_summary(readings, growth_from=0.0)[
        "rss_growth_mib_per_1000_steps"] > 500.1


def test_growth_is_a_least_squares_fit():
    # steps 2, 3, 4 at 10, 13, 13 MiB: mean step 3, mean 12; sum of products (-1)(-2) + 0 + (1)(1)
    # = 3 over sum of squares 2: 1.5 MiB a step. A record of the same step counts once.
    readings = [{"step": 2, "rss_mib": 10.0}, {"step": 3, "rss_mib": 13.0},
                {"step": 4, "rss_mib": 13.0}, {"step": 4, "rss_mib": 13.0}]
    summary = memory.resident_summary(readings)
    assert summary["rss_growth_mib_per_1000_steps"] == pytest.approx(1500.0)
    assert summary["peak_rss_mib"] is None  # no VmHWM read


def test_readings_the_system_did_not_give_summarise_to_none():
    nothing = {"peak_rss_mib": None, "rss_growth_mib_per_1000_steps": None}
    assert memory.resident_summary([{"step": s, "loss": 1.0} for s in range(1, 6)]) == nothing
    assert memory.resident_summary([]) == nothing
    # one step after the warm-up is no slope
    one = memory.resident_summary([{"step": 1, "rss_mib": 5.0}, {"step": 10, "rss_mib": 9.0,
                                                                  "peak_rss_mib": 9.0}])
    assert one == {"peak_rss_mib": 9.0, "rss_growth_mib_per_1000_steps": None}
