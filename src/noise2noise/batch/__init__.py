"""Process image files and folders: output naming, per-file errors, workers and progress.

One bad file never stops a folder run: each file gets a :class:`FileResult`, and the
caller decides how to report them. Inputs are never overwritten, existing outputs only
with ``overwrite=True``, and outputs are written atomically.

Modules: ``outputs`` (naming, existing outputs, clean-up), ``file_task`` (one file),
``pool`` (many files in worker processes), ``stops`` (a run stopped early).
"""

from .file_task import FileResult, NoiseAdder, process_file
from .outputs import (
    beside,
    complete_output,
    make_folders,
    plan_outputs,
    remove_empty,
    remove_orphans,
    remove_partials,
    split_existing,
    written_unseen,
)
from .pool import die_with_parent, process_files
from .stops import DiskFull, RunInterrupted

__all__ = [
    "FileResult",
    "NoiseAdder",
    "RunInterrupted",
    "DiskFull",
    "plan_outputs",
    "beside",
    "process_file",
    "process_files",
    "complete_output",
    "split_existing",
    "make_folders",
    "remove_empty",
    "remove_partials",
    "remove_orphans",
    "written_unseen",
    "die_with_parent",
]
