"""Denoising methods by name: the one table that the command line and evaluations use.

Every method is a function ``(image, *, channel_axis, **options) -> image`` on numpy arrays
with values in the array's own dtype. :func:`denoise_image` adds what every method needs
around it for image files: an alpha channel is split off, passed through untouched, and
put back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .image_io import apply_to_colour
from .zeroshot import denoise_zeroshot

__all__ = ["METHODS", "denoise_image"]

METHODS: dict[str, Callable[..., np.ndarray]] = {
    "zeroshot": denoise_zeroshot,
}


def denoise_image(image: np.ndarray, method: str = "zeroshot", **options) -> np.ndarray:
    """Denoise an image as read from a file (H×W or H×W×C, C = 1..4, last axis channels).

    With 2 or 4 channels the last one is alpha: only the colour channels are denoised.

    Parameters
    ----------
    image : ndarray
        As returned by :func:`noise2noise.read_image`.
    method : str
        A key of :data:`METHODS`.
    **options
        Passed to the method (e.g. ``preset``, ``seed``).

    Returns
    -------
    ndarray with the shape and dtype of ``image``.
    """
    try:
        fn = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method '{method}' (choose from {', '.join(METHODS)})") from None
    return apply_to_colour(fn, image, **options)
