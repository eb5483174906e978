"""What the process may use of the machine: CPUs (affinity, cgroup quota) and memory,
including on systems that lack a source (no ``resource`` module on Windows)."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

from noise2noise import runtime
from noise2noise.machine import cgroup_cpu_quota, parse_vm_stat, usable_cpus


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("max 100000\n", None),
        ("150000 100000\n", 2),
        ("200000 100000", 2),
        ("50000 100000", 1),
        ("300000", 3),
        ("garbage", None),
        ("", None),
        ("0 100000", None),
    ],
)
def test_cgroup_quota_is_read_as_whole_cpus(tmp_path, text, cpus):
    (tmp_path / "cpu.max").write_text(text)
    assert cgroup_cpu_quota(tmp_path / "cpu.max") == cpus


def test_no_cgroup_file_is_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path / "cpu.max") is None


def test_a_quota_caps_the_cpus(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert usable_cpus(cgroup=tmp_path) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(cgroup=tmp_path) == usable_cpus(cgroup=tmp_path / "no-cgroup")


@pytest.mark.skipif(
    shutil.which("taskset") is None or (os.cpu_count() or 1) < 2, reason="needs taskset and 2 CPUs"
)
def test_an_affinity_mask_caps_the_cpus():
    # os.cpu_count() still says the machine's count under taskset; a folder run would
    # start that many workers on one CPU.
    code = "import os; from noise2noise.machine import usable_cpus as u; print(u(), os.cpu_count())"
    out = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "1" and int(out[1]) >= 2


def test_the_package_imports_without_the_resource_module():
    # Windows has no `resource` (ulimit); the package must not need it.
    code = (
        "import sys; sys.modules['resource'] = None\n"
        "import noise2noise\n"
        "from noise2noise.machine import available_memory\n"
        "print(available_memory() is None or available_memory() > 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_fit_threads_uses_no_more_threads_than_cpus(monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(runtime, "usable_cpus", lambda: 1)
        assert runtime.fit_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setattr(runtime, "usable_cpus", lambda: 8)
        assert runtime.fit_threads() == 1  # never raised above the program's own setting
    finally:
        torch.set_num_threads(before)


VM_STAT = """Mach Virtual Memory Statistics: (page size of 16384 bytes)
Pages free:                                5000.
Pages active:                            400000.
Pages inactive:                          300000.
Pages speculative:                         1000.
Pages throttled:                              0.
Pages wired down:                        150000.
"""


def test_macos_free_memory_counts_the_cache_it_gives_back():
    # vm_stat's "free" pages are a small part of what macOS hands out on demand: with free
    # alone, an image that fits would be refused (5000 pages of 16 KiB: 82 MB)
    assert parse_vm_stat(VM_STAT) == (5000 + 300000 + 1000) * 16384
    assert parse_vm_stat(VM_STAT.replace("16384", "4096")) == (5000 + 300000 + 1000) * 4096
    assert parse_vm_stat("vm_stat: command failed") is None


def test_available_memory_is_known_here_and_never_an_error_elsewhere(monkeypatch):
    from noise2noise import machine

    assert machine.available_memory() > 0  # this Linux machine: /proc/meminfo
    monkeypatch.setattr(machine.Path, "read_text", lambda *a, **k: (_ for _ in ()).throw(OSError))
    for platform in ("darwin", "win32"):  # no vm_stat or windll here: None, no exception
        monkeypatch.setattr(machine.sys, "platform", platform)
        assert machine._meminfo_available() is None
