"""The ``n2n`` command: parse arguments, call one library function, report.

One module per command (``add_parser`` and the command itself); :mod:`.common` holds
what they share, :mod:`.file_report` what a run on image files says at its end,
:mod:`.interrupts` how a run stops early (Ctrl-C, SIGTERM, a closed terminal). No
algorithm lives here. Errors that a user can fix (the project's
:class:`~noise2noise.errors.N2NError` and the system's ``OSError``) are printed as one
line naming the file and the problem, with a non-zero exit status and no traceback
(``n2n --debug`` shows it); any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import signal
import sys
import warnings
from collections.abc import Sequence

from .. import __version__
from ..errors import N2NError, Note
from ..runtime import fit_threads
from . import add_noise, compare, demo, denoise, evaluate, reproduce, train
from .common import EXIT_USAGE, Formatter, in_options
from .interrupts import handle_termination, report_interrupt

# In the order `n2n --help` lists them; each has add_parser(sub) and its command.
COMMANDS = (denoise, add_noise, compare, train, evaluate, reproduce, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="n2n",
        description="Remove noise from images without clean training data.",
        formatter_class=Formatter,
        epilog="examples:\n  n2n demo\n  n2n denoise photo.png -o clean.png\n"
        "  n2n denoise scans/ -o denoised/\n"
        "  n2n add-noise clean.png -o noisy.png --gaussian 25\n\n"
        "Run 'n2n COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of errors too (for reports)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    for command_parser in sub.choices.values():  # for errors in its own words
        command_parser.set_defaults(command_parser=command_parser)
    return parser


# Options of other tools a user may try, and ours that do what they do (the first one
# the command has).
_OTHER_TOOLS = {
    "--gpu": ("--device cuda",),
    "--cuda": ("--device cuda",),
    "--cpu": ("--device cpu",),
    "--mps": ("--device mps",),
    "--jobs": ("--workers", "--threads"),
    "-j": ("--workers", "--threads"),
    "--force": ("--overwrite",),
    "-f": ("--overwrite",),
    "--outdir": ("--output", "--out"),
    "--output-dir": ("--output", "--out"),
    "--out-dir": ("--output", "--out"),
    "--steps": ("--iterations", "--steps-per-epoch"),
}


def _refuse_unknown(args: argparse.Namespace, extra: list[str]) -> None:
    """Arguments the command does not take: said with the command's own usage, and the
    option meant where one is close (``--methd``: ``--method``). argparse said them with
    the usage of ``n2n`` itself."""
    command_parser = args.command_parser
    options = [o for action in command_parser._actions for o in action.option_strings]
    hints = []
    for word in extra:
        name = word.split("=", 1)[0]
        ours = [o for o in _OTHER_TOOLS.get(name, ()) if o.split()[0] in options]
        if ours:
            hints.append(f"{name}: did you mean {ours[0]}?")
        elif name.startswith("-") and (
            close := difflib.get_close_matches(name, options, 1, cutoff=0.7)
        ):  # not lower: '--tile' was 'did you mean --quiet?'
            hints.append(f"{name}: did you mean {close[0]}?")
    command_parser.error(
        f"unrecognized arguments: {' '.join(extra)}" + (f" ({'; '.join(hints)})" if hints else "")
    )


def _refuse_dashed_files(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A file named ``-scan.png`` reads as an option: argparse then said only that INPUT
    is missing. Said as what it is, with the ways to give it."""
    before = argv[: argv.index("--")] if "--" in argv else argv
    options = {o for p in _parsers(parser) for a in p._actions for o in a.option_strings}
    for word in before:
        if len(word) > 1 and word.startswith("-") and word not in options and os.path.isfile(word):
            parser.exit(
                EXIT_USAGE,
                f"n2n: error: {word}: a file whose name begins with '-' reads as an option: "
                f"give it as ./{word}, or after a -- that ends the options\n",
            )


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and its commands' parsers."""
    commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser, *(p for a in commands for p in a.choices.values())]


class _StderrHandler(logging.StreamHandler):
    """Log lines to ``sys.stderr`` as it is when each is written: a caller (a test, a
    notebook) may have replaced it since the handler was made, and closed the old one."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # set by StreamHandler.__init__: always sys.stderr
        pass


class _LibraryFormatter(logging.Formatter):
    """Log lines with the library's parameters named as the command's options."""

    def format(self, record: logging.LogRecord) -> str:
        return in_options(super().format(record))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # plain `n2n`: what it can do
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _refuse_dashed_files(parser, list(sys.argv[1:] if argv is None else argv))
    args, extra = parser.parse_known_args(argv)
    if extra:
        _refuse_unknown(args, extra)
    # Library notes (e.g. an estimated BM3D sigma) reach the user as "n2n: ..." lines.
    handler = _StderrHandler()
    handler.setFormatter(_LibraryFormatter("n2n: %(message)s"))
    package_log = logging.getLogger("noise2noise")
    if not package_log.handlers:
        package_log.addHandler(handler)
    package_log.setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    fit_threads()
    previous = handle_termination()
    shown = warnings.showwarning
    warnings.showwarning = _notes_as_lines(shown, quiet=getattr(args, "quiet", False))
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP through terminated
        return report_interrupt(exc)
    except (N2NError, OSError) as exc:
        # Our own errors and the system's (missing folder, full disk, no permission) are
        # the user's to fix: one line. Anything else is a bug and keeps its traceback.
        if args.debug:
            raise
        print(f"n2n: error: {in_options(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        warnings.showwarning = shown
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _notes_as_lines(shown, *, quiet: bool):
    """``warnings.showwarning`` for a command: a library note that no command collects
    itself (those of images that `n2n compare` or `n2n train` reads) as an ``n2n: note:``
    line, as the other commands say them (not Python's two lines with the n2n script's
    source line), each once, none with ``--quiet``; other warnings as Python shows them."""
    said = set()

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, Note):
            shown(message, category, filename, lineno, file, line)
        elif not quiet and str(message) not in said:
            said.add(str(message))
            print(f"n2n: note: {in_options(str(message))}", file=sys.stderr)

    return show


if __name__ == "__main__":
    sys.exit(main())
