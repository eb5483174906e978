"""Device-generic behaviour: every test runs on the CPU here and also on a GPU when one
is present (the ``device`` fixture), through the run-time device setting."""

import numpy as np
import pytest
import torch

from noise2noise import add_noise, denoise_zeroshot, psnr
from noise2noise.errors import N2NError
from noise2noise.noise import as_mixture
from noise2noise.runtime import resolve_device
from noise2noise.training import MixturePairs, TrainConfig, load_checkpoint, train


def test_auto_picks_a_present_device():
    dev = resolve_device("auto")
    assert dev.type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        assert dev.type != "cuda"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_missing_cuda_is_one_line_error():
    with pytest.raises(N2NError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(N2NError, match="unknown device"):
        resolve_device("gpu0")


def test_noise_is_the_same_whatever_the_device(astronaut_crop, device):
    # add_noise draws on the CPU, so a seed means one noisy image on every machine.
    a = add_noise(astronaut_crop, "poisson:20", seed=3, channel_axis=-1)
    b = add_noise(astronaut_crop, "poisson:20", seed=3, channel_axis=-1)
    assert np.array_equal(a, b)


def test_zeroshot_on_device_agrees_with_cpu(astronaut_crop, device):
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    here = denoise_zeroshot(noisy, iterations=30, seed=0, channel_axis=-1, device=device)
    cpu = denoise_zeroshot(noisy, iterations=30, seed=0, channel_axis=-1, device="cpu")
    assert here.shape == noisy.shape and here.dtype == noisy.dtype
    # Same crops and initialisation: the results differ only by floating-point rounding.
    gap = abs(
        psnr(here, astronaut_crop, data_range=255) - psnr(cpu, astronaut_crop, data_range=255)
    )
    assert gap < 0.1


def _tiny_images(n=4, size=40):
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, size, dtype=np.float32)
    return [
        np.clip(base[None, :, None] + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
        for _ in range(n)
    ]


class _Stop(Exception):
    pass


def _stop_after(epochs):
    def hook(row):
        if row["epoch"] == epochs:
            raise _Stop

    return hook


def test_training_started_on_device_resumes_on_the_cpu(tmp_path, device):
    data = MixturePairs(_tiny_images(), as_mixture("gaussian:0-50|poisson:5-100"), "noisy")
    config = TrainConfig(
        arch="resunet", width=8, depth=1, blocks=1, crop=16, batch_size=4, epochs=3,
        steps_per_epoch=3, early_stop=None, schedule="cosine", lr=1e-3, val_fraction=0.25,
        noise="gaussian:0-50|poisson:5-100", clip_target=False, quantise_input=True,
    )  # fmt: skip
    with pytest.raises(_Stop):
        train(
            data, config, tmp_path / "run", progress=False, device=device, on_epoch=_stop_after(2)
        )
    # The device is not part of the configuration: the run continues on the CPU.
    history = train(data, config, tmp_path / "run", resume=True, progress=False, device="cpu")
    assert len(history) == 3 and all(np.isfinite(h["train_loss"]) for h in history)
    assert load_checkpoint(tmp_path / "run" / "weights.pt")["epoch"] == 3


def test_mixture_pairs_draw_on_device(device):
    data = MixturePairs(_tiny_images(), as_mixture("gaussian:10-50|camera"), "noisy").to(
        torch.device(device)
    )
    x, t, c = data.draw([0, 1, 2, 3, 0, 1], 16, torch.Generator().manual_seed(0))
    assert x.device.type == device and x.shape == (6, 3, 16, 16)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    # 8-bit input, unclipped target.
    assert torch.equal(x, torch.round(x * 255) / 255)
    assert not torch.equal(x, t)


def test_an_evaluation_started_on_a_device_continues_on_the_cpu(tmp_path, astronaut_crop, device):
    from noise2noise import write_image
    from noise2noise.evaluation import run_evaluation

    folder = tmp_path / "clean"
    folder.mkdir()
    write_image(folder / "a.png", astronaut_crop)
    out = tmp_path / "eval"
    args = ([str(folder)], ["gaussian:25"], ["pretrained"], out)
    first, _ = run_evaluation(*args, crop=None, progress=False, device=device)
    assert "device" not in (out / "config.json").read_text()
    again, _ = run_evaluation(*args, crop=None, progress=False, device="cpu")  # resumes
    assert [c.psnr for c in again] == pytest.approx([c.psnr for c in first], abs=1e-3)
    assert {c.method for c in again} == {"noisy", "pretrained"}


def test_zeroshot_folders_and_evaluations_batch_on_a_gpu_only(device):
    from noise2noise.denoisers import FileDenoiser, NoiseAwareDenoiser

    on_gpu = device != "cpu"
    assert (FileDenoiser("zeroshot", {"device": device}).batched is not None) == on_gpu
    assert (NoiseAwareDenoiser("zeroshot", {"device": device}).batched is not None) == on_gpu


def test_cpu_bf16_follows_the_flags_and_the_environment(monkeypatch):
    from noise2noise.runtime import CPU_BF16_ENV, cpu_bf16, cpu_has_bf16

    amd = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    old = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n"
    sapphire = "flags\t\t: avx512f amx_tile amx_bf16\n"
    assert cpu_has_bf16(amd) and cpu_has_bf16(sapphire)
    assert not cpu_has_bf16(old) and not cpu_has_bf16("model name : Apple M2\n")
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    assert not cpu_bf16()
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    assert cpu_bf16()
    monkeypatch.delenv(CPU_BF16_ENV)
    assert cpu_bf16() == cpu_has_bf16()
    # A run's record says which precision the shipped networks ran in.
    from noise2noise.report.records import environment

    monkeypatch.setenv(CPU_BF16_ENV, "0")
    assert environment("cpu")["machine"]["cpu_bf16"] is False


def test_pretrained_in_bf16_on_the_cpu_matches_float32(astronaut_crop, monkeypatch):
    # bf16 is forced (emulated where the CPU lacks it): the shipped model's output may
    # move by far less than its gain over the noisy input.
    from noise2noise import denoise
    from noise2noise.runtime import CPU_BF16_ENV

    noisy = add_noise(astronaut_crop, "gaussian:15", seed=0, channel_axis=-1)
    noisy = noisy.astype(np.float32) / 255  # uint8 noisy image (it was all ones here)
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    full = denoise(noisy, channel_axis=-1, tta=1)
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    half = denoise(noisy, channel_axis=-1, tta=1)
    assert not np.array_equal(full, half)  # bf16 did run
    assert psnr(half, full) > 50
    clean = astronaut_crop / 255.0
    assert psnr(full, clean) > psnr(noisy, clean) + 5  # a real gain, then hardly moved
    assert abs(psnr(half, clean) - psnr(full, clean)) < 0.03
