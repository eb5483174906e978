"""Float data in other units than [0, 1], for the denoisers of the Python API.

The denoisers work on values in [0, 1]. Float data that leave it by more than their noise
carries (zero-centred or background-subtracted data, physical units:
:func:`~noise2noise.convert.units_span`) were clipped into it, or refused; decorated with
:func:`scales_other_units`, a denoiser takes them scaled into [0, 1] and gives them back
in their own units, with a :class:`~noise2noise.image_io.ScalingNote`, as ``n2n denoise``
does for a float TIFF.
"""

from __future__ import annotations

import contextvars
import functools

import numpy as np

from .convert import check_finite, from_unit_range, to_unit_range, units_span
from .errors import warn_user
from .image_io import ScalingNote

__all__ = ["scales_other_units"]


def scales_other_units(denoiser):
    """``denoiser(image, *, channel_axis=None, ...)`` on float data in other units than
    [0, 1]: scaled into it and back; NaN and infinite values refused first, before any
    choice is said. A ``peak`` option (a value of the image) is scaled as the values are,
    a ``sigma`` option (a noise level, relative to 1 of the image's units, as
    ``n2n denoise --sigma`` on a float TIFF) as their differences are."""

    @functools.wraps(denoiser)
    def scaled(image, *args, channel_axis: int | None = None, **options):
        if _CHECKED.get():  # inside another decorated denoiser: its image is checked
            return denoiser(image, *args, channel_axis=channel_axis, **options)
        image = np.asarray(image)
        check_finite(image)
        span = units_span(image, channel_axis)
        if span:
            warn_user(ScalingNote(span))
            if options.get("peak") is not None:
                options["peak"] = (options["peak"] - span[0]) / (span[1] - span[0])
            if options.get("sigma") is not None:
                options["sigma"] = options["sigma"] / (span[1] - span[0])
        token = _CHECKED.set(True)
        try:
            out = denoiser(to_unit_range(image, span), *args, channel_axis=channel_axis, **options)
        finally:
            _CHECKED.reset(token)
        return from_unit_range(out, span)

    return scaled


# Set while a decorated denoiser runs: the decorated ones it calls (n2n denoise's file
# through denoise_image, then denoise_auto, then denoise) take its checked, scaled image
# as it is, instead of passing over it again (three NaN checks and range reads of a float
# image for one denoising).
_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("units_checked", default=False)
