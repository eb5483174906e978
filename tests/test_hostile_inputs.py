"""Hostile and huge inputs, built on the fly (the bombs are a few kilobytes), run through
the real command line in a subprocess under a memory cap (``ulimit -v`` through
``resource.setrlimit``), the way a user or an attacker would: every case must end in one
line or a correct output, never a traceback, never memory beyond the cap, never a silent
change of content, format or page count, and nothing left behind."""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from noise2noise import add_noise, denoise, denoise_ansc, denoise_image, denoise_zeroshot, psnr
from noise2noise.batch import plan_outputs, process_files
from noise2noise.convert import as_float
from noise2noise.errors import N2NError, Note
from noise2noise.image_io import (
    ImageFileError,
    as_stored,
    read_header,
    read_image,
    read_stack,
    stored_type,
    write_image,
)
from noise2noise.training import TrainConfig, load_checkpoint, save_checkpoint

MEMORY_CAP = 3 * 2**30  # virtual memory: Python, torch and the model need about 0.8 GB
RUN = """
import resource, sys
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from noise2noise.cli import main
sys.exit(main(sys.argv[2:]))
"""


def n2n(
    *args, cap: int = MEMORY_CAP, cwd=None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``n2n ARGS`` in a fresh process under a memory cap."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", RUN, str(cap), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The run failed with a short message and no traceback; return stderr."""
    assert proc.returncode in (1, 2), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "n2n: error:" in proc.stderr or "error: argument" in proc.stderr, proc.stderr
    return proc.stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if "partial" in p.name)


# --------------------------------------------------------------- building the bombs


def tiff_tile_bomb(path: Path, width: int, height: int, tile: int = 1024) -> Path:
    """A tiled 8-bit TIFF declaring width×height pixels whose tiles all point at one
    small deflate block of zeros (a few kilobytes on disk)."""
    block = zlib.compress(bytes(tile * tile), 9)
    tiles = -(-width // tile) * -(-height // tile)
    entries = [
        (256, 4, 1, width),  # ImageWidth
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 8),  # Compression: deflate
        (262, 3, 1, 1),  # Photometric: min-is-black
        (277, 3, 1, 1),  # SamplesPerPixel
        (322, 3, 1, tile),  # TileWidth
        (323, 3, 1, tile),  # TileLength
        (324, 4, tiles, None),  # TileOffsets
        (325, 4, tiles, None),  # TileByteCounts
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    offsets_at = ifd_offset + ifd_size
    counts_at = offsets_at + 4 * tiles
    data_at = counts_at + 4 * tiles
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 324:
            value = offsets_at
        elif tag == 325:
            value = counts_at
        if kind == 3 and count == 1:
            out += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, kind, count, value)
    out += struct.pack("<I", 0)
    out += struct.pack(f"<{tiles}I", *([data_at] * tiles))
    out += struct.pack(f"<{tiles}I", *([len(block)] * tiles))
    out += block
    path.write_bytes(bytes(out))
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_zero_bomb(path: Path, side: int, depth: int = 16) -> Path:
    """A valid grayscale PNG of side×side zeros at ``depth`` bits (compresses ~1000:1)."""
    row = bytes(1 + side * depth // 8)  # filter byte + samples
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, depth, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )
    return path


@pytest.fixture
def photo(tmp_path, astronaut_crop) -> Path:
    return write_image(tmp_path / "photo.png", astronaut_crop)


# --------------------------------------------------------------- 1. no size limit


@pytest.mark.parametrize("side", [20000, 60000])
def test_tiff_tile_bomb_is_refused_before_decoding(tmp_path, side):
    bomb = tiff_tile_bomb(tmp_path / "bomb.tif", side, side)
    assert bomb.stat().st_size < 200_000
    start = time.perf_counter()
    proc = n2n("denoise", bomb, "-o", tmp_path / "out.png")
    err = one_line_error(proc)
    assert "bomb.tif" in err and f"{side}×{side}" in err
    assert time.perf_counter() - start < 60
    assert not (tmp_path / "out.png").exists()


def test_png_zero_bomb_is_refused_under_a_memory_cap(tmp_path):
    bomb = png_zero_bomb(tmp_path / "zeros.png", 12000)
    assert bomb.stat().st_size < 1_000_000
    err = one_line_error(n2n("denoise", bomb, "-o", tmp_path / "out.png"))
    assert "zeros.png" in err and "memory" in err


def test_max_megapixels_is_ours_and_said_in_one_line(tmp_path, photo):
    err = one_line_error(
        n2n("denoise", photo, "-o", tmp_path / "o.png", "--max-megapixels", "0.001")
    )
    assert "limit of 0.001 megapixels" in err
    assert "zarr" not in err  # a photo has no chunked way


def test_a_tiff_over_the_limit_is_told_of_the_chunked_way(tmp_path, camera_crop):
    """A slide over --max-megapixels was refused with no word of the zarr output, which
    denoises a TIFF chunk by chunk without that limit (the memory refusal said it)."""
    tifffile.imwrite(tmp_path / "slide.tif", camera_crop)
    err = one_line_error(
        n2n(
            "denoise", tmp_path / "slide.tif", "-o", tmp_path / "o.tif", "--max-megapixels", "0.001"
        )
    )
    assert "limit of 0.001 megapixels (set by --max-megapixels): raise it, or denoise it " in err
    assert "chunk by chunk: into a zarr store (an output named OUT.zarr), or with --chunk" in err


def test_a_large_legitimate_png_is_not_refused_by_pillows_own_limit(tmp_path):
    # 180 megapixels is above Pillow's decompression-bomb error (178 MP); the header read
    # must pass it to our own limit, which allows it.
    from noise2noise.image_io import read_header

    header = read_header(png_zero_bomb(tmp_path / "big.png", 13500, depth=8))
    assert (header.width, header.height, header.channels) == (13500, 13500, 1)


# --------------------------------------------------------------- 2. one file ends a run


def test_a_bomb_in_a_folder_is_one_files_error(tmp_path, astronaut_crop):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.png", astronaut_crop[:64, :64])
    tiff_tile_bomb(folder / "b.tif", 20000, 20000)
    write_image(folder / "c.png", astronaut_crop[:64, :64])
    proc = n2n("denoise", folder, "-o", tmp_path / "out", "--workers", "1", timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]
    assert "2 of 3 images denoised" in proc.stdout


@dataclasses.dataclass(frozen=True)
class KillsItsProcessOnWhite:
    """A method that crashes its worker (as the kernel's OOM killer would) on a white
    image and halves every other image."""

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.min() == 255:
            os.kill(os.getpid(), signal.SIGKILL)
        return image // 2


def _grey_folder_with_white_c(tmp_path: Path, names: str) -> list:
    """Small grey images ``names``, ``c`` white; their (source, output) pairs."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        write_image(folder / f"{name}.png", np.full((8, 8), 200 if name != "c" else 255, np.uint8))
    return plan_outputs([folder], tmp_path / "out")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_that_dies_is_one_files_error(tmp_path, workers):
    pairs = _grey_folder_with_white_c(tmp_path, "abcde")
    results = process_files(pairs, KillsItsProcessOnWhite(), workers=workers, isolate=True)
    errors = {r.source.name: r.error for r in results if not r.ok}
    assert list(errors) == ["c.png"], errors
    assert "worker process died" in errors["c.png"]
    for name in "abde":
        np.testing.assert_array_equal(read_image(tmp_path / "out" / f"{name}.png"), 100)
    assert leftovers(tmp_path / "out") == []


def test_a_run_in_worker_processes_ends_without_pythons_leak_warning(tmp_path):
    # Each worker's (hidden) progress bar used to make a tqdm lock, a semaphore that
    # the pool's ending of the worker leaked: "leaked semaphore objects" after the summary.
    folder = tmp_path / "in"
    folder.mkdir()
    for name in "ab":
        write_image(folder / f"{name}.png", np.full((24, 24, 3), 120, np.uint8))
    proc = n2n("denoise", folder, "-o", tmp_path / "out/", "--method", "pretrained", "--workers", 2)
    assert proc.returncode == 0, proc.stderr
    assert "2 of 2 images denoised" in proc.stdout + proc.stderr
    assert "leaked" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr


@dataclasses.dataclass(frozen=True)
class DiesWhileWriting:
    """A method whose worker dies on a white image after starting to write that image's
    output (the temporary file is there), as one killed mid-write leaves it."""

    out: Path

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.min() == 255:
            tmp = self.out / f".c.partial-{os.getpid()}.png"
            tmp.write_bytes(b"\x89PNG half")
            os.kill(os.getpid(), signal.SIGKILL)
        return image // 2


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_killed_while_writing_leaves_no_temporary_file(tmp_path, workers):
    pairs = _grey_folder_with_white_c(tmp_path, "abc")
    method = DiesWhileWriting(tmp_path / "out")
    results = process_files(pairs, method, workers=workers, isolate=True)
    assert [r.source.name for r in results if not r.ok] == ["c.png"]
    assert leftovers(tmp_path / "out") == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]


# --------------------------------------------------------------- 3. tampered checkpoints


def _checkpoint(tmp_path: Path, **changes) -> Path:
    config = TrainConfig(arch="unet", width=8, depth=2, epochs=1, crop=32)
    net = torch.nn.Module()
    path = tmp_path / "good.pt"
    from noise2noise.models import build_model

    net = build_model("unet", 3, **config.model_options())
    save_checkpoint(path, net, config, 3)
    payload = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if key.startswith("config."):
            payload["config"][key[7:]] = value
        elif value is None:
            del payload[key]
        else:
            payload[key] = value
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    return bad


TAMPERED = {
    "no config": {"config": None},
    "config is a list": {"config": [1, 2]},
    "string width": {"config.width": "wide"},
    "width 1e9": {"config.width": 10**9},
    "depth 60": {"config.depth": 60},
    "bool epochs": {"config.epochs": True},
    "unknown arch": {"config.arch": "transformer"},
    "7 channels": {"channels": 7},
    "garbage weights": {"model": {"x": torch.zeros(3)}},
    "weights not a dict": {"model": [1, 2, 3]},
    "wrong shapes": {"config.width": 16},
    "NaN weights": {"model": "nan"},
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_checkpoint_is_one_line_naming_file_and_field(tmp_path, photo, case):
    changes = dict(TAMPERED[case])
    if changes.get("model") == "nan":
        state = load_checkpoint(_checkpoint(tmp_path))["model"]
        state[next(iter(state))].fill_(float("nan"))
        changes["model"] = state
    bad = _checkpoint(tmp_path, **changes)
    err = one_line_error(n2n("denoise", photo, "-o", tmp_path / "o.png", "--model", bad))
    assert "bad.pt" in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.png").exists()


def test_a_pickle_checkpoint_message_is_whole(tmp_path, photo):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    bad = tmp_path / "evil.pt"
    torch.save({"format": "noise2noise-checkpoint", "x": Evil()}, bad)
    err = one_line_error(
        n2n("denoise", photo, "-o", tmp_path / "o.png", "--model", bad, cwd=tmp_path)
    )
    assert not (tmp_path / "pwned").exists()
    assert err.strip().endswith(")") and "could run code" in err


# --------------------------------------------------------------- 4. absurd arguments


@pytest.mark.parametrize(
    "args",
    [
        ["add-noise", "{photo}", "-o", "{tmp}/o.png", "--poisson", "inf"],
        ["add-noise", "{photo}", "-o", "{tmp}/o.png", "--poisson", "1e30"],
        ["add-noise", "{photo}", "-o", "{tmp}/o.png", "--gaussian", "nan"],
        ["add-noise", "{photo}", "-o", "{tmp}/o.png", "--gaussian", "1e30"],
        ["denoise", "{photo}", "-o", "{tmp}/o.png", "--max-megapixels", "-1"],
        ["train", "--data", "{tmp}", "--noise", "poisson:inf", "--out", "{tmp}/run"],
        ["eval", "--images", "{photo}", "--crop", "-5", "--out", "{tmp}/ev"],
    ],
)
def test_absurd_arguments_are_one_line_and_leave_nothing(tmp_path, photo, args):
    args = [a.format(photo=photo, tmp=tmp_path) for a in args]
    before = sorted(tmp_path.iterdir())
    one_line_error(n2n(*args))
    assert sorted(tmp_path.iterdir()) == before


# --------------------------------------------------------------- 5. interrupts


def _folder_of(tmp_path: Path, image: np.ndarray, count: int) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(count):
        write_image(folder / f"img{i:02d}.png", np.roll(image, i, axis=1))
    return folder


def _start(args: list) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    code = "import sys; from noise2noise.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal gives it
        preexec_fn=_as_from_a_terminal,
    )


def _as_from_a_terminal() -> None:
    """Ctrl-C and a hangup reach a child as in a terminal even where pytest itself was
    started in the background (`cmd &` ignores SIGINT) or under `nohup` (SIGHUP ignored:
    the SIGHUP tests failed), both inherited."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _wait_for_output(folder: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        # A finished output, not one being written (".img00.partial-PID.png").
        if folder.is_dir() and any(
            p.suffix == ".png" and not p.name.startswith(".") for p in folder.iterdir()
        ):
            return
        time.sleep(0.05)
    raise AssertionError("no output appeared")


@pytest.mark.parametrize(
    "how, code",
    [
        ("SIGINT to the group", 130),
        ("SIGTERM", 143),
        # A closed terminal: it killed every process of the run at once (workers and
        # the semaphore tracker too) and left half-written hidden files behind.
        ("SIGHUP to the group", 129),
    ],
)
def test_interrupt_stops_cleans_up_and_skip_existing_continues(tmp_path, astronaut_crop, how, code):
    # 128×128 images: 64×64 ones went by so fast (bf16 on the CPU) that the signal, sent
    # once the first output was written, sometimes came after the last.
    folder = _folder_of(tmp_path, np.tile(astronaut_crop, (2, 2, 1)), 40)
    out = tmp_path / "out"
    proc = _start(["denoise", folder, "-o", out, "--workers", "2"])
    _wait_for_output(out, proc)
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGHUP if how.startswith("SIGHUP") else signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    written = sorted(p.name for p in out.iterdir())
    assert leftovers(out) == [] and all(not n.startswith(".") for n in written)
    assert 1 <= len(written) < 40
    # Every whole output counts, also one written just before its result came back.
    assert f"{len(written)} of 40 images finished" in stderr
    assert "--skip-existing to continue" in stderr
    for name in written:
        read_image(out / name)  # whole, readable images only
    # Continue where it stopped.
    proc = n2n("denoise", folder, "-o", out, "--skip-existing", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(written)} skipped" in proc.stdout
    assert len(list(out.iterdir())) == 40


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_closed_terminal_ends_a_run_cleanly(tmp_path, astronaut_crop):
    # As a user sees it: n2n runs on a terminal that goes away (ssh dropped, window
    # closed). The kernel sends SIGHUP, and writing to the terminal fails from then on.
    import fcntl
    import termios

    folder = _folder_of(tmp_path, np.tile(astronaut_crop, (2, 2, 1)), 40)
    out = tmp_path / "out"
    try:
        master, slave = os.openpty()
    except OSError as exc:  # a container without /dev/ptmx
        pytest.skip(f"no pseudo-terminal here ({exc})")

    def on_the_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # its controlling terminal, as a shell's
        _as_from_a_terminal()

    code = "import sys; from noise2noise.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "denoise", str(folder), "-o", str(out), "--workers", "2"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        preexec_fn=on_the_terminal,
    )
    os.close(slave)
    os.set_blocking(master, False)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            os.read(master, 65536)  # what it shows, so that it never blocks on writing
        except OSError:
            pass
        if out.is_dir() and any(p.name.startswith("img") for p in out.iterdir()):
            break  # a whole output, not a hidden temporary one
        time.sleep(0.02)
    os.close(master)  # the terminal goes
    assert proc.wait(timeout=60) == 129
    written = list(out.iterdir())
    assert leftovers(out) == [] and 1 <= len(written) < 40
    for path in written:
        read_image(path)


def test_nohup_keeps_a_run_going_through_a_hangup(tmp_path, astronaut_crop):
    # `nohup n2n ...` ignores SIGHUP so that the run outlives the terminal: the handler
    # that makes a hangup an interrupt must not undo that.
    folder = _folder_of(tmp_path, np.tile(astronaut_crop, (2, 2, 1)), 6)
    out = tmp_path / "out"
    code = "import sys; from noise2noise.cli import main; sys.exit(main(sys.argv[1:]))"

    def nohup():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-c", code, "denoise", str(folder), "-o", str(out), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
        preexec_fn=nohup,
    )
    _wait_for_output(out, proc)
    os.killpg(proc.pid, signal.SIGHUP)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert len(list(out.glob("img*.png"))) == 6


def test_a_killed_runs_half_written_files_go_with_the_next_run(tmp_path, astronaut_crop):
    # kill -9 or power lost mid-write: the writer cannot remove its hidden temporary
    # file. The next run into that folder does, unless its writer still runs.
    folder = _folder_of(tmp_path, astronaut_crop, 2)
    out = tmp_path / "out"
    out.mkdir()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = out / f".img00.partial-{int(gone.stdout)}.png"
    alive = out / f".img01.partial-{os.getpid()}.png"  # another run, still writing
    unrelated = out / f".notes.partial-{int(gone.stdout)}.txt"  # no output of this run
    for path in (dead, alive, unrelated):
        path.write_bytes(b"half an image")
    proc = n2n("denoise", folder, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert not dead.exists() and alive.exists() and unrelated.exists()
    assert (out / "img00.png").exists() and (out / "img01.png").exists()


def test_a_name_that_fits_is_written_though_its_temporary_name_would_not(tmp_path):
    # 250 bytes fit the 255 of a file name; '.NAME.partial-PID.png' did not, so the
    # result was lost after all the work ('File name too long').
    image = np.zeros((16, 16), np.uint8)
    for name in ("a" * 246 + ".png", "é" * 123 + ".png"):  # 250 bytes, ASCII and UTF-8
        write_image(tmp_path / name, image)
        assert read_image(tmp_path / name).shape == (16, 16)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_temporary_files_of_names_with_brackets_are_found(tmp_path):
    # A '[' in a name is a glob character class: 'scan[1].png's temporary file was not
    # found, so an interrupted run or a killed writer left it behind.
    from noise2noise.files import partial_files

    target = tmp_path / "scan[1] *?.png"
    partial = tmp_path / ".scan[1] *?.partial-123.png"
    other = tmp_path / ".scan1 ab.partial-123.png"
    partial.write_bytes(b"half")
    other.write_bytes(b"half")
    assert partial_files(target) == [partial]


def test_a_full_disk_stops_the_run_instead_of_failing_every_later_file(
    tmp_path, astronaut_crop, monkeypatch, capsys, disk_full_after
):
    # Each later file was denoised in full and then failed to write, one error line each
    # (10 000 files overnight: hours of work thrown away, 10 000 lines).
    from noise2noise.batch import RunInterrupted
    from noise2noise.cli.interrupts import report_interrupt
    from noise2noise.denoisers import make_denoiser

    folder = _folder_of(tmp_path, astronaut_crop, 6)
    out = tmp_path / "out"
    pairs = plan_outputs([folder], out)
    disk_full_after(2)  # in this process: no workers
    with pytest.raises(RunInterrupted) as stopped:
        process_files(pairs, make_denoiser("pretrained"), isolate=False, progress=False)
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == ["img00.png", "img01.png"]
    assert "No space left on device" in stopped.value.reason
    assert report_interrupt(stopped.value) == 1
    err = capsys.readouterr().err
    assert err.count("No space left on device") == 1
    assert "the run stopped there: 2 of 6 images finished; free some space" in err
    assert "--skip-existing" in err


def test_an_interrupted_continuation_counts_what_it_had_to_do(tmp_path, capsys):
    # A run continued with --skip-existing and interrupted again said '1 of 24 images
    # finished' with 20 of them done before.
    from noise2noise.batch import FileResult, RunInterrupted
    from noise2noise.cli.interrupts import report_interrupt

    src, dst = tmp_path / "a.png", tmp_path / "out" / "a.png"
    results = [FileResult(src, dst, 0.0, skipped=True)] * 20 + [FileResult(src, dst, 1.0)]
    assert report_interrupt(RunInterrupted(results, 24, 143)) == 143
    err = capsys.readouterr().err
    assert "interrupted: 1 of the 4 to do (20 done before) finished;" in err


def test_an_interrupted_overwrite_does_not_advise_keeping_old_outputs(tmp_path, astronaut_crop):
    # --skip-existing after an interrupted --overwrite would keep the earlier run's
    # outputs that were not replaced yet: the advice is --overwrite again.
    folder = _folder_of(tmp_path, np.tile(astronaut_crop, (2, 2, 1)), 40)
    out = tmp_path / "out"
    out.mkdir()
    for source in folder.iterdir():
        write_image(out / source.name, np.zeros((8, 8, 3), np.uint8))  # an earlier run's
    started = time.time_ns()
    proc = _start(["denoise", folder, "-o", out, "--workers", "2", "--overwrite"])
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline:
        if any(p.stat().st_mtime_ns > started for p in out.glob("img*.png")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    new = [p for p in out.glob("img*.png") if read_image(p).shape != (8, 8, 3)]
    old = 40 - len(new)
    assert 1 <= len(new) and old >= 1
    assert f"{len(new)} of 40 images finished" in stderr
    assert f"{old} images from before were not replaced yet" in stderr
    assert "--skip-existing to continue" not in stderr and "with --overwrite" in stderr


def test_sigterm_before_any_output_leaves_no_folder(tmp_path, astronaut_crop):
    folder = _folder_of(tmp_path, astronaut_crop, 4)
    out = tmp_path / "new" / "out"
    proc = _start(["denoise", folder, "-o", out, "--workers", "2"])
    deadline = time.time() + 60
    while not out.exists() and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------- 6. silent wrong output


def test_nan_in_float_input_is_an_error(tmp_path):
    image = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    image[5:10, 5:10] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", image)
    err = one_line_error(n2n("denoise", tmp_path / "nan.tif", "-o", tmp_path / "o.tif"))
    assert "25 of 1024 values are NaN" in err
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize(
    "call",
    [
        lambda x: denoise(x),
        lambda x: denoise_zeroshot(x, iterations=2),
        lambda x: denoise_ansc(x, peak=20),
        lambda x: denoise_image(x, "auto"),
    ],
    ids=["denoise", "zeroshot", "ansc", "denoise_image-auto"],
)
def test_nan_in_an_array_is_an_error_of_the_python_api_too(call):
    """`n2n.denoise(array_with_a_few_nans)` returned an image of NaN only, silently (the
    network spreads them); adding noise keeps them where they are, as before."""
    image = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    image[5, 5:9] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)  # auto says nothing before refusing
        with pytest.raises(N2NError, match="4 of 1024 values are NaN or infinite"):
            call(image)
    noisy = add_noise(image, "gaussian:10", seed=0)
    assert np.isnan(noisy).sum() == 4 and np.isnan(noisy[5, 5:9]).all()


@pytest.mark.parametrize("method", ["pretrained", "real", "auto"])
def test_one_pixel_wide_and_empty_arrays(method):
    """`real` on a one-pixel-wide image failed inside torch's padding, and an empty array
    in every shipped method with torch's 'max(): Expected reduction dim'."""
    line = np.linspace(0, 1, 300, dtype=np.float32)[:, None]
    assert denoise_image(line, method).shape == (300, 1)
    assert denoise_image(line.T, method).shape == (1, 300)
    with pytest.raises(N2NError, match=r"the image is empty \(an array of shape \(0, 10\)\)"):
        denoise_image(np.zeros((0, 10), np.float32), method)


def test_a_batch_of_images_is_refused_with_what_to_do():
    batch = np.zeros((2, 3, 16, 16), np.float32)  # (N, C, H, W), as a torch user has it
    with pytest.raises(N2NError, match=r"shape \(2, 3, 16, 16\); a batch or stack of images"):
        denoise(batch, channel_axis=1)


def test_denoise_image_takes_the_channel_axis_of_the_other_functions(astronaut_crop):
    """`denoise_image(rgb, channel_axis=-1)` was a TypeError from inside the method
    ('got multiple values for keyword argument')."""
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=1, channel_axis=-1)
    last = denoise_image(noisy, "pretrained", channel_axis=-1)
    np.testing.assert_array_equal(last, denoise_image(noisy, "pretrained"))
    first = denoise_image(np.moveaxis(noisy, -1, 0), "pretrained", channel_axis=0)
    np.testing.assert_array_equal(np.moveaxis(first, 0, -1), last)
    with pytest.raises(N2NError, match="channel_axis=None: give the axis"):
        denoise_image(noisy, "pretrained", channel_axis=None)


