"""ZS-N2N for many images by interleaving their single-image fits on CUDA streams.

One image's step is about a millisecond on a GPU, nearly all of it spent waiting on a
few hundred tiny kernels (one CUDA graph each step, ``noise2noise.graphs``), so the GPU
is mostly idle. Here up to ``streams`` images train at once, each its own
:func:`~.fit.start_fit` on its own CUDA stream: one host thread queues a step of each in
turn, and the GPU runs the streams' kernels side by side. Graph capture is not safe
with other threads launching work, which is why one thread issues everything, and
why the bench's thread-per-stream variant may lose its graphs.

Each image's computation is that of :func:`~noise2noise.zeroshot.denoise_zeroshot`
with the same seed, in the same order. On the CPU there are no streams, and the result
is the single-image result bit for bit (``tests/test_zeroshot.py``). The alternative for
folders is :mod:`.batched` (one grouped network for N images). Which one is faster on
a given GPU is measured by ``bench/zeroshot_folder_variants.py``.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence

import numpy as np
import torch

from ..progress import progress_bar
from ..runtime import resolve_device
from .configuration import DEFAULT_PRESET, ZeroShotConfig, get_preset
from .fit import image_result, image_tensor, start_fit

__all__ = ["denoise_zeroshot_interleaved"]


def denoise_zeroshot_interleaved(
    images: Sequence[np.ndarray],
    *,
    preset: str | ZeroShotConfig = DEFAULT_PRESET,
    iterations: int | None = None,
    seed: int = 0,
    channel_axis: int | None = None,
    streams: int = 4,
    progress: bool = False,
    device: torch.device | str | None = "cpu",
) -> list[np.ndarray]:
    """:func:`~noise2noise.zeroshot.denoise_zeroshot` for many images, up to ``streams``
    trained at a time with their steps interleaved (see the module docstring).

    Parameters
    ----------
    images : sequence of ndarray
        As for ``denoise_zeroshot``; any sizes, dtypes and channel counts.
    preset, iterations, seed, channel_axis, device
        As for ``denoise_zeroshot``; every image gets ``seed``, as alone.
    streams : int
        Images in training at once. On an H200, 50 images of 256x256 at ``paper`` took a
        projected 57 s with 4 and 60 s with 8 (98 s one after another;
        ``bench/results/zeroshot_folder_variants.md``).
    progress : bool
        Show a progress bar over all images' steps.

    Returns
    -------
    list of ndarray, each with the shape and dtype of its image.
    """
    config = get_preset(preset, steps=iterations)
    device = resolve_device(device)
    images = [np.asarray(image) for image in images]
    prepared = [image_tensor(image, channel_axis) for image in images]  # (tensor, gain)
    waiting = deque(range(len(images)))
    lanes = [_stream(device) for _ in range(max(1, min(streams, len(images))))]
    training: dict[int, tuple] = {}  # lane -> (image, its network, its steps)
    results: list[np.ndarray | None] = [None] * len(images)
    bar = progress_bar(total=len(images) * config.steps, desc="ZS-N2N", unit="step", show=progress)
    while waiting or training:
        for lane, stream in enumerate(lanes):
            if lane not in training and waiting:
                i = waiting.popleft()
                with _on(stream):
                    training[lane] = i, *start_fit(prepared[i][0], config, seed=seed, device=device)
        for lane in list(training):
            i, model, steps = training[lane]
            with _on(lanes[lane]):
                if next(steps, None) is not None:
                    bar.update()
                else:  # trained: denoise on the same stream
                    y, gain = prepared[i]
                    results[i] = image_result(
                        model.eval(), y, gain, config, images[i], channel_axis
                    )
                    del training[lane]
    bar.close()
    return results


def _stream(device: torch.device) -> torch.cuda.Stream | None:
    return torch.cuda.Stream(device) if device.type == "cuda" else None


def _on(stream: torch.cuda.Stream | None):
    return torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()
