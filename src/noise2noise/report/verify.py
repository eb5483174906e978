"""Re-running a random sample of a reproduction's cached cells: do the numbers in the
CSVs come out again?"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import numpy as np

from ..errors import N2NError
from ..evaluation import NOISY, make_noisy, read_results
from ..files import write_csv
from ..metrics import psnr
from ..noise import parse_noise
from .reproduction import Reproduction
from .spec import VERIFY_TOLERANCE

__all__ = ["verify", "VerifiedCell"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifiedCell:
    """One recomputed cell beside its cached PSNR."""

    experiment: str
    image: str
    noise: str
    method: str
    cached_psnr: float
    recomputed_psnr: float
    difference: float
    ok: bool  # within the tolerance


def verify(
    repro: Reproduction, sample: int = 5, *, seed: int = 0, tolerance: float = VERIFY_TOLERANCE
) -> list[VerifiedCell]:
    """Recompute a random sample of the cached cells and compare PSNR with the CSVs.

    Networks whose weights are missing (they are not kept in git) are trained again
    first. Writes ``verify.csv``; a cell is ``ok`` when the recomputed PSNR is within
    ``tolerance`` dB of the cached one.
    """
    cells = [
        (experiment, cell)
        for experiment in ("table1", "sensitivity")
        for cell in read_results(repro.out / experiment / "results.csv")
        if cell.method != NOISY
    ]
    if not cells:
        raise N2NError(f"{repro.out}: no cached cells to verify")
    images = dict(repro.test_images())
    checked = []
    chosen = random.Random(seed).sample(cells, min(sample, len(cells)))
    for experiment, cell in chosen:
        noise = parse_noise(cell.noise)
        clean, noisy = make_noisy(
            images[cell.image], noise, seed=repro.budget.seed, image_name=cell.image
        )
        out = repro.method(experiment, cell.method, cell.noise)(noisy, noise)
        value = psnr(np.clip(out, 0.0, 1.0), clean)
        checked.append(
            VerifiedCell(
                experiment=experiment,
                image=cell.image,
                noise=cell.noise,
                method=cell.method,
                cached_psnr=cell.psnr,
                recomputed_psnr=round(value, 4),
                difference=round(value - cell.psnr, 4),
                ok=abs(value - cell.psnr) <= tolerance,
            )
        )
        c = checked[-1]  # progress: a cell can take minutes
        log.info(
            "verify: %d/%d %s %s %s %s: cached %.2f, now %.2f dB",
            *(len(checked), len(chosen), experiment, c.image, c.noise, c.method),
            *(c.cached_psnr, c.recomputed_psnr),
        )
    write_csv(repro.out / "verify.csv", [vars(c) for c in checked])
    return checked