def test_float_data_outside_0_1_is_scaled_and_back_with_a_note(tmp_path):
    clean = np.linspace(-500, 500, 64 * 64, dtype=np.float32).reshape(64, 64)
    noisy = clean + np.random.default_rng(0).normal(0, 50, clean.shape).astype(np.float32)
    tifffile.imwrite(tmp_path / "units.tif", noisy)
    proc = n2n("denoise", tmp_path / "units.tif", "-o", tmp_path / "o.tif")
    assert proc.returncode == 0, proc.stderr
    assert "scaled into [0, 1]" in proc.stderr
    out = tifffile.imread(tmp_path / "o.tif")
    assert out.dtype == np.float32 and out.min() < -300 and out.max() > 300
    assert np.abs(out - clean).mean() < np.abs(noisy - clean).mean() / 2


def test_a_float_stack_in_other_units_says_its_scaling_once_not_once_a_plane(tmp_path):
    # A 1000-plane stack wrote 1000 'float values span ...' notes.
    rng = np.random.default_rng(0)
    stack = (rng.random((4, 48, 48)) * [[[1000]], [[2000]], [[3000]], [[4000]]]).astype(np.float32)
    tifffile.imwrite(tmp_path / "units.tif", stack, photometric="minisblack")
    proc = n2n("denoise", tmp_path / "units.tif", "-o", tmp_path / "o.tif")
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if "scaled" in line]
    assert len(said) == 1 and "over 4 planes: each plane scaled from its own span" in said[0]
    out = tifffile.imread(tmp_path / "o.tif")
    assert out.dtype == np.float32 and out.shape == stack.shape
    for plane, noisy in zip(out, stack, strict=True):  # each back in its own units
        assert plane.mean() == pytest.approx(noisy.mean(), rel=0.1)


