"""Pair sources: what the training loop draws (input, target, clean-or-None) batches
from. Synthetic pairs from clean images, real noisy pairs, and noise mixtures drawn on
the device."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..convert import as_float
from ..errors import N2NError
from ..noise import (
    Gaussian,
    NoiseMixture,
    Poisson,
    make_generator,
    quantise,
)


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return make_generator(seed * 1_000_003 + epoch)


def _random_crop_flip(arrays: Sequence[np.ndarray], size: int, g: torch.Generator) -> list:
    """The same random crop and flips of several aligned H×W×C arrays, as (C, s, s) tensors."""
    h, w = arrays[0].shape[:2]
    top = int(torch.randint(0, h - size + 1, (1,), generator=g))
    left = int(torch.randint(0, w - size + 1, (1,), generator=g))
    flips = torch.rand(2, generator=g) < 0.5
    out = []
    for a in arrays:
        t = torch.from_numpy(as_float(a[top : top + size, left : left + size])).permute(2, 0, 1)
        if flips[0]:
            t = t.flip(-1)
        if flips[1]:
            t = t.flip(-2)
        out.append(t)
    return out


def _as_hwc(image: np.ndarray) -> np.ndarray:
    return image[:, :, None] if image.ndim == 2 else image


class SyntheticPairs:
    """Training pairs made from clean images: input = noisy 1, target = noisy 2 or clean.

    Every draw makes two independent noise realisations, so a crop never meets the same
    noise twice. ``target_noise`` (default: ``noise``) makes the noisy target, e.g. the
    same noise without clipping.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        noise: Gaussian | Poisson,
        target: str,
        target_noise: Gaussian | Poisson | None = None,
        *,
        noise_device: torch.device | None = None,
    ):
        self.images = [_as_hwc(i) for i in images]
        self.noise = noise
        self.target = target
        self.target_noise = noise if target_noise is None else target_noise
        # Where the noise is drawn: None draws it on the host from the epoch's generator
        # (a CPU run's pairs, bit for bit as before); see `to`.
        self.noise_device = noise_device

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return self.images[0].shape[2]

    def subset(self, indices: Sequence[int]) -> SyntheticPairs:
        images = [self.images[i] for i in indices]
        return SyntheticPairs(
            images, self.noise, self.target, self.target_noise, noise_device=self.noise_device
        )

    def to(self, device: torch.device) -> SyntheticPairs:
        """The same pairs with their noise drawn on ``device`` when it is not the CPU.

        On the host, Poisson noise for a batch of the report's U-Net (32 crops of 256x256,
        input and target) took about 1.3 s, several of the H200's training steps: Table 1's
        Poisson networks trained 6-7 times slower than the Gaussian ones
        (``bench/results/gpu_report_h200_2026-11-28.log``). Crops are still cut
        on the host from the epoch's generator; the clean batch travels and its two noise
        draws are made on the device by generators of their own, seeded from that
        generator (apart, as in `MixturePairs`). Same distribution, not the same draws as
        on the CPU; on the CPU nothing changes.
        """
        device = torch.device(device)
        here = None if device.type == "cpu" else device
        return SyntheticPairs(
            self.images, self.noise, self.target, self.target_noise, noise_device=here
        )

    def draw(self, indices: Sequence[int], size: int, g: torch.Generator):
        """(inputs, targets, clean), each (B, C, size, size), on ``noise_device`` if set."""
        clean = torch.stack([_random_crop_flip([self.images[i]], size, g)[0] for i in indices])
        noise_g = target_g = g
        if self.noise_device is not None:
            dev = self.noise_device
            seeds = torch.randint(2**62, (2,), generator=g).tolist()
            noise_g = torch.Generator(device=dev).manual_seed(seeds[0])
            target_g = torch.Generator(device=dev).manual_seed(seeds[1])
            clean = clean.pin_memory() if dev.type == "cuda" else clean
            clean = clean.to(dev, non_blocking=True)
        noisy_in = self.noise(clean, generator=noise_g)
        target = self.target_noise(clean, generator=target_g) if self.target == "noisy" else clean
        return noisy_in, target, clean


class RealPairs:
    """Training pairs from two noisy captures of each scene; no clean image needed.

    The order of the two images is drawn at random, so neither capture is always the input.
    ``clean`` images, when given, are used only to report PSNR.
    """

    def __init__(
        self,
        first: Sequence[np.ndarray],
        second: Sequence[np.ndarray],
        clean: Sequence[np.ndarray] | None = None,
    ):
        if len(first) != len(second):
            raise N2NError("the two folders must hold the same number of images")
        self.pairs = [(_as_hwc(a), _as_hwc(b)) for a, b in zip(first, second, strict=True)]
        self.clean = [_as_hwc(c) for c in clean] if clean is not None else None
        self.target = "noisy"

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def channels(self) -> int:
        return self.pairs[0][0].shape[2]

    def subset(self, indices: Sequence[int]) -> RealPairs:
        clean = [self.clean[i] for i in indices] if self.clean else None
        return RealPairs(
            [self.pairs[i][0] for i in indices], [self.pairs[i][1] for i in indices], clean
        )

    def draw(self, indices: Sequence[int], size: int, g: torch.Generator):
        inputs, targets, cleans = [], [], []
        for i in indices:
            arrays = [*self.pairs[i], *([self.clean[i]] if self.clean else [])]
            crops = _random_crop_flip(arrays, size, g)
            swap = bool(torch.rand(1, generator=g) < 0.5)
            inputs.append(crops[1] if swap else crops[0])
            targets.append(crops[0] if swap else crops[1])
            if self.clean:
                cleans.append(crops[2])
        return torch.stack(inputs), torch.stack(targets), torch.stack(cleans) if cleans else None


