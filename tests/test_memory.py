"""training/memory.py: the mmap threshold is set in glibc only, once asked, never over the
user's own choice and not when MINITRANSFORMER_DEFAULT_MALLOC=1 asks for malloc as it is; the
resident-memory readings parse /proc and are empty elsewhere; the summary of a run's readings
gives its peak and its growth after the warm-up, None where nothing was read."""

import os

import pytest

from minitransformer.training import memory


class FakeLibrary:
    """Records mallopt calls as glibc would take them (1 = accepted)."""

    def __init__(self):
        self.calls = []

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))
        return 1


@pytest.fixture
def no_user_setting(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.delenv("MINITRANSFORMER_DEFAULT_MALLOC", raising=False)


def test_threshold_is_fixed_at_128_kib_through_mallopt(no_user_setting):
    library = FakeLibrary()
    assert memory.keep_large_blocks_off_the_heap(library)
    assert library.calls == [(-3, 128 * 1024)]  # M_MMAP_THRESHOLD of <malloc.h>


def test_without_glibc_nothing_is_set_and_nothing_fails(no_user_setting, monkeypatch):
    monkeypatch.setattr(memory, "glibc", lambda: None)
    assert memory.keep_large_blocks_off_the_heap() is False


@pytest.mark.parametrize("variable, value", [
    ("MALLOC_MMAP_THRESHOLD_", "65536"),
    ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1048576")])
def test_a_threshold_the_user_chose_is_kept(no_user_setting, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    library = FakeLibrary()
    assert memory.keep_large_blocks_off_the_heap(library) is False
    assert library.calls == []


def test_default_malloc_switch_leaves_the_dynamic_threshold_on(no_user_setting, monkeypatch):
    # benchmarks/train_epoch.py's ours-packed-default-malloc runs the trainer this way
    monkeypatch.setenv("MINITRANSFORMER_DEFAULT_MALLOC", "1")
    library = FakeLibrary()
    assert memory.keep_large_blocks_off_the_heap(library) is False
    assert library.calls == []
    monkeypatch.setenv("MINITRANSFORMER_DEFAULT_MALLOC", "0")  # only 1 switches it off
    assert memory.keep_large_blocks_off_the_heap(library)
    assert library.calls == [(-3, 128 * 1024)]


def test_other_glibc_tunables_do_not_stop_it(no_user_setting, monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX512F")
    library = FakeLibrary()
    assert memory.keep_large_blocks_off_the_heap(library)


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