def test_float_data_in_other_units_are_not_written_clipped_to_a_png(tmp_path):
    """They were: `n2n denoise units.tif -o o.png` wrote an all-white image, with a note."""
    noisy = 500 + np.random.default_rng(0).normal(0, 50, (64, 64)).astype(np.float32)
    tifffile.imwrite(tmp_path / "units.tif", noisy)
    err = one_line_error(n2n("denoise", tmp_path / "units.tif", "-o", tmp_path / "o.png"))
    assert "o.png: float values span" in err and "write .tif" in err
    assert not (tmp_path / "o.png").exists()
    with pytest.raises(ImageFileError, match=r"o\.png: float values span \[500, 500\]"):
        write_image(tmp_path / "o.png", np.full((8, 8), 500.0))
    assert list(tmp_path.iterdir()) == [tmp_path / "units.tif"]  # no temporary file left


def test_noise_added_to_float_data_in_other_units_is_relative_to_their_range(tmp_path):
    """`n2n add-noise units.tif` clipped them into [0, 1], then refused them; now they are
    scaled as for denoising: Gaussian 25 of 255 on data spanning [0, 1000] adds std 98."""
    clean = np.full((128, 128), 500, np.float32)
    clean[0, :2] = 0, 1000
    tifffile.imwrite(tmp_path / "units.tif", clean)
    proc = n2n("add-noise", tmp_path / "units.tif", "-o", tmp_path / "n.tif", "--gaussian", "25")
    assert proc.returncode == 0, proc.stderr
    assert "scaled into [0, 1] for adding noise and back" in proc.stderr
    noise = tifffile.imread(tmp_path / "n.tif") - clean
    assert noise.dtype == np.float32 and noise[1:].std() == pytest.approx(1000 * 25 / 255, rel=0.05)


