"""What a run on image files says at its end: notes, errors, and the summary line."""

from __future__ import annotations

import os
import sys

from ..errors import name_some
from ..estimate import AUTO_CHOSE, method_chosen
from .common import EXIT_FAILED, EXIT_OK, in_options


def report(
    results, seconds: float, where: str = "", verb: str = "denoised", quiet: bool = False
) -> int:
    """Notes, errors and the summary of a file run (``quiet``: the errors only); the exit
    status."""
    failed = [r for r in results if not r.ok]
    if quiet:
        _say_errors(failed)
        return EXIT_FAILED if failed else EXIT_OK
    skipped = [r for r in results if r.skipped]
    chosen: dict[str, list[str]] = {}  # auto's choices, said in one line for many files
    for r in results:
        for note in r.notes:
            method = method_chosen(note) if len(results) > 1 else None
            if method is None:
                print(f"n2n: note: {r.source.name}: {note}", file=sys.stderr)
            else:
                chosen.setdefault(method, []).append(r.source.name)
        if r.ok and not r.skipped and len(results) == 1:
            print(f"wrote {r.target} ({r.seconds:.1f} s{where})")
    if chosen:
        print(f"n2n: note: {describe_choices(chosen, len(results))}", file=sys.stderr)
    _say_errors(failed)
    if len(results) > 1 or skipped:
        done = len(results) - len(failed) - len(skipped)
        rate = done / seconds * 60 if seconds > 0 else float("inf")
        kept = f", {len(skipped)} skipped (output exists)" if skipped else ""
        print(
            f"{done} of {len(results)} images {verb}{_into(results)} in {seconds:.1f} s "
            f"({rate:.1f} images/min{where}); {len(failed)} failed{kept}"
        )
    return EXIT_FAILED if failed else EXIT_OK


def _into(results) -> str:
    """' into FOLDER/', the folder that holds the outputs (a folder run without -o writes
    beside its input, into IN_denoised/); '' where they have none in common."""
    try:
        common = os.path.commonpath([str(r.target.parent) for r in results])
    except ValueError:  # absolute and relative paths together
        return ""
    return f" into {common}{os.sep}" if common else ""


def _say_errors(failed: list) -> None:
    """One line per failed file; the outputs a run made before in one line for all (a
    folder run again: a line each for hundreds of files hid the way out)."""
    existing = [str(r.target) for r in failed if r.exists]
    if len(existing) > 1:
        print(
            f"n2n: error: {len(existing)} outputs already exist ({name_some(existing, 3)}): "
            "--skip-existing leaves them as they are and does the rest, --overwrite "
            "replaces them",
            file=sys.stderr,
        )
    for r in (r for r in failed if len(existing) < 2 or not r.exists):
        print(f"n2n: error: {in_options(r.error)}", file=sys.stderr)


def describe_choices(chosen: dict[str, list[str]], total: int, most_names: int = 5) -> str:
    """auto's choices over a run of ``total`` files, from the file names of each method:
    ``auto chose pretrained for 8 images, real for 2 (a.jpg, b.jpg)``; the files of the
    less common methods are named (the first ``most_names`` of each)."""
    ranked = sorted(chosen.items(), key=lambda item: -len(item[1]))
    if len(ranked) == 1:
        method, names = ranked[0]
        every = "all " if len(names) == total else ""
        return f"{AUTO_CHOSE}{method} for {every}{n_images(len(names))}"
    parts = [f"{ranked[0][0]} for {n_images(len(ranked[0][1]))}"]
    for method, names in ranked[1:]:
        parts.append(f"{method} for {len(names)} ({name_some(names, most_names)})")
    return AUTO_CHOSE + ", ".join(parts)


def n_images(count: int) -> str:
    return f"{count} image{'' if count == 1 else 's'}"
