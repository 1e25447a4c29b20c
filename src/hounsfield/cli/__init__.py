"""The ``hounsfield`` command: one verb per module.

Exit codes: 0 success, 2 bad input (one line naming the file and the
problem), 1 internal error. ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings

from .. import __version__
from ..errors import DataUnavailableError, InputError
from . import (
    analyze,
    batch,
    convert,
    drr,
    enhance,
    evaluate,
    info,
    learn,
    lesion,
    measure,
    project,
    reconstruct,
    segment,
    simulate,
    tomo,
)

VERBS = {"info": info, "convert": convert, "analyze": analyze, "evaluate": evaluate,
         "segment": segment, "geometry": tomo, "project": project, "reconstruct": reconstruct,
         "drr": drr, "simulate": simulate, "measure": measure, "lesion": lesion,
         "batch": batch, "enhance": enhance, "learn": learn}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hounsfield", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hounsfield {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, module in VERBS.items():
        sub = verbs.add_parser(name, help=module.HELP, description=module.HELP)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks on errors")
        module.add_arguments(sub)
    return parser


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"hounsfield: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warnings
    try:
        return VERBS[args.verb].run(args) or 0
    except InputError as error:
        return _fail(args, f"error: {error}", 2)
    except DataUnavailableError as error:
        return _fail(args, f"error: {error}", 1)
    except KeyboardInterrupt:
        return _fail(args, "interrupted", 130)
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # anything else is a bug of ours: say so in one line
        return _fail(args, f"internal error: {type(error).__name__}: {error} "
                     "(run with --debug for the traceback)", 1)


def _fail(args, message: str, code: int) -> int:
    if args.debug:
        traceback.print_exc()
    print(f"hounsfield: {message}", file=sys.stderr)
    return code


def console_main() -> None:
    """Entry point of the ``hounsfield`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