def test_float_arrays_in_other_units_in_the_python_api():
    """`denoise` clipped them into [0, 1]: a blank result without a word; then refused
    them. Since 0.20 `denoise` and `denoise_zeroshot` scale them into [0, 1] and back,
    with a note, as `n2n denoise` and `denoise_dask` do. Unclipped noisy images, whose
    noise goes beyond [0, 1], are still taken as they are."""
    units = np.linspace(0, 1000, 64 * 64, dtype=np.float32).reshape(64, 64)
    for method in (denoise, functools.partial(denoise_zeroshot, iterations=20)):
        with pytest.warns(UserWarning, match=r"float values span \[0, 1000\]: scaled"):
            out = method(units)
        assert out.dtype == units.dtype and out.max() > 900  # in its units, not clipped
        assert np.abs(out - units).mean() < 50
    clean = units / 1000
    rng = np.random.default_rng(0)
    unclipped = clean + rng.normal(0, 75 / 255, clean.shape).astype(np.float32)
    assert unclipped.min() < -0.5 and unclipped.max() > 1.5
    assert psnr(denoise(unclipped), clean) > psnr(np.clip(unclipped, 0, 1), clean) + 5
    counts = rng.poisson(5 * np.ones((64, 64))) / 5.0  # Poisson, peak 5: up to about 3
    assert denoise_ansc(counts, peak=5).shape == counts.shape


