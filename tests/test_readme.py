"""The README's Python examples run as written: users copy them first."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tifffile

from noise2noise import psnr, read_image

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _block(starting: str) -> str:
    found = [b for b in _python_blocks() if b.startswith(starting)]
    assert len(found) == 1, f"the README has {len(found)} Python examples starting {starting!r}"
    return found[0]


def test_the_first_example_denoises_a_photo(tmp_path, monkeypatch, astronaut_crop, capsys):
    monkeypatch.chdir(tmp_path)
    photo = np.tile(astronaut_crop, (2, 2, 1))
    from noise2noise import write_image

    write_image("photo.png", photo)
    namespace: dict = {}
    exec(_block("import noise2noise as n2n\n"), namespace)
    printed = float(capsys.readouterr().out.split()[-1])
    clean = read_image("clean.png")
    assert clean.shape == photo.shape and clean.dtype == np.uint8
    assert printed == pytest.approx(psnr(clean, photo), abs=1e-6)
    assert printed > psnr(namespace["noisy"], photo) + 5
    assert read_image("clean.jpg").shape == photo.shape


def test_the_stack_example_denoises_plane_by_plane(tmp_path, monkeypatch, camera_crop):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    planes = np.stack([camera_crop] * 4).astype(np.uint16) * 200
    noisy = np.clip(planes + rng.normal(0, 2000, planes.shape), 0, 65535).astype(np.uint16)
    tifffile.imwrite("cells.tif", noisy, photometric="minisblack", metadata={"axes": "ZYX"})
    exec("import noise2noise as n2n\n" + _block("from noise2noise.image_io import"), {})
    clean = tifffile.imread("clean.tif")
    assert clean.shape == noisy.shape and clean.dtype == np.uint16
    for i in range(len(planes)):
        assert psnr(clean[i], planes[i]) > psnr(noisy[i], planes[i]) + 3
