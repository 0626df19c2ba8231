"""training/memory.py: the mmap threshold is set in glibc only, once asked, and never over the
user's own choice; the resident-memory readings parse /proc and are empty elsewhere."""

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
