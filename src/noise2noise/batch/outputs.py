"""Where outputs go: naming, writable folders, outputs already complete, and cleaning up
after an interrupted run (empty folders it made, temporary files)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import N2NError
from ..files import orphaned_partials, partial_files
from ..image_io import (
    IMAGE_EXTENSIONS,
    READ_EXTENSIONS,
    TIFF_LIKE,
    ImageFileError,
    describe_unreadable,
    list_images,
    read_header,
    refuse_existing,
)
from .file_task import FileResult


def plan_outputs(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike | None,
    *,
    suffix: str = "_denoised",
    recursive: bool = False,
) -> list[tuple[Path, Path]]:
    """Pair every input file with its output path.

    One input file and an output that is not an existing folder and does not end in a
    path separator (``out/``): the output is a file. Otherwise (a folder input, several
    inputs, or an existing output folder) the output is a folder and each result keeps its
    input's file name. Without an output, each result goes beside its input with
    ``suffix`` added to its name (``photo.jpg`` to ``photo_denoised.jpg``; a folder
    ``scans/`` to ``scans_denoised/``, same file names). With ``recursive``, the images
    in a folder's subfolders too, each result at the same place under the output folder
    (images already under the output folder are left out).

    Raises
    ------
    ValueError
        No inputs, a folder without images, a missing input, a name clash in the output
        folder, or an output that would overwrite an input.
    """
    if not inputs:
        raise N2NError("no input given")
    items = [Path(i) for i in inputs]
    if output is None:
        return _check_pairs(_pair([(i, beside(i, suffix)) for i in items], recursive))
    if str(output) == "-":  # a pipe: results are files, named by their format
        raise N2NError("-: n2n writes image files, not standard output; give a file name")
    # "-o out/" names a folder, made if missing, even for one input file
    as_folder = str(output).endswith(("/", os.sep))
    output = Path(output)
    if len(items) == 1 and not items[0].is_dir() and not output.is_dir() and not as_folder:
        if output.suffix.lower() not in IMAGE_EXTENSIONS:  # said now, not after the work
            raise N2NError(
                f"{output}: cannot write format '{output.suffix}' "
                f"(supported: {', '.join(IMAGE_EXTENSIONS)})"
                + ("; for a folder, end the name with /" if not output.suffix else "")
                + ("; it is read as a TIFF: write .tif" if as_written(output) != output else "")
            )
        return _check_pairs([(items[0], output)])
    what = "the input is a folder" if len(inputs) == 1 else "there are several inputs"
    if output.exists() and not output.is_dir():
        raise N2NError(f"{output}: output must be a folder when {what}")
    if not output.exists() and not as_folder and output.suffix.lower() in IMAGE_EXTENSIONS:
        raise N2NError(  # a folder named out.png was made, holding the results
            f"{output}: a file name, but {what}: give a folder (end it with /), or one "
            "input for this output"
        )
    pairs = [(i, output if i.is_dir() else output / as_written(i.name)) for i in items]
    return _check_pairs(_pair(pairs, recursive))


def beside(item: Path, suffix: str) -> Path:
    """Where a result goes without an output: ``photo_denoised.jpg``, ``scans_denoised/``,
    ``volume_denoised.zarr`` (a zarr store is a folder, but one array)."""
    if item.is_dir() and item.suffix.lower() != ".zarr":
        folder = item.resolve()
        return folder.with_name(folder.name + suffix)
    # cells.ome.tif to cells_denoised.ome.tif: Bio-Formats and Fiji know an OME-TIFF (and
    # an OME-Zarr) by its double extension
    ome = item.name.lower().endswith((".ome.tif", ".ome.tiff", ".ome.zarr"))
    extension = "".join(item.suffixes[-2:]) if ome else item.suffix
    return item.with_name(as_written(item.name[: -len(extension)] + suffix + extension))


def as_written(name: str | Path):
    """The name of a result of the file ``name``: the same, but .tif for a TIFF by
    another name (a slide scanner's .svs, a Zeiss .lsm: :data:`TIFF_LIKE`), which is
    written as a plain TIFF."""
    path = Path(name)
    written = path.with_suffix(".tif") if path.suffix.lower() in TIFF_LIKE else path
    return written if isinstance(name, Path) else str(written)


def _deeper(folder: Path, recursive: bool) -> bool:
    """Whether ``recursive`` would find images in ``folder`` that a plain run does not."""
    return not recursive and bool(list_images(folder, recursive=True))


def _pair(outputs: list[tuple[Path, Path]], recursive: bool) -> list[tuple[Path, Path]]:
    """(input file, output) for every (input, output) of ``outputs``: a file as it is, and
    every image of a folder at its place under the folder's output folder; images that
    lie under that output folder already (an earlier result) are left out."""
    pairs = []
    for item, out in outputs:
        if not item.is_dir():
            pairs.append((item, out))
            continue
        target = out.resolve()
        inside = target != item.resolve()  # the output folder is a subfolder of the input
        for src in _images_of(item, recursive):
            if not (inside and src.resolve().is_relative_to(target)):
                pairs.append((src, out / as_written(src.relative_to(item))))
    return pairs


def _images_of(item: Path, recursive: bool = False) -> list[Path]:
    """The images of a folder (and its subfolders with ``recursive``), or the file itself
    (missing or bad files are reported per file, later)."""
    if not item.is_dir():
        return [item]
    found = list_images(item, recursive=recursive)
    if not found:
        left = describe_unreadable(item, recursive=recursive)
        raise N2NError(
            f"{item}: folder contains no images n2n reads ({', '.join(READ_EXTENSIONS)})"
            + (f", but {left}" if left else "")
            + ("; `recursive=True` takes its subfolders too" if _deeper(item, recursive) else "")
        )
    return found


def _check_pairs(pairs: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """``pairs``, once no two outputs are one file, none is an input, and every output's
    folder can be written. A file given twice (``shots/a.png shots/``) is done once."""
    # resolved output: (input, output, resolved input); each path is resolved once
    planned: dict[Path, tuple[Path, Path, Path]] = {}
    for src, dst in pairs:
        real = src.resolve()
        other, _, other_real = planned.setdefault(dst.resolve(), (src, dst, real))
        if other_real != real:
            raise N2NError(
                f"{other} and {src} would both be written to {dst}: give them separate runs"
            )
    inputs = {real for _, _, real in planned.values()}
    for output, (_, dst, _) in planned.items():
        if output in inputs:
            raise N2NError(f"{dst}: output would overwrite an input; choose another output")
    pairs = [(src, dst) for src, dst, _ in planned.values()]
    for folder in dict.fromkeys(dst.parent for _, dst in pairs):
        _check_writable(folder)
    return pairs


def _check_writable(folder: Path) -> None:
    """Fail now, not after the work, when ``folder`` cannot be made or written."""
    existing = next((f for f in (folder, *folder.parents) if f.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        raise N2NError(f"{folder}: cannot create it, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise N2NError(f"{folder}: no permission to write in {existing}")


def complete_output(target: Path) -> bool:
    """True for an existing output that a run may skip: outputs are written to a temporary
    file and renamed, so one that exists under its name and has a readable header is
    whole."""
    try:
        read_header(target)
    except ImageFileError:
        return False
    return True


def split_existing(
    pairs: Sequence[tuple[Path, Path]], *, skip_existing: bool, overwrite: bool
) -> tuple[dict[int, FileResult], list[int]]:
    """(results of the pairs settled before any work: skipped because their output
    exists and is complete, or refused because it exists (neither ``overwrite`` nor
    ``skip_existing``: said here, without starting a worker for it); the indices of the
    pairs to process)."""
    results, todo = {}, []
    for i, (src, dst) in enumerate(pairs):
        if skip_existing and not overwrite and dst.exists() and complete_output(dst):
            results[i] = FileResult(src, dst, 0.0, skipped=True)
        elif not (skip_existing or overwrite) and dst.exists() and _readable(src):
            try:
                refuse_existing(dst, overwrite)
            except ImageFileError as exc:
                results[i] = FileResult(src, dst, 0.0, str(exc), exists=True)
        else:  # a missing or unreadable input is said by the run, before its output
            todo.append(i)
    return results, todo


def _readable(path: Path) -> bool:
    try:
        read_header(path)
    except Exception:  # noqa: BLE001 - whatever it is, the run says it for this file
        return False
    return True


def make_folders(pairs: Sequence[tuple[Path, Path]], created: list[Path]) -> None:
    """Create the output folders, recording in ``created`` (before making them, so that
    an interrupt in between still finds them) those that did not exist."""
    for folder in dict.fromkeys(dst.parent for _, dst in pairs):
        created.extend(f for f in [folder, *folder.parents] if not f.exists())
        folder.mkdir(parents=True, exist_ok=True)


def remove_empty(folders: list[Path]) -> None:
    """Remove the folders of ``folders`` that are empty, deepest first."""
    for folder in sorted(set(folders), key=lambda f: len(f.parts), reverse=True):
        try:
            folder.rmdir()  # only if empty
        except OSError:
            pass


def remove_orphans(pairs: Sequence[tuple[Path, Path]]) -> list[Path]:
    """Delete the temporary files that killed writers of these outputs left (a run
    killed with ``kill -9`` or by power loss cannot clean up after itself); the files
    deleted. Each output folder is listed once."""
    names: dict[Path, set[str]] = {}
    for _, dst in pairs:
        names.setdefault(dst.parent, set()).add(dst.name)
    removed = []
    for folder, wanted in names.items():
        if folder.is_dir():
            for orphan in orphaned_partials(folder, wanted):
                orphan.unlink(missing_ok=True)
                removed.append(orphan)
    return removed


def remove_partials(targets: list[Path]) -> None:
    """Delete the temporary files of outputs whose writer was stopped mid-write."""
    for target in targets:
        for tmp in partial_files(target):
            tmp.unlink(missing_ok=True)


def written_unseen(pairs, todo, results: dict, before: set, started: int) -> list[Path]:
    """After an interrupt, with every worker stopped: record as finished the files whose
    output was written (atomically, so whole) but whose result never came back; return
    the outputs that existed before the run and were not written again."""
    stale = []
    for i in todo:
        src, dst = pairs[i]
        if i in results:
            continue
        try:
            written = dst.stat().st_mtime_ns >= started if i in before else dst.exists()
        except FileNotFoundError:
            written = False
        if written:
            results[i] = FileResult(src, dst, 0.0)
        elif i in before:
            stale.append(dst)
    return stale
