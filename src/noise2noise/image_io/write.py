"""Writing an image file atomically, saying every change of format or depth, with the
input's metadata (:mod:`.metadata`) where the format holds it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..convert import as_float, from_float, outside_float_range
from ..errors import N2NError, name_some, warn_user
from ..files import write_atomically
from .common import (
    _EIGHT_BIT_ONLY,
    _TIFF,
    IMAGE_EXTENSIONS,
    LOSSY_EXTENSIONS,
    ConversionWarning,
    ImageFileError,
    _reason,
    _supported,
    open_heif_with_pillow,
)
from .iptc import app13_segment
from .jpeg_pictures import append_pictures, index_segment
from .metadata import (
    JPEG_EXIF_MAX,
    JPEG_XMP_MAX,
    PNG_XMP_KEY,
    Metadata,
    cicp,
    png_with_metadata,
)
from .tiff import _write_tiff

JPEG_QUALITY = 95  # with 4:4:4 colour; see write_image's `quality`


def write_image(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    overwrite: bool = False,
    metadata: Metadata | None = None,
    quality: int | None = None,
) -> Path:
    """Write an image atomically; the format follows the file extension.

    Parameters
    ----------
    path : path-like
        Destination (.png, .jpg/.jpeg, .webp, .bmp, .tif/.tiff, .avif; .heic/.heif with
        the optional pillow-heif). Its folder must exist.
    image : ndarray
        H×W or H×W×C (C in 1..4), uint8, uint16 or float in [0, 1]. PNG and TIFF keep
        16 bits; JPEG, WebP, BMP, AVIF and HEIC are written 8-bit, so 16-bit data is
        reduced with a warning. Float data is stored as float in TIFF and as 16-bit in
        PNG. WebP stores colour only: grayscale is written as RGB, with a warning.
    overwrite : bool
        Replace an existing file. Without it an existing file is an error.
    metadata : Metadata or None
        A colour profile, EXIF and XMP to store with the pixels
        (:func:`~noise2noise.image_io.read_metadata` of the input): in JPEG, WebP, AVIF,
        HEIC, PNG and TIFF (EXIF not in an ImageJ TIFF); the resolution (dpi) in PNG,
        JPEG, BMP and TIFF, and an ImageJ calibration in TIFF. A profile whose colour
        space is not the image's is left out; EXIF too long for a JPEG is left out with a
        warning.
    quality : int or None
        JPEG, (lossy) WebP, AVIF and HEIC quality, 1-100; JPEG, AVIF and HEIC from 90 up
        with full-resolution colour (4:4:4). None: the default, and WebP written lossless
        where ``metadata`` says the input was. The default, 95, keeps most of what
        denoising gained: on the shipped model's outputs (held-out bsds432, Gaussian
        15 / 25) as JPEG, Pillow's default, 75 with 4:2:0 colour, took 2.23 / 1.18 dB off,
        95 with 4:4:4 0.30 / 0.16 dB, at 2.6 times the file size
        (`bench/results/jpeg_quality.md`).

    Returns
    -------
    Path of the written file.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ImageFileError(
            path, f"cannot write format '{ext or path.name}' (supported: {_supported()})"
        )
    image = np.asarray(image)
    if metadata is not None and metadata.lossless and quality is not None:
        metadata = replace(metadata, lossless=None)  # a quality asked for: lossy
    quality = JPEG_QUALITY if quality is None else quality
    if not 1 <= quality <= 100:
        raise N2NError(f"the quality of lossy formats must be 1-100, got {quality}")
    channels = image.shape[2] if image.ndim == 3 else 1
    if ext == ".webp" and channels in (1, 2):
        warn_user("WebP stores colour: grayscale written as RGB", ConversionWarning)
        image = _as_colour(image)
        channels += 2
    refuse_float_units(path, image)
    meta = (metadata or Metadata()).for_channels(channels)
    if meta.pictures and ext not in (".jpg", ".jpeg"):
        warn_user(
            f"{path.suffix} holds one picture: the JPEG's {len(meta.pictures)} extra "
            "picture(s) (an Ultra HDR gain map, previews) are not written (an Ultra HDR "
            "photo's output shows as SDR; write .jpg to keep them)",
            ConversionWarning,
        )
    if ext != ".png" and (keys := _said_text(meta.text)):
        warn_user(
            f"{path.suffix} has no place for the PNG's text ({keys}): left out (write .png "
            "to keep it)",
            ConversionWarning,
        )
    if meta.iptc and ext not in (".jpg", ".jpeg", *_TIFF):
        warn_user(
            f"{path.suffix} has no place for the photo's IPTC record (caption, keywords, "
            "credit, copyright): left out (write .jpg or .tif to keep it)"
            + ("; its XMP, where photo managers write them too, is kept" if meta.xmp else ""),
            ConversionWarning,
        )
    if (curve := hdr_transfer(meta.nclx)) and ext not in _HDR_FORMATS:
        warn_user(
            f"{path.suffix} has no place for the {curve} colour description: viewers show "
            "the values as SDR, washed out (write .heic, .avif or .png to keep it)",
            ConversionWarning,
        )
    if ext in _TIFF:
        return _write_atomically(path, lambda tmp: _write_tiff(tmp, image, meta), overwrite)
    if meta.premultiplied and channels in (2, 4):
        warn_user(
            f"{path.suffix} stores straight alpha: the premultiplied colours divided by it",
            ConversionWarning,
        )
        image = _straight_alpha(image)
    write = lambda tmp: _write_raster(tmp, image, ext, meta, quality)  # noqa: E731
    return _write_atomically(path, write, overwrite)