def test_signed_and_32_bit_tiffs_are_denoised_as_float_with_a_note(tmp_path):
    """int16 (CT, some cameras) and uint32 TIFFs were refused as an unsupported sample
    type; they are read as float32 in their own units, and 1-bit TIFFs as 8-bit. The
    output was float32: a CT's int16 (Hounsfield units) is int16 again, rounded."""
    rng = np.random.default_rng(0)
    clean = np.linspace(-500, 500, 96 * 96).reshape(96, 96)
    noisy = np.round(clean + rng.normal(0, 50, clean.shape)).astype(np.int16)
    tifffile.imwrite(tmp_path / "ct.tif", noisy)
    tifffile.imwrite(tmp_path / "bits.tif", rng.random((32, 32)) > 0.5)
    assert read_header(tmp_path / "ct.tif").dtype == np.float32
    assert read_header(tmp_path / "bits.tif").dtype == np.uint8
    proc = n2n("denoise", tmp_path / "ct.tif", "-o", tmp_path / "o.tif")
    assert proc.returncode == 0, proc.stderr
    assert "int16 samples are read as float32 (a TIFF or zarr output is int16 again)" in (
        proc.stderr
    )
    out = tifffile.imread(tmp_path / "o.tif")
    assert out.dtype == np.int16 and out.shape == noisy.shape
    assert np.abs(out - clean).mean() < np.abs(noisy - clean).mean() / 2
    with pytest.warns(UserWarning, match="1-bit image is read as 8-bit"):
        bits = read_image(tmp_path / "bits.tif")
    assert bits.dtype == np.uint8 and set(np.unique(bits)) == {0, 255}


