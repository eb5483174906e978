"""Writing result files so that a reader never sees half of one: a temporary file beside
the target, renamed over it when complete (a rename within a folder is atomic). Images,
checkpoints, CSV tables and JSON records all go through :func:`write_atomically`."""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import N2NError

__all__ = [
    "write_atomically",
    "partial_files",
    "orphaned_partials",
    "write_csv",
    "read_csv_rows",
    "write_json",
    "drop_csv_rows",
    "refuse_others_files",
]


# A temporary name keeps at most this many bytes of the target's stem, so that it fits
# the 255 bytes a file name may have wherever the target's own name fits.
_STEM_BYTES = 200


def _short(stem: str) -> str:
    return stem.encode("utf-8")[:_STEM_BYTES].decode("utf-8", "ignore")


def _partial(path: Path, pid: int | str) -> Path:
    return path.with_name(f".{_short(path.stem)}.partial-{pid}{path.suffix}")


def partial_files(path: str | os.PathLike) -> list[Path]:
    """The temporary files that writers of ``path`` left behind when they were killed."""
    path = Path(path)
    head, tail = f".{_short(path.stem)}.partial-", path.suffix
    pattern = glob.escape(head) + "*" + glob.escape(tail)  # a '[' in a name is a '['
    return sorted(p for p in path.parent.glob(pattern) if _PARTIAL.fullmatch(p.name))


_PARTIAL = re.compile(r"\.(?P<stem>.+)\.partial-(?P<pid>\d+)(?P<suffix>.*)")


def orphaned_partials(folder: str | os.PathLike, names: set[str]) -> list[Path]:
    """The temporary files in ``folder``, of targets named in ``names``, whose writer no
    longer runs: it was killed (``kill -9``, a closed terminal, power lost) mid-write.
    One listing of the folder; a live writer's file (another run) is not among them."""
    wanted = {(_short(Path(name).stem), Path(name).suffix) for name in names}
    orphans = []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _PARTIAL.fullmatch(entry.name)
            if match and (match["stem"], match["suffix"]) in wanted:
                if not _running(int(match["pid"])):
                    orphans.append(Path(folder, entry.name))
    return sorted(orphans)


def _running(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would send Ctrl-C on Windows: keep the file
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none, or a number no process can have
        return False
    except PermissionError:  # another user's
        return True
    return True


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``;
    the temporary file is removed if ``write`` fails or is interrupted."""
    path = Path(path)
    tmp = _partial(path, os.getpid())
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_csv(
    path: str | os.PathLike, rows: Sequence[dict], fieldnames: Sequence[str] | None = None
) -> Path:
    """Rows as a CSV table with a header (the first row's keys unless ``fieldnames``)."""
    names = list(fieldnames) if fieldnames is not None else list(rows[0]) if rows else ["empty"]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)

    return write_atomically(path, write)


def read_csv_rows(path: str | os.PathLike) -> list[dict]:
    """The rows of a CSV table written by :func:`write_csv` (none if it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_json(path: str | os.PathLike, data: object) -> Path:
    """``data`` as indented JSON (infinity as ``Infinity``, which ``json`` reads back)."""
    return write_atomically(
        path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    )


def drop_csv_rows(path: str | os.PathLike, column: str, values: set[str]) -> int:
    """Remove the rows of a CSV table whose ``column`` is one of ``values`` (a cache's
    stale cells), atomically; the number removed (0 when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return 0
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        names, rows = reader.fieldnames or [], list(reader)
    kept = [r for r in rows if r.get(column) not in values]
    if len(kept) < len(rows):
        write_csv(path, kept, names)
    return len(rows) - len(kept)


def refuse_others_files(
    folder: str | os.PathLike, names: Sequence[str], what: str, advice: str
) -> None:
    """Refuse ``folder`` where it holds a file of ``names``, which a run would replace, and
    the caller found no mark of its own there: a user's files of those names (an output
    folder of ~/Documents) stay theirs. Said as ``FILE: exists and is not {what}: {advice}``."""
    if taken := [n for n in names if (Path(folder) / n).exists()]:
        raise N2NError(f"{Path(folder) / taken[0]}: exists and is not {what}: {advice}")
