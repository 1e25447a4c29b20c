"""`hounsfield batch VERB INPUTS -o OUT [verb options]`: a verb over many cases, resumable.

INPUTS is a folder (each CT file or DICOM series is a case) or a CSV/JSON
manifest (case_id, input, options). Options that batch does not know are
passed to the verb. ``hounsfield batch status OUT`` prints the ledger.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from rich.table import Table

from ..errors import InputError
from .common import console

HELP = "run a verb over a folder or manifest of cases (local pool or Dask), resumable"

USAGE = """\
usage: hounsfield batch VERB INPUTS -o OUT [verb options] [--workers N]
                        [--scheduler tcp://host:8786 | --dask-local] [--memory-limit 8GB]
                        [--retry 2] [--timeout-min 30] [--force] [--output-name NAME]
                        [--no-progress]
       hounsfield batch status OUT [--csv FILE]

VERB: segment, analyze, lesion, simulate, drr, convert, measure, project,
reconstruct or evaluate (cases of two inputs: prediction;reference).
Outputs go to OUT/cases/<case_id>/, the ledger to OUT/ledger.sqlite and
OUT/ledger.csv; analyze and evaluate also write OUT/combined.csv.
"""


def add_arguments(parser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = USAGE
    parser.add_argument("words", nargs=argparse.REMAINDER, metavar="VERB INPUTS ...",
                        help="see below")


def _batch_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hounsfield batch", usage=USAGE, allow_abbrev=False,
                                     add_help=False)
    parser.add_argument("verb")
    parser.add_argument("inputs", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--workers", type=int)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler")
    where.add_argument("--dask-local", action="store_true")
    parser.add_argument("--memory-limit")
    parser.add_argument("--retry", type=int, default=2)
    parser.add_argument("--timeout-min", type=float)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--output-name")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _status_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hounsfield batch status", allow_abbrev=False)
    parser.add_argument("output", type=Path)
    parser.add_argument("--csv", type=Path, help="also export the ledger as CSV")
    return parser


def memory_mb(text: str) -> float:
    """Megabytes from a size such as '8GB', '512MB' or '2GiB'.

    >>> memory_mb("8GB"), memory_mb("512MiB")
    (8000.0, 536.870912)
    """
    units = {"kib": 1024 / 1e6, "mib": 1024**2 / 1e6, "gib": 1024**3 / 1e6, "tib": 1024**4 / 1e6,
             "kb": 1e-3, "mb": 1.0, "gb": 1e3, "tb": 1e6}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            try:
                return float(lowered[: -len(unit)]) * factor
            except ValueError:
                break
    raise InputError(f"--memory-limit {text!r}: expected a size such as 8GB or 512MiB")


def _check(args) -> None:
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers {args.workers}: expected 1 or more")
    if args.retry < 0:
        raise InputError(f"--retry {args.retry}: expected 0 or more")
    if args.timeout_min is not None and args.timeout_min <= 0:
        raise InputError(f"--timeout-min {args.timeout_min}: expected a positive number")


def _throughput_line(ledger) -> str:
    per_hour, eta_s = ledger.throughput()
    if per_hour is None:
        return "throughput: not yet measured"
    eta = f", ETA {datetime.timedelta(seconds=round(eta_s))}" if eta_s else ""
    return f"throughput {per_hour:.0f} cases/h{eta}"


def _summary_table(ledger) -> Table:
    table = Table(title="hounsfield batch", title_justify="left")
    for column in ("status", "cases"):
        table.add_column(column, justify="left" if column == "status" else "right")
    for status, count in ledger.counts().items():
        table.add_row(status, str(count))
    return table


def _print_status(output: Path) -> None:
    from ..batch.ledger import Ledger

    ledger = Ledger(output / "ledger.sqlite")
    try:
        console.print(_summary_table(ledger))
        console.print(_throughput_line(ledger))
        for case_id, error in ledger.failures():
            console.print(f"failed {case_id}: {error}")
    finally:
        ledger.close()


def _status(words: list[str]) -> int:
    args = _status_parser().parse_args(words)
    if not (args.output / "ledger.sqlite").is_file():
        raise InputError("no batch ledger here (ledger.sqlite)", args.output)
    _print_status(args.output)
    if args.csv:
        from ..batch.ledger import Ledger

        ledger = Ledger(args.output / "ledger.sqlite")
        ledger.export_csv(args.csv)
        ledger.close()
        console.print(f"wrote {args.csv}")
    return 0


def run(args) -> int:
    from ..batch import BatchOptions, read_cases, run_batch
    from ..batch.aggregate import AGGREGATED_VERBS, combined_rows, write_combined

    if args.words[:1] == ["status"]:
        return _status(args.words[1:])
    args, verb_options = _batch_parser().parse_known_args(args.words)
    _check(args)
    cases = read_cases(args.inputs)
    options = BatchOptions(
        args.verb, args.output, tuple(verb_options), args.workers, args.scheduler,
        args.dask_local, None if args.memory_limit is None else memory_mb(args.memory_limit),
        args.retry, args.timeout_min, args.force, args.output_name,
        progress=not args.no_progress, console=console)
    counts = run_batch(cases, options)
    _print_status(args.output)
    if args.verb in AGGREGATED_VERBS:
        ids = [case.case_id for case in cases]
        for path in write_combined(combined_rows(args.verb, args.output / "cases", ids),
                                   args.output):
            console.print(f"wrote {path}")
    return 0 if counts["failed"] == 0 else 1