def test_compare_says_a_conversion_as_a_note_line(tmp_path):
    """`n2n compare` of int16 TIFFs printed Python's warning: the path of the n2n script,
    'ConversionWarning:' and the script's source line (sys.exit(main())), twice."""
    clean = np.linspace(-500, 500, 48 * 64).reshape(48, 64).astype(np.int16)
    for folder, image in (("results", clean + 3), ("references", clean)):
        (tmp_path / folder).mkdir()
        for name in ("a.tif", "b.tif"):
            tifffile.imwrite(tmp_path / folder / name, image.astype(np.int16))
    proc = n2n("compare", tmp_path / "results", tmp_path / "references")
    assert proc.returncode == 0, proc.stderr
    line = "n2n: note: int16 samples are read as float32"
    assert proc.stderr.count(line) == 1, proc.stderr
    assert "Warning" not in proc.stderr and "main()" not in proc.stderr
    single = n2n("compare", tmp_path / "results" / "a.tif", tmp_path / "references" / "a.tif")
    assert single.stderr.count(line) == 1 and "PSNR" in single.stdout


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.uint32, np.int8])
def test_a_tiff_stack_is_written_in_the_sample_type_it_was_stored_in(tmp_path, dtype):
    """Half and double floats, 32-bit and signed integers are denoised as float32; their
    stacks and images came out as float32 TIFFs (twice the size of a half-float stack, a
    type a CT or counting pipeline does not take)."""
    rng = np.random.default_rng(0)
    low, top = (0.0, 1.0) if np.dtype(dtype).kind == "f" else (30.0, 90.0)
    clean = np.linspace(low, top, 3 * 48 * 64).reshape(3, 48, 64)
    noisy = clean + rng.normal(0, (top - low) / 10, clean.shape)
    noisy = (noisy if np.dtype(dtype).kind == "f" else np.round(noisy)).astype(dtype)
    tifffile.imwrite(tmp_path / "stack.tif", noisy, photometric="minisblack")
    tifffile.imwrite(tmp_path / "one.tif", noisy[0])
    for name, truth, given in (("stack.tif", clean, noisy), ("one.tif", clean[0], noisy[0])):
        proc = n2n("denoise", tmp_path / name, "-o", tmp_path / f"o_{name}")
        assert proc.returncode == 0, proc.stderr
        out = tifffile.imread(tmp_path / f"o_{name}")
        assert out.dtype == dtype and out.shape == truth.shape
        error = np.abs(out.astype(float) - truth).mean()
        assert error < np.abs(given.astype(float) - truth).mean() / 2


def test_rounding_into_the_stored_type_clips_at_its_range():
    """Values beyond an integer type's range become its extremes (a float beyond 2**32 - 1
    cast to uint32 wraps around: a bright pixel turned black)."""
    image = np.array([-3.4, 0.5, 1.6, 4294967295.9, 5e9], np.float32)
    np.testing.assert_array_equal(
        as_stored(image, np.dtype(np.uint32)), [0, 0, 2, 4294967295, 4294967295]
    )
    np.testing.assert_array_equal(as_stored(image[:3], np.dtype(np.int8)), [-3, 0, 2])
    assert as_stored(image, None) is image
    assert stored_type(np.uint16) is None and stored_type(np.bool_) is None
    assert stored_type(np.float64) == np.float64


def test_every_page_of_a_tiff_written_page_by_page_is_denoised(tmp_path):
    rng = np.random.default_rng(0)
    pages = [rng.integers(0, 256, (24, 32), dtype=np.uint8) for _ in range(3)]
    path = tmp_path / "pages.tif"
    for page in pages:
        tifffile.imwrite(path, page, append=True)
    proc = n2n("denoise", path, "-o", tmp_path / "o.tif")
    assert proc.returncode == 0, proc.stderr
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        assert len(tif.pages) == 3
        out = tif.asarray()
    assert out.shape == (3, 24, 32)


def test_animated_png_is_refused_not_cut_to_one_frame(tmp_path):
    frames = [Image.fromarray(np.full((16, 16), v, np.uint8)) for v in (0, 128, 255)]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    err = one_line_error(n2n("denoise", tmp_path / "anim.png", "-o", tmp_path / "o.png"))
    assert "animated PNG of 3 frames" in err


@pytest.mark.parametrize(
    "mode, ext, said",
    [("1", ".png", "1-bit image is read as 8-bit"), ("CMYK", ".jpg", "CMYK image is read as RGB")],
)
def test_a_change_of_format_or_depth_is_said(tmp_path, mode, ext, said):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).convert(mode).save(
        tmp_path / f"in{ext}"
    )
    proc = n2n("denoise", tmp_path / f"in{ext}", "-o", tmp_path / f"o{ext}")
    assert proc.returncode == 0, proc.stderr
    assert said in proc.stderr and "note:" in proc.stderr


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_cmyk_tiff_is_read_as_rgb_not_as_rgba(tmp_path, dtype):
    """Read through tifffile, its four inks were taken for RGB and alpha: denoised as
    such and written as an RGBA TIFF of other colours, black ink passed through as alpha."""
    top = np.iinfo(dtype).max
    inks = np.random.default_rng(0).integers(0, top + 1, (32, 40, 4)).astype(dtype)
    tifffile.imwrite(tmp_path / "in.tif", inks, photometric="separated")
    with pytest.warns(Note, match="a CMYK image is read as RGB"):
        rgb = read_image(tmp_path / "in.tif")
    expected = (1 - inks[..., :3] / top) * (1 - inks[..., 3:] / top) * top
    assert rgb.shape == (32, 40, 3) and rgb.dtype == dtype
    assert np.abs(rgb - expected).max() <= 0.5
    if dtype == np.uint8:  # as Pillow converts one
        Image.fromarray(inks, mode="CMYK").save(tmp_path / "pil.tif")
        pillow = np.asarray(Image.open(tmp_path / "pil.tif").convert("RGB"))
        np.testing.assert_array_equal(rgb, pillow)
    assert read_header(tmp_path / "in.tif").channels == 3


def test_a_min_is_white_tiff_comes_out_looking_as_it_went_in(tmp_path):
    """Scanners and fax write grayscale with 0 for white; its values were denoised and
    written as min-is-black, so the output showed the image inverted."""
    rng = np.random.default_rng(0)
    page = np.where(np.arange(64) < 32, 200, 10).astype(np.uint8)[None].repeat(64, 0)
    page = page + rng.integers(0, 20, page.shape).astype(np.uint8)  # ink on paper
    tifffile.imwrite(tmp_path / "scan.tif", page, photometric="miniswhite")
    tifffile.imwrite(tmp_path / "scans.tif", np.stack([page] * 3), photometric="miniswhite")
    for name in ("scan.tif", "scans.tif"):
        proc = n2n("denoise", tmp_path / name, "-o", tmp_path / f"o_{name}")
        assert proc.returncode == 0, proc.stderr
        assert "min-is-white TIFF is read as min-is-black" in proc.stderr
        shown = Image.open(tmp_path / f"o_{name}").convert("L")  # as a viewer shows it
        assert np.asarray(shown)[:, :32].mean() < 60 < 190 < np.asarray(shown)[:, 32:].mean()


