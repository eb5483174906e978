"""Shared fixtures: small real image crops (bundled with scikit-image) and the shared data."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

# The benchmark images live beside the repository; users of the package do not have them.
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


@pytest.fixture
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared test data not found at {DATA_DIR}")
    return DATA_DIR


@pytest.fixture
def astronaut_crop() -> np.ndarray:
    """A 64×64 RGB uint8 crop of a real photograph (face and suit edges)."""
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut()[80:144, 200:264])


@pytest.fixture
def camera_crop() -> np.ndarray:
    """A 64×64 grayscale uint8 crop of a real photograph."""
    from skimage.data import camera

    return np.ascontiguousarray(camera()[100:164, 200:264])


def _devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


@pytest.fixture(params=_devices())
def device(request) -> str:
    """Every device this machine has: the CPU always, CUDA and MPS where present, so the
    same tests check the GPU path when run on a GPU machine (bench/gpu_job.sh)."""
    return request.param


@pytest.fixture
def disk_full_after(monkeypatch):
    """``disk_full_after(n)``: in this process, the n+1-th rename of a finished output
    into place (``os.replace``) and every later one fail as on a full disk; returns the
    list of outputs that went through. ``monkeypatch.undo()`` ends it."""

    def patch(n: int) -> list:
        replace, written = os.replace, []

        def full_after_n(src, dst):
            if len(written) == n:
                raise OSError(errno.ENOSPC, "No space left on device")
            replace(src, dst)
            written.append(dst)

        monkeypatch.setattr(os, "replace", full_after_n)
        return written

    return patch


@pytest.fixture
def n2n_without():
    """``n2n_without(modules, *args)``: ``n2n ARGS`` in a fresh process where the Python
    packages ``modules`` cannot be imported, as on an install without an optional extra."""

    def run(modules: tuple[str, ...], *args) -> subprocess.CompletedProcess:
        hidden = "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
        script = (
            f"import sys\n{hidden}from noise2noise.cli import main\nsys.exit(main(sys.argv[1:]))"
        )
        cmd = [sys.executable, "-c", script, *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    return run
