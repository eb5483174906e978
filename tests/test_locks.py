import os
import subprocess
import sys
import threading
import time

from noise2noise.locks import claim, held_elsewhere, try_claim


def _dead_pid() -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_claim_waits_for_a_live_holder_and_takes_over_a_dead_ones(tmp_path):
    lock = tmp_path / "run.lock"
    lock.write_text(_dead_pid())
    with claim(lock, poll=0.01):
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()

    lock.write_text(str(os.getppid()))  # a live process holds it
    timer = threading.Timer(0.3, lock.unlink)
    timer.start()
    tic = time.perf_counter()
    with claim(lock, poll=0.02):
        waited = time.perf_counter() - tic
    timer.join()
    assert waited >= 0.25


def test_try_claim_gives_up_on_a_live_holder_only(tmp_path):
    lock = tmp_path / "sub" / "cell.lock"
    lock.parent.mkdir()
    lock.write_text(str(os.getppid()))
    assert held_elsewhere(lock)
    with try_claim(lock) as ours:
        assert not ours
    assert lock.read_text() == str(os.getppid())  # untouched

    lock.write_text(_dead_pid())
    assert not held_elsewhere(lock)
    with try_claim(lock) as ours:
        assert ours and lock.read_text() == str(os.getpid())
        assert not held_elsewhere(lock)  # we hold it ourselves
    assert not lock.exists()