def _said_text(text: tuple[tuple[str, str], ...] | None) -> str | None:
    """The keywords of a PNG's text worth saying it leaves out (ImageMagick's dates and a
    program's name are not), for a message; None where there are none."""
    keys = [k for k, _ in text or () if k != "Software" and not k.startswith("date:")]
    return name_some(list(dict.fromkeys(keys)), 4) or None


def refuse_existing(path: Path, overwrite: bool) -> None:
    """Refuse to replace an existing ``path`` unless ``overwrite``."""
    if path.exists() and not overwrite:
        raise ImageFileError(path, "already exists (use `overwrite=True` to replace it)")


def refuse_float_units(path: Path, image: np.ndarray) -> None:
    """Refuse float data in other units than [0, 1] for a format that stores integers
    (every one but TIFF): they would be written clipped, as a white or black image."""
    if Path(path).suffix.lower() in _TIFF:
        return
    if span := outside_float_range(image):
        raise ImageFileError(
            path,
            f"float values span [{span[0]:.4g}, {span[1]:.4g}]: {Path(path).suffix} stores "
            "integers, for float data in [0, 1]; write .tif to keep them as they are",
        )


def _write_atomically(path: Path, write: Callable[[Path], None], overwrite: bool) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``."""
    refuse_existing(path, overwrite)
    if not path.parent.is_dir():
        raise ImageFileError(path, f"folder {path.parent} does not exist")
    try:
        return write_atomically(path, write)
    except ImageFileError:
        raise
    except Exception as exc:  # an OSError names the temporary file: its reason alone
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _reason(exc)
        raise ImageFileError(path, f"could not write ({reason})") from exc


def _write_raster(path: Path, image: np.ndarray, ext: str, meta: Metadata, quality: int) -> None:
    if ext == ".avif" and hdr_transfer(meta.nclx):
        _write_hdr_avif(path, image, meta, quality)
        return
    if image.dtype.kind == "f":
        depth = 8 if ext in _EIGHT_BIT_ONLY else 16
        warn_user(
            f"{path.suffix} stores integers: float data written as {depth}-bit "
            "(write .tif to keep float)",
            ConversionWarning,
        )
        image = from_float(as_float(image), np.uint8 if depth == 8 else np.uint16)
    if ext in _EIGHT_BIT_ONLY and image.dtype == np.uint16:
        warn_user(f"{path.suffix} stores 8 bits: reducing 16-bit data", ConversionWarning)
        image = from_float(as_float(image), np.uint8)
    if ext in (".jpg", ".jpeg") and image.ndim == 3 and image.shape[2] in (2, 4):
        warn_user("JPEG has no alpha channel: alpha dropped", ConversionWarning)
        image = image[:, :, :-1]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype == np.uint16 and ext in (".heic", ".heif"):
        _write_deep_heif(path, image, meta, quality)
        return
    if image.dtype == np.uint16 and image.ndim == 3:
        _write_16bit_colour_png(path, image, meta)
        return
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    options = {"quality": quality} if ext in LOSSY_EXTENSIONS else {}
    if ext in (".jpg", ".jpeg"):
        options["subsampling"] = 0 if quality >= 90 else 2
        if meta.exif and len(meta.exif) > JPEG_EXIF_MAX:
            warn_user(
                f"EXIF of {len(meta.exif)} bytes does not fit in a JPEG: left out",
                ConversionWarning,
            )
            meta = replace(meta, exif=None)
        if meta.xmp and len(meta.xmp) > JPEG_XMP_MAX:
            warn_user(
                f"XMP of {len(meta.xmp)} bytes does not fit in a JPEG: left out",
                ConversionWarning,
            )
            meta = replace(meta, xmp=None)
    elif ext == ".webp" and meta.lossless:  # as the input was
        # quality is then the effort: on a 12-megapixel image 50 took 5.7 s, 95 10 s, for
        # files of the same size
        options |= {"lossless": True, "quality": 50}
    elif ext == ".avif":  # speed 8: a quarter of the default's time, the same PSNR and size
        options |= {"subsampling": "4:4:4" if quality >= 90 else "4:2:0", "speed": 8}
    elif ext in (".heic", ".heif"):  # x265 ultrafast: 1.2 s, not 7 s, for 12 MP (same PSNR)
        options |= {"chroma": 444 if quality >= 90 else 420, "enc_params": dict(_X265_FAST)}
        options["nclx_profile"] = meta.nclx
        open_heif_with_pillow(path)
    if ext in (*LOSSY_EXTENSIONS, ".png"):
        options |= {"icc_profile": meta.icc_profile, "exif": meta.exif}
    if ext in LOSSY_EXTENSIONS:
        options["xmp"] = meta.xmp
    if ext in (".png", ".jpg", ".jpeg", ".bmp"):  # Pillow writes none into WebP, AVIF, HEIC
        options["dpi"] = meta.dpi
    if ext == ".png" and (meta.nclx or meta.xmp or meta.text):
        options["pnginfo"] = info = PngInfo()
        if meta.nclx:  # an HLG or PQ photo's transfer curve
            info.add(b"cICP", cicp(meta.nclx))
        if meta.xmp:
            info.add_itxt(PNG_XMP_KEY, meta.xmp.decode("utf-8", "replace"))
        for key, value in meta.text or ():  # tEXt, or iTXt beyond Latin-1
            info.add_text(key, value)
    pictures = meta.pictures if ext in (".jpg", ".jpeg") else None
    extra = b""
    if meta.iptc and ext in (".jpg", ".jpeg"):
        if (extra := app13_segment(meta.iptc)) is None:
            warn_user(
                f"IPTC record of {len(meta.iptc)} bytes does not fit in a JPEG: left out",
                ConversionWarning,
            )
            extra = b""
    if pictures:  # their index, filled in once the picture is written
        extra += index_segment(pictures)
    options["extra"] = extra or None
    options = {k: v for k, v in options.items() if v is not None}
    Image.fromarray(image).save(path, **options)
    if pictures:
        append_pictures(path, pictures)


# bench/results/phone_formats.md: x265's default preset took 7.0 s to write a 12-megapixel
# HEIC on 2 idle cores, `ultrafast` 1.2 s, with the same PSNR (a file 26 % larger).
_X265_FAST = {"preset": "ultrafast"}


# The transfer curves of HDR photos (a colour description's transfer_characteristics), and
# the formats whose outputs carry the description (HEIC and AVIF as nclx, PNG as cICP).
_HDR_CURVES = {16: "PQ", 18: "HLG"}
_HDR_FORMATS = (".heic", ".heif", ".avif", ".png")


def hdr_transfer(nclx: dict | None) -> str | None:
    """ "PQ" or "HLG" where the colour description ``nclx`` is an HDR photo's, else None."""
    return _HDR_CURVES.get((nclx or {}).get("transfer_characteristics"))


