"""training/memory.py: glibc's free heap pages are given back after every training step, and
not when MINITRANSFORMER_DEFAULT_MALLOC=1 asks for malloc as it is; the
resident-memory readings parse /proc and are empty elsewhere; the summary of a run's readings
gives its peak and its growth after the warm-up, None where nothing was read."""

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


def test_the_trimmer_gives_back_every_free_page_each_time_it_is_called(no_switch):
    library = FakeLibrary()
    trim = memory.heap_trimmer(library)
    assert library.calls == []  # nothing happens before a step asks
    trim()
    trim()
    assert library.calls == [0, 0]  # pad 0: no spare room kept at the heap's top


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
