"""`hounsfield simulate CT... [--views N] [--arc-deg A] [--dose F] [--cbct] -o DIR`.

Simulates a non-ideal scan of every CT (sparse-view, limited-angle,
low-dose, beam hardening, cone-beam; combinable) and writes input/target
pairs in the nnU-Net/MONAI layout (``imagesTr/``, ``labelsTr/``,
``dataset.json``) with ``manifest.json`` (settings, seed and sha256 per
case); see :mod:`hounsfield.simulate.export`. Case ``i`` uses seed
``--seed + i``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import InputError
from ..io import read
from ..io.paths import strip_suffix
from ..metrics import mae_hu, psnr_db
from ..simulate.export import export_dataset
from ..simulate.nict import CBCT_FOV_MM, METHODS, ScanSettings
from ..tomo.filters import FILTERS
from .common import check_output_outside_input, console

HELP = "simulate sparse-view, limited-angle, low-dose or cone-beam scans; write training pairs"

_CBCT_DEFAULTS = {"geometry": "cone", "n_views": 360, "fov_mm": CBCT_FOV_MM,
                  "scatter_to_primary": 0.5}


def add_arguments(parser) -> None:
    parser.add_argument("ct", type=Path, nargs="+",
                        help="CTs in HU: DICOM folders or files, NIfTI, NRRD or MHA")
    parser.add_argument("-o", "--output", type=Path, required=True, help="dataset folder")
    parser.add_argument("--views", type=int, metavar="N",
                        help="views per turn (default 720; 360 with --cbct)")
    parser.add_argument("--arc-deg", type=float, metavar="DEG",
                        help="limited angle: measure only the first DEG degrees of the turn")
    parser.add_argument("--dose", type=float, metavar="F",
                        help="low dose: fraction of the routine photon flux (adds noise)")
    parser.add_argument("--i0", type=float, metavar="PHOTONS",
                        help="photons per detector pixel per view at dose 1 (default 1.5e5)")
    parser.add_argument("--cbct", action="store_true",
                        help=f"cone beam with scatter (0.5) and a {CBCT_FOV_MM:g} mm field of view")
    parser.add_argument("--fov-mm", type=float, metavar="MM",
                        help="field of view at the isocentre (truncates larger CTs)")
    parser.add_argument("--scatter", type=float, metavar="SPR",
                        help="scatter-to-primary ratio at the most attenuated ray "
                             "(default 0; 0.5 with --cbct)")
    parser.add_argument("--polychromatic", action="store_true",
                        help="tube spectrum instead of 70 keV photons: beam hardening")
    parser.add_argument("--kvp", type=float, default=120.0, help="tube voltage (default 120)")
    parser.add_argument("--method", default="fbp", choices=METHODS,
                        help="reconstruction (default fbp: FBP, or FDK for --cbct)")
    parser.add_argument("--filter", default="hann", choices=FILTERS,
                        help="FBP/FDK filter (default hann)")
    parser.add_argument("--seed", type=int, default=0, help="seed of case 0 (default 0)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a folder that already holds a dataset")
    parser.add_argument("--allow-modality", action="store_true",
                        help="DICOM: read a series that is not CT (values are then not HU)")


def settings_from(args) -> ScanSettings:
    """The ScanSettings that the options ask for (InputError if they ask for nothing)."""
    degradations = (args.views, args.arc_deg, args.dose, args.scatter, args.fov_mm)
    if all(value is None for value in degradations) and not (args.cbct or args.polychromatic):
        raise InputError("say how to degrade the scans: --views, --arc-deg, --dose, --cbct, "
                         "--polychromatic, --scatter or --fov-mm")
    fields = dict(_CBCT_DEFAULTS) if args.cbct else {}
    options = {"n_views": args.views, "arc_deg": args.arc_deg, "dose_fraction": args.dose,
               "i0_photons_per_pixel": args.i0, "fov_mm": args.fov_mm,
               "scatter_to_primary": args.scatter}
    fields.update({key: value for key, value in options.items() if value is not None})
    fields.update(polychromatic=args.polychromatic, kvp=args.kvp, method=args.method,
                  filter=args.filter, seed=args.seed)
    try:
        return ScanSettings(**fields)
    except ValueError as error:
        raise InputError(str(error)) from None


def case_ids(paths: list[Path]) -> list[str]:
    """One file-name-safe id per input, from its name (without image suffixes)."""
    ids = [re.sub(r"[^A-Za-z0-9._-]", "_", strip_suffix(path).name).lstrip("._-") or "case"
           for path in paths]
    repeated = sorted({case for case in ids if ids.count(case) > 1})
    if repeated:
        raise InputError(f"inputs share the case name(s) {', '.join(repeated)}; rename them "
                         "so that every case is unique")
    return ids


def _check_output(args) -> None:
    if args.output.exists() and not args.output.is_dir():
        raise InputError("output must be a folder, not a file", args.output)
    for path in args.ct:
        check_output_outside_input(args.output, path)
    existing = [name for name in ("dataset.json", "manifest.json")
                if (args.output / name).exists()]
    if existing and not args.overwrite:
        raise InputError(f"folder already holds a dataset ({', '.join(existing)}); choose "
                         "another folder or pass --overwrite", args.output)


def _summary_table(rows: list[tuple]) -> Table:
    table = Table(title="simulated cases", title_justify="left")
    for name in ("case", "shape", "PSNR dB", "MAE HU", "seconds"):
        table.add_column(name, justify="left" if name == "case" else "right")
    for row in rows:
        table.add_row(*row)
    return table


def run(args) -> int:
    settings = settings_from(args)
    ids = case_ids(args.ct)
    _check_output(args)
    rows: list[tuple] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"simulating ({settings.summary()})", total=len(ids))
        started, current = [time.perf_counter()], [None]

        def cases():
            for case, path in zip(ids, args.ct, strict=True):
                current[0] = path
                ct = read(path, labels=False, allow_modality=args.allow_modality, need_3d=True)
                ct.meta["source"] = str(path)
                yield case, ct

        def done(entry: dict, scan) -> None:
            degraded, reference = scan.degraded.array, scan.reference.array
            rows.append((entry["case"], "×".join(map(str, degraded.shape)),
                         f"{psnr_db(degraded, reference):.2f}",
                         f"{mae_hu(degraded, reference):.1f}",
                         f"{time.perf_counter() - started[0]:.1f}"))
            started[0] = time.perf_counter()
            bar.advance(task)

        try:
            export_dataset(cases(), args.output, settings, on_case=done)
        except InputError:
            raise
        except ValueError as error:  # a CT that cannot be scanned (e.g. not axial)
            raise InputError(str(error), current[0]) from None
    console.print(_summary_table(rows))
    plural = "" if len(rows) == 1 else "s"
    console.print(f"wrote {len(rows)} input/target pair{plural}, dataset.json and manifest.json "
                  f"to {args.output}")
    return 0
