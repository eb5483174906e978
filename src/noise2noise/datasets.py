"""Image sets: folders of images, and the named benchmark sets of the shared data folder.

The benchmark images are not part of the package. Named sets are looked up below a data
root (``--data-root``, or the ``N2N_DATA_ROOT`` environment variable, or ``../shared/data``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import N2NError, name_some
from .image_io import list_images, read_image, split_alpha

__all__ = ["NAMED_SETS", "default_data_root", "image_set_paths", "load_image_set", "center_crop"]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NamedSet:
    """A benchmark set: (folder, how many of its sorted images) parts, and a crop size."""

    parts: tuple[tuple[str, int | None], ...]
    crop: int | None
    description: str


NAMED_SETS: dict[str, NamedSet] = {
    # The report's 50 test images (shared/data/README.md): Kodak24, then the first 26 of
    # CBSD68 by name, each centre-cropped to 256×256.
    "test50": NamedSet((("kodak24", None), ("cbsd68", 26)), 256, "the report's test set"),
    "kodak24": NamedSet((("kodak24", None),), None, "Kodak Lossless True Color"),
    "cbsd68": NamedSet((("cbsd68", None),), None, "CBSD68 (BSD300 test split)"),
    "bsds432": NamedSet((("bsds432", None),), None, "CBSD432 training images"),
    "rni15": NamedSet((("rni15", None),), None, "real noisy images, no reference"),
}


def default_data_root() -> Path:
    """``$N2N_DATA_ROOT`` if set, else ``../shared/data`` from the working directory."""
    return Path(os.environ.get("N2N_DATA_ROOT", "../shared/data"))


def image_set_paths(
    spec: str | os.PathLike, data_root: str | os.PathLike | None = None
) -> tuple[list[Path], int | None]:
    """Resolve a folder or a set name to its image files and the set's own crop size.

    Raises
    ------
    ValueError
        Neither an existing folder nor a known name whose folders exist under the data root.
    """
    path = Path(spec)
    if path.is_dir():
        files = list_images(path)
        if not files:
            raise N2NError(f"{path}: folder contains no images")
        return files, None
    named = NAMED_SETS.get(str(spec))
    if named is None:
        raise N2NError(
            f"'{spec}' is neither a folder nor a known image set ({', '.join(NAMED_SETS)})"
        )
    root = Path(data_root) if data_root is not None else default_data_root()
    files: list[Path] = []
    for folder, count in named.parts:
        if not (root / folder).is_dir():
            raise N2NError(
                f"image set '{spec}' needs {root / folder}: give `data_root` or N2N_DATA_ROOT"
            )
        files += list_images(root / folder)[:count]
    return files, named.crop


def center_crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size``×``size`` region (the whole image if it is smaller or size is None)."""
    if size is None:
        return image
    h, w = image.shape[:2]
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(image[top : top + ch, left : left + cw])


def load_image_set(
    specs: list[str | os.PathLike],
    *,
    crop: int | None = None,
    limit: int | None = None,
    data_root: str | os.PathLike | None = None,
) -> list[tuple[str, np.ndarray]]:
    """(name, image) pairs from folders and named sets, centre-cropped.

    ``crop`` overrides a named set's own crop size; ``limit`` keeps the first images of
    each set (only those are read). Names are the file stems, prefixed by the folder name
    when several sets are given. An alpha channel (the last of 2 or 4) is left out: it is
    not part of what is denoised, nor of what :func:`noise2noise.compare_images` measures.
    """
    items: list[tuple[str, np.ndarray]] = []
    for spec in specs:
        files, own_crop = image_set_paths(spec, data_root)
        size = crop if crop is not None else own_crop
        small, alpha = [], []
        for f in files[:limit]:
            name = f.stem if len(specs) == 1 else f"{f.parent.name}/{f.stem}"
            image, transparency = split_alpha(read_image(f))
            items.append((name, center_crop(image, size)))
            if size is not None and min(items[-1][1].shape[:2]) < size:
                small.append(f.name)
            if transparency is not None:
                alpha.append(f.name)
        if alpha:
            log.info("%s: alpha of %s left out", spec, name_some(alpha, 3))
        if small:  # their results are of smaller images than the others'
            log.info(
                "%s: %d image(s) smaller than the %d×%d crop, taken as large as they are (%s)",
                spec, len(small), size, size, name_some(small, 3),
            )  # fmt: skip
    return items