def _write_hdr_avif(path: Path, image: np.ndarray, meta: Metadata, quality: int) -> None:
    """An HLG or PQ image as an AVIF with its colour description, 16-bit data as 10 bits,
    through imagecodecs: Pillow's writer makes every AVIF 8-bit sRGB, which shows HDR
    values washed out. imagecodecs writes no EXIF, XMP or alpha: left out, said."""
    import imagecodecs

    if image.dtype.kind == "f":
        image = from_float(as_float(image), np.uint16)
    if image.ndim == 3 and image.shape[2] in (2, 4):
        warn_user("an HDR AVIF is written without alpha: alpha dropped", ConversionWarning)
        image = image[:, :, :-1]
    if left := [name for name, value in (("EXIF", meta.exif), ("XMP", meta.xmp)) if value]:
        warn_user(f"an HDR AVIF is written without {' and '.join(left)}", ConversionWarning)
    image = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    bits = 10 if image.dtype == np.uint16 else 8
    if bits == 10:  # the top 10 bits, rounded
        image = np.minimum((image.astype(np.uint32) + 32) >> 6, 1023).astype(np.uint16)
    data = imagecodecs.avif_encode(
        image,
        level=quality,
        speed=8,  # as Pillow's AVIF outputs (below)
        bitspersample=bits,
        primaries=meta.nclx["color_primaries"],
        transfer=meta.nclx["transfer_characteristics"],
        matrix=meta.nclx["matrix_coefficients"],
    )
    Path(path).write_bytes(data)