def test_a_palette_tiff_is_read_as_its_colours_not_its_indices(tmp_path):
    """tifffile gives a palette TIFF's indices: they were denoised as a gray image and
    written as one, every colour lost."""
    rgb = np.random.default_rng(0).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).quantize(64).save(tmp_path / "in.tif")  # a palette TIFF
    expected = np.asarray(Image.open(tmp_path / "in.tif").convert("RGB"))
    with pytest.warns(Note, match="a palette image is read as RGB"):
        read = read_image(tmp_path / "in.tif")
    np.testing.assert_array_equal(read, expected)
    header = read_header(tmp_path / "in.tif")
    assert (header.channels, header.dtype) == (3, np.uint8)
    proc = n2n("denoise", tmp_path / "in.tif", "-o", tmp_path / "out.tif")
    assert proc.returncode == 0, proc.stderr
    out = tifffile.TiffFile(tmp_path / "out.tif").pages[0]
    assert out.shape == (32, 40, 3) and out.photometric == tifffile.PHOTOMETRIC.RGB
    indices = np.asarray(Image.open(tmp_path / "in.tif"))
    tifffile.imwrite(tmp_path / "pages.tif", np.stack([indices] * 2), photometric="palette",
                     colormap=np.zeros((3, 256), np.uint16))  # fmt: skip
    with pytest.raises(ImageFileError, match="stack of palette planes"):
        read_stack(tmp_path / "pages.tif")


@pytest.mark.parametrize("mode, said", [("YCbCr", "a YCbCr image"), ("LAB", "a Lab image")])
def test_a_ycbcr_or_lab_tiff_is_read_as_rgb_not_as_stored(tmp_path, mode, said):
    """tifffile gives an uncompressed YCbCr or a CIELAB TIFF's samples as stored: they were
    denoised as RGB and written as RGB, a picture of other colours."""
    rgb = np.random.default_rng(0).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert(mode).save(tmp_path / "in.tif")
    assert tifffile.TiffFile(tmp_path / "in.tif").pages[0].photometric in (6, 8)
    with pytest.warns(Note, match=f"{said} is read as RGB"):
        read = read_image(tmp_path / "in.tif")
    assert np.abs(read.astype(float) - rgb).mean() < 3  # the colours, not the samples
    assert (read_header(tmp_path / "in.tif").channels, read.shape) == (3, (32, 40, 3))


@pytest.mark.parametrize("photometric, bits", [(9, 8), (8, 16), (32845, 16)])
def test_colours_not_read_right_are_refused_not_taken_as_rgb(tmp_path, photometric, bits):
    dtype = np.uint8 if bits == 8 else np.uint16
    tifffile.imwrite(tmp_path / "in.tif", np.zeros((8, 8, 3), dtype), photometric=photometric)
    with pytest.raises(ImageFileError, match=f"{bits}-bit .* colours: not supported"):
        read_header(tmp_path / "in.tif")
    proc = n2n("denoise", tmp_path / "in.tif", "-o", tmp_path / "out.tif")
    assert proc.returncode == 1 and "save it as RGB" in proc.stderr
    assert not (tmp_path / "out.tif").exists()


def _dng(path, preview: bool) -> None:
    """A DNG-like TIFF: a Bayer mosaic, or an RGB preview first as cameras write it."""
    dng = [(50706, "B", 4, (1, 4, 0, 0), True)]
    mosaic = np.random.default_rng(0).integers(0, 4096, (32, 48), dtype=np.uint16)
    if preview:
        tifffile.imwrite(path, np.zeros((16, 24, 3), np.uint8), photometric="rgb", extratags=dng)
        tifffile.imwrite(path, mosaic, photometric=32803, append=True)
    else:
        tifffile.imwrite(path, mosaic, photometric=32803, extratags=dng)


@pytest.mark.parametrize("preview", [False, True])
def test_a_camera_raw_file_is_refused_with_what_to_do(tmp_path, preview):
    # Named .tif so that the content is what refuses it: denoising a colour filter array
    # as a grey image, or a DNG's small preview in place of the photo, would spoil it.
    _dng(tmp_path / "shot.tif", preview)
    with pytest.raises(ImageFileError, match="camera raw file .*develop it first"):
        read_image(tmp_path / "shot.tif")
    with pytest.raises(ImageFileError, match="camera raw file .*develop it first"):
        read_header(tmp_path / "shot.tif")


@pytest.mark.parametrize("ext, said", [(".CR2", "camera raw: develop"), (".jxl", "supported:")])
def test_formats_users_have_and_n2n_cannot_read_say_what_to_do(tmp_path, ext, said):
    (tmp_path / f"photo{ext}").write_bytes(b"\0" * 64)
    err = one_line_error(n2n("denoise", tmp_path / f"photo{ext}", "-o", tmp_path / "o.png"))
    assert "unsupported format" in err and said in err
    assert not (tmp_path / "o.png").exists()


def test_heic_without_the_heif_extra_says_how_to_read_it(tmp_path, astronaut_crop, n2n_without):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "IMG_0001.HEIC").write_bytes(b"\0" * 64)
    write_image(tmp_path / "in" / "IMG_0002.jpg", astronaut_crop)

    def run(*args):  # as where the optional pillow-heif is not installed
        return n2n_without(("pillow_heif",), "denoise", *args)

    err = one_line_error(run(tmp_path / "in" / "IMG_0001.HEIC", "-o", tmp_path / "o.png"))
    assert "unsupported format '.heic'" in err and "pip install 'noise2noise[heif]'" in err
    proc = run(tmp_path / "in", "-o", tmp_path / "out", "--method", "pretrained")
    assert proc.returncode == 0, proc.stderr
    assert "(IMG_0001.HEIC); HEIC: install the optional pillow-heif" in proc.stderr


