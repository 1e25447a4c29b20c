"""`hounsfield geometry KIND ... -o g.json`, and what the tomography verbs share.

The verb writes a scan geometry (:mod:`hounsfield.tomo.geometry`) as JSON
for ``hounsfield project`` and ``hounsfield reconstruct``. The helpers below
read geometries and images, place images on grids, and write projections.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.paths import atomic_output
from ..tomo.geometry import Geometry, cone_beam, fan_beam, parallel_beam, parallel_beam_3d
from ..tomo.grid import ImageGrid
from ..volume import Volume
from .common import console

HELP = "write a parallel, fan or cone-beam scan geometry (JSON) for project and reconstruct"


# -- the geometry verb -------------------------------------------------------------------


def add_arguments(parser) -> None:
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    parallel = kinds.add_parser("parallel", help="parallel beam (2D, or 3D with --rows)")
    fan = kinds.add_parser("fan", help="2D fan beam on a circle")
    cone = kinds.add_parser("cone", help="circular cone beam about z")
    for sub, arc in ((parallel, 180.0), (fan, 360.0), (cone, 360.0)):
        sub.add_argument("--views", type=int, required=True, help="number of projection angles")
        sub.add_argument("--detectors", type=int, required=True, help="detector columns")
        sub.add_argument("--det-spacing-mm", type=float, default=1.0,
                         help="column pitch, mm (default 1)")
        sub.add_argument("--arc-deg", type=float, default=arc,
                         help=f"angular range, degrees (default {arc:g})")
        sub.add_argument("--start-deg", type=float, default=0.0, help="first angle, degrees")
        sub.add_argument("-o", "--output", type=Path, required=True, help="geometry .json")
    for sub in (parallel, cone):
        sub.add_argument("--rows", type=int, help="detector rows (3D); required for cone")
        sub.add_argument("--row-spacing-mm", type=float,
                         help="row pitch, mm (default: the column pitch)")
    for sub in (fan, cone):
        sub.add_argument("--sod-mm", type=float, required=True, help="source–rotation-axis mm")
        sub.add_argument("--sdd-mm", type=float, required=True, help="source–detector mm")
        sub.add_argument("--curved", action="store_true", help="cylindrical detector")
    fan.add_argument("--det-offset-mm", type=float, default=0.0,
                     help="detector shift along its columns, mm")


def _build(args) -> Geometry:
    common = {"arc_deg": args.arc_deg, "start_deg": args.start_deg}
    if args.kind == "fan":
        return fan_beam(args.views, args.detectors, args.det_spacing_mm, args.sod_mm, args.sdd_mm,
                        curved=args.curved, det_offset_mm=args.det_offset_mm, **common)
    if args.kind == "parallel" and args.rows is None:
        return parallel_beam(args.views, args.detectors, args.det_spacing_mm, **common)
    if args.rows is None:
        raise InputError("a cone beam needs --rows, the number of detector rows")
    pitch = (args.row_spacing_mm or args.det_spacing_mm, args.det_spacing_mm)
    if args.kind == "parallel":
        return parallel_beam_3d(args.views, (args.rows, args.detectors), pitch, **common)
    return cone_beam(args.views, (args.rows, args.detectors), pitch, args.sod_mm, args.sdd_mm,
                     curved=args.curved, **common)


def run(args) -> int:
    if args.output.suffix.lower() != ".json":
        raise InputError("a geometry is written as .json", args.output)
    with invalid_as_input_error():
        geometry = _build(args)
    geometry.save(args.output)
    console.print(f"wrote {args.output}  {geometry!r}, projections "
                  f"{'×'.join(map(str, geometry.projection_shape))}")
    return 0


# -- shared by project and reconstruct -------------------------------------------------------


@contextlib.contextmanager
def invalid_as_input_error(path=None):
    """Report a ValueError from the library (a bad parameter or input) as an InputError."""
    try:
        yield
    except InputError:
        raise
    except ValueError as error:
        raise InputError(str(error), path) from None


def add_placement_options(parser) -> None:
    parser.add_argument("--centre", action="store_true",
                        help="place the volume's centre on the rotation axis (isocentre) instead "
                             "of at its world position (cone beams of volumes far from z = 0)")
    parser.add_argument("--mu-water", type=float, default=None, metavar="PER_MM",
                        help="μ of water in 1/mm for HU ↔ μ (default 0.0194, about 70 keV)")


def mu_water(args) -> float:
    from ..data.shepp_logan import MU_WATER_PER_MM

    value = MU_WATER_PER_MM if args.mu_water is None else args.mu_water
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"--mu-water must be a positive number of 1/mm, got {value!r}")
    return float(value)


def load_geometry(path: Path) -> Geometry:
    if not path.exists():
        raise InputError("no such geometry file (write one with 'hounsfield geometry')", path)
    return Geometry.load(path)


def load_array(path: Path, name: str, ndims=(2, 3)) -> np.ndarray:
    """A finite real array from a .npy file, with the number of dimensions asked for."""
    if not path.exists():
        raise InputError("no such file", path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputError(f"not a numpy .npy array ({error})", path) from None
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"{name} must hold real numbers, got dtype {array.dtype}", path)
    if array.ndim not in ndims:
        raise InputError(f"{name} must have {' or '.join(map(str, ndims))} dimensions, "
                         f"got shape {array.shape}", path)
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} holds NaN or infinite values", path)
    return array.astype(np.float32, copy=False)


def placed_grid(volume: Volume, centre: bool) -> ImageGrid:
    """The volume's own grid, or the same grid moved so that its centre is the origin."""
    grid = ImageGrid.of(volume)
    if not centre:
        return grid
    centre_index = (np.asarray(grid.shape) - 1) / 2
    origin = -grid.direction @ (np.asarray(grid.spacing_mm) * centre_index)
    return ImageGrid(grid.shape, grid.spacing_mm, tuple(origin), grid.direction)


def volume_on_grid(array: np.ndarray, grid: ImageGrid) -> Volume:
    """A Volume of a (centred) 2D or 3D grid; a 2D image becomes one 1 mm axial slice."""
    if grid.ndim == 3:
        return Volume(array, spacing_mm=grid.spacing_mm, origin_mm=grid.origin_mm,
                      direction=grid.direction)
    direction = np.zeros((3, 3))
    direction[2, 0] = 1.0
    direction[:2, 1:] = grid.direction
    return Volume(array[None], spacing_mm=(1.0, *grid.spacing_mm),
                  origin_mm=(*grid.origin_mm, 0.0), direction=direction)


def save_array(path: Path, array: np.ndarray) -> None:
    """Write a .npy file atomically."""
    if path.suffix.lower() != ".npy":
        raise InputError("projections are written as .npy", path)
    with atomic_output(path) as temporary, open(temporary, "wb") as file:
        np.save(file, np.asarray(array, dtype=np.float32))