def split_indices(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split into (train, validation) indices; at least one of each when n >= 2."""
    order = torch.randperm(n, generator=make_generator(seed)).tolist()
    n_val = min(max(1, round(n * fraction)), n - 1) if n >= 2 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


class MixturePairs:
    """Pairs from clean images with noise of a random kind and level per crop, made where
    the images are: on a GPU the whole set sits in device memory and every batch is cut,
    flipped and noised there, so the optimiser never waits for the CPU.

    The input is clipped to [0, 1] and, with ``quantise_input``, rounded to 8 bits, as a
    stored image is (except a ``float_share`` of the crops, left as float data would be);
    the noisy target is an independent draw with the same kind and level, unclipped unless
    ``clip_target``, so its noise is zero-mean and the Noise2Noise argument holds exactly
    (Lehtinen et al. 2018, eq. 2).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray] | None,
        noise: NoiseMixture,
        target: str,
        *,
        clip_target: bool = False,
        quantise_input: bool = True,
        float_share: float = 0.0,
        _stack: tuple[torch.Tensor, torch.Tensor, float] | None = None,
    ):
        self.noise, self.target = noise, target
        self.clip_target, self.quantise_input = clip_target, quantise_input
        self.float_share = float_share
        if _stack is not None:
            self.pixels, self.sizes, self.scale = _stack
            return
        hwc = [_as_hwc(i) for i in images]
        # Portrait images are turned to landscape so that one padded array holds all.
        hwc = [np.swapaxes(i, 0, 1) if i.shape[0] > i.shape[1] else i for i in hwc]
        self.scale = 255.0 if hwc[0].dtype == np.uint8 else 65535.0
        dtype = torch.uint8 if self.scale == 255.0 else torch.int32
        h = max(i.shape[0] for i in hwc)
        w = max(i.shape[1] for i in hwc)
        self.pixels = torch.zeros((len(hwc), hwc[0].shape[2], h, w), dtype=dtype)
        for k, image in enumerate(hwc):
            if image.dtype not in (np.uint8, np.uint16):
                image = np.rint(np.clip(image, 0, 1) * self.scale)
            values = torch.from_numpy(np.ascontiguousarray(image).astype(np.int64))
            self.pixels[k, :, : image.shape[0], : image.shape[1]] = values.permute(2, 0, 1)
        self.sizes = torch.tensor([i.shape[:2] for i in hwc])  # (N, 2) true H, W

    def __len__(self) -> int:
        return len(self.pixels)

    @property
    def channels(self) -> int:
        return self.pixels.shape[1]

    def _with(self, pixels: torch.Tensor, sizes: torch.Tensor) -> MixturePairs:
        return MixturePairs(
            None,
            self.noise,
            self.target,
            clip_target=self.clip_target,
            quantise_input=self.quantise_input,
            float_share=self.float_share,
            _stack=(pixels, sizes, self.scale),
        )

    def subset(self, indices: Sequence[int]) -> MixturePairs:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return self._with(self.pixels[index.to(self.pixels.device)], self.sizes[index])

    def to(self, device: torch.device) -> MixturePairs:
        return self._with(self.pixels.to(device), self.sizes)

    def draw(self, indices: Sequence[int], size: int, g: torch.Generator):
        """(inputs, targets, clean), each (B, C, size, size), on the images' device.

        ``g`` (a CPU generator) seeds generators on the device that draw the crop
        positions, flips, noise levels and noise there, so a GPU never waits for the host.
        The target's noise has a generator of its own, seeded apart: on CUDA two
        ``torch.poisson`` calls from one generator gave correlated draws near 50 expected
        counts (pytorch/pytorch#136750), and networks trained on such pairs learned to keep
        that noise (``docs/models.md``, version 0.8).
        """
        dev = self.pixels.device
        index = torch.as_tensor(list(indices), dtype=torch.long)
        if dev.type == "cuda":
            index = index.pin_memory()
        index = index.to(dev, non_blocking=True)
        seeds = torch.randint(2**62, (2,), generator=g).tolist()
        dg = torch.Generator(device=dev).manual_seed(seeds[0])
        tg = torch.Generator(device=dev).manual_seed(seeds[1])  # the target's noise only
        count = len(indices)
        sizes = self.sizes.to(dev, non_blocking=True)[index]  # (B, 2)
        corner = (torch.rand(count, 2, generator=dg, device=dev) * (sizes - size + 1)).long()
        flips = torch.rand(count, 3, generator=dg, device=dev) < 0.5  # rows, columns, transpose
        steps = torch.arange(size, device=dev)
        rows = corner[:, :1] + torch.where(flips[:, :1], steps.flip(0), steps)  # (B, size)
        cols = corner[:, 1:] + torch.where(flips[:, 1:2], steps.flip(0), steps)
        crops = self.pixels[index[:, None, None], :, rows[:, :, None], cols[:, None, :]]
        clean = crops.permute(0, 3, 1, 2).float() / self.scale  # (B, C, size, size)
        transpose = flips[:, 2, None, None, None]
        clean = torch.where(transpose, clean.transpose(-1, -2), clean).contiguous()
        params = self.noise.sample(count, dg)
        raw = self.noise.apply(clean, params, generator=dg, clip=False)
        noisy_in = raw.clamp(0.0, 1.0)
        if self.quantise_input:
            noisy_in = quantise(noisy_in)
        if self.float_share > 0:  # these crops stay as float data would be: unclipped
            keep = torch.rand(count, generator=dg, device=dev) < self.float_share
            noisy_in = torch.where(keep[:, None, None, None], raw, noisy_in)
        if self.target == "noisy":
            target = self.noise.apply(clean, params, generator=tg, clip=self.clip_target)
        else:
            target = clean
        return noisy_in, target, clean