def _straight_alpha(image: np.ndarray) -> np.ndarray:
    """Premultiplied (associated-alpha) colours divided by their alpha, in the image's
    dtype; a fully transparent pixel's colour is 0."""
    values = as_float(image)
    alpha = values[..., -1:]
    colour = np.divide(
        values[..., :-1], alpha, out=np.zeros_like(values[..., :-1]), where=alpha > 0
    )
    straight = np.concatenate([np.clip(colour, 0, 1), alpha], axis=-1)
    return (
        straight.astype(image.dtype)
        if image.dtype.kind == "f"
        else from_float(straight, image.dtype)
    )


def _as_colour(gray: np.ndarray) -> np.ndarray:
    """A gray (H×W or H×W×1) or gray+alpha image as RGB or RGBA, for formats without them."""
    gray = gray if gray.ndim == 3 else gray[:, :, None]
    return np.concatenate([np.repeat(gray[:, :, :1], 3, axis=2), gray[:, :, 1:]], axis=2)


def _write_deep_heif(path: Path, image: np.ndarray, meta: Metadata, quality: int) -> None:
    """16-bit data as a 10-bit HEIC, as cameras write them (Pillow's writer takes 8 bits):
    pillow-heif keeps the top 10 bits, which its reader gives back shifted up."""
    import pillow_heif

    if image.ndim == 3 and image.shape[2] == 2:
        warn_user("16-bit gray+alpha is stored as RGBA in HEIC", ConversionWarning)
        image = _as_colour(image)
    channels = 1 if image.ndim == 2 else image.shape[2]
    mode = {1: "L;16", 3: "RGB;16", 4: "RGBA;16"}[channels]
    heif = pillow_heif.from_bytes(
        mode=mode, size=(image.shape[1], image.shape[0]), data=np.ascontiguousarray(image).tobytes()
    )
    options = {"exif": meta.exif, "icc_profile": meta.icc_profile, "nclx_profile": meta.nclx}
    options["xmp"] = meta.xmp
    heif.save(
        path,
        quality=quality,
        chroma=444 if quality >= 90 else 420,
        enc_params=dict(_X265_FAST),
        **{k: v for k, v in options.items() if v is not None},
    )


def _write_16bit_colour_png(path: Path, image: np.ndarray, meta: Metadata) -> None:
    import cv2

    if image.shape[2] == 2:  # PNG has no 16-bit gray+alpha writer here: store as RGBA
        warn_user("16-bit gray+alpha is stored as RGBA in PNG", ConversionWarning)
        image = _as_colour(image)
    code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, code))
    if not ok:
        raise N2NError("PNG encoder failed")
    Path(path).write_bytes(png_with_metadata(data.tobytes(), meta) if meta else data.tobytes())