def test_a_folder_run_says_which_images_it_left_out(tmp_path, astronaut_crop):
    # A photographer's folder of RAW+JPEG pairs: the JPEGs are denoised, the raw files
    # named in a note; a folder of raw files only is an error that says what to do.
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "shot.jpg", astronaut_crop)
    _dng(tmp_path / "in" / "shot.NEF", preview=False)
    (tmp_path / "in" / "notes.txt").write_text("not an image", encoding="utf-8")
    proc = n2n("denoise", tmp_path / "in", "-o", tmp_path / "out", "--method", "pretrained")
    assert proc.returncode == 0, proc.stderr
    assert "left out 1 image file(s) in formats n2n does not read (shot.NEF); camera raw" in (
        proc.stderr
    )
    assert "notes.txt" not in proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["shot.jpg"]
    (tmp_path / "raw").mkdir()
    for name in ["a.CR3", "b.CR3", "c.jxl"]:
        (tmp_path / "raw" / name).write_bytes(b"\0" * 16)
    with pytest.raises(N2NError, match=r"no images n2n reads .*, but 3 .*c\.jxl.*camera raw"):
        plan_outputs([tmp_path / "raw"], tmp_path / "o")


# --------------------------------------------------------------- 7. leftovers


def test_failed_single_file_run_leaves_no_new_folder(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    one_line_error(n2n("denoise", tmp_path / "broken.png", "-o", tmp_path / "new" / "o.png"))
    assert not (tmp_path / "new").exists()


def test_unsupported_output_extension_leaves_no_new_folder(tmp_path, photo):
    one_line_error(n2n("denoise", photo, "-o", tmp_path / "new" / "o.xyz"))
    assert not (tmp_path / "new").exists()


def test_failed_evaluation_leaves_no_config_behind(tmp_path, photo, monkeypatch):
    import noise2noise.evaluation as evaluation

    def fails(*args, **kwargs):
        raise RuntimeError("the first cell failed")

    monkeypatch.setattr(evaluation, "evaluate", fails)
    out = tmp_path / "ev"
    with pytest.raises(RuntimeError):
        evaluation.run_evaluation([str(photo.parent)], ["gaussian:25"], ["bm3d"], out)
    assert not out.exists()


def test_an_animated_gif_named_png_is_refused_too(tmp_path):
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 100, 200)]
    frames[0].save(tmp_path / "g.png", format="GIF", save_all=True, append_images=frames[1:])
    err = one_line_error(n2n("denoise", tmp_path / "g.png", "-o", tmp_path / "o.png"))
    assert "GIF file of 3 frames" in err


def test_an_output_folder_that_cannot_be_made_is_said_before_any_work(tmp_path, photo):
    err = one_line_error(n2n("denoise", photo, "-o", tmp_path / "photo.png" / "o.png"))
    assert "is a file" in err


def test_a_bomb_among_evaluation_images_is_one_line(tmp_path, astronaut_crop):
    folder = tmp_path / "set"
    folder.mkdir()
    write_image(folder / "a.png", astronaut_crop)
    # 8-bit 30000×30000: below the megapixel limit, but 1.8 GB to decode where less is left
    # under the cap.
    tiff_tile_bomb(folder / "b.tif", 30000, 30000)
    err = one_line_error(
        n2n(
            "eval",
            "--images",
            folder,
            "--methods",
            "pretrained",
            "--out",
            tmp_path / "ev",
            cap=2 * 2**30,
        )
    )
    assert "b.tif" in err and "to decode" in err
    assert not (tmp_path / "ev").exists()


def _sigint_blocked() -> bool:
    return signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set())


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_worker_processes_are_born_deaf_to_ctrl_c():
    """A terminal's Ctrl-C reaches the whole process group: a worker still starting up
    (importing, before its initializer) printed a KeyboardInterrupt traceback."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from noise2noise.batch.pool import born_deaf_to_sigint

    spawn = multiprocessing.get_context("spawn")
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal
    try:
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            with born_deaf_to_sigint():  # the worker starts in `submit`
                deaf = pool.submit(_sigint_blocked)
            assert deaf.result(timeout=60)
        assert not _sigint_blocked()  # the parent hears it again
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:  # without it
            assert not pool.submit(_sigint_blocked).result(timeout=60)
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signal masks")
def test_ctrl_c_while_a_worker_starts_is_delivered_afterwards_not_lost():
    """Ignoring SIGINT in the parent while a worker started threw away a Ctrl-C that
    landed then: the run went on to its end and exited 0."""
    import threading

    from noise2noise.batch.pool import born_deaf_to_sigint

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with born_deaf_to_sigint():
                signal.pthread_kill(threading.get_ident(), signal.SIGINT)
                reached.append("the window's end")  # held back until here
            reached.append("after the window")
        assert reached == ["the window's end"]
    finally:
        signal.signal(signal.SIGINT, before)


def test_zero_centred_float_data_are_denoised_not_half_clipped(camera_crop):
    """`denoise(x - 0.5)` and `denoise_zeroshot(x - 0.5)` clipped the values below 0
    (within the [-2, 3] taken as unclipped noise): the upper half of the image only."""
    clean = as_float(camera_crop) - 0.5
    noisy = clean + np.random.default_rng(0).normal(0, 15 / 255, clean.shape).astype(np.float32)
    for method in (denoise, denoise_zeroshot):  # ZS-N2N clipped its output to [0, 1]
        with pytest.warns(UserWarning, match=r"float values span \[-0\.\d+, 1\]: scaled"):
            out = method(noisy)
        gain = psnr(out, clean, data_range=1) - psnr(noisy, clean, data_range=1)
        assert out.min() < -0.3 and gain > 3, method


def test_an_unclipped_noisy_float_tiff_is_denoised_as_the_python_api_does(tmp_path, camera_crop):
    """`n2n denoise` scaled every float TIFF beyond [0, 1] into it (0.1 dB lower on
    unclipped noise than the API, which takes them as they are); now both decide alike."""
    clean = as_float(camera_crop)
    noisy = clean + np.random.default_rng(0).normal(0, 50 / 255, clean.shape).astype(np.float32)
    tifffile.imwrite(tmp_path / "noisy.tif", noisy)
    proc = n2n(
        "denoise", tmp_path / "noisy.tif", "-o", tmp_path / "o.tif", "--method", "pretrained"
    )
    assert proc.returncode == 0, proc.stderr
    assert "scaled" not in proc.stderr
    np.testing.assert_allclose(tifffile.imread(tmp_path / "o.tif"), denoise(noisy), atol=1e-5)
