"""`hounsfield reconstruct SINO --geometry g.json --method M --like CT -o out.nii.gz`.

Reconstructs projections (a .npy of line integrals, as ``hounsfield project``
writes them) on the grid of ``--like CT`` (the CT's own grid, so the result
overlays it) or on a grid of ``--shape`` (with ``--spacing-mm``) centred on
the rotation axis, and writes a NIfTI (or NRRD/MHA) volume in HU (or μ with ``--units mu``).

Methods: ``fbp`` (2D parallel/fan beams, slice by slice for stacks), ``fdk``
(cone beams), and the iterative ``sirt``, ``sart`` (OS-SART with
``--subsets``), ``cgls`` and ``tv`` (Chambolle–Pock) of
:mod:`hounsfield.tomo.iterative`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import read, write
from ..io.paths import output_format_of
from ..tomo import iterative
from ..tomo.grid import ImageGrid
from ..tomo.project import Projector
from .common import add_read_options, check_output_outside_input, console
from .tomo import (
    add_placement_options,
    invalid_as_input_error,
    load_array,
    load_geometry,
    mu_water,
    placed_grid,
    volume_on_grid,
)

HELP = "reconstruct projections (.npy) by FBP, FDK, SIRT, SART, CGLS or TV into a CT volume"

METHODS = ("fbp", "fdk", "sirt", "sart", "cgls", "tv")
DEFAULT_ITERATIONS = {"sirt": 100, "sart": 10, "cgls": 30, "tv": 100}


def add_arguments(parser) -> None:
    parser.add_argument("input", type=Path, help="projections .npy (line integrals of μ)")
    parser.add_argument("--geometry", type=Path, required=True, help="geometry .json")
    parser.add_argument("--method", default="fbp", metavar="METHOD",
                        help=f"one of {', '.join(METHODS)} (default fbp)")
    grid = parser.add_mutually_exclusive_group(required=True)
    grid.add_argument("--shape", type=int, nargs="+", metavar="N",
                      help="image shape (ny nx) or (nz ny nx), centred on the rotation axis")
    grid.add_argument("--like", type=Path, metavar="CT",
                      help="reconstruct on this CT's grid (any readable volume)")
    parser.add_argument("--spacing-mm", type=float, nargs="+", metavar="MM",
                        help="with --shape: pixel size, one value or one per axis (default 1)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="output volume: .nii.gz, .nii, .nrrd or .mha")
    parser.add_argument("--iterations", type=int, metavar="N",
                        help="iterative methods: iterations (default "
                             + ", ".join(f"{k} {v}" for k, v in DEFAULT_ITERATIONS.items()) + ")")
    parser.add_argument("--subsets", type=int, metavar="K",
                        help="sart: ordered subsets of views (default: one view per subset)")
    parser.add_argument("--tv-weight", type=float, metavar="W",
                        help="tv: TV weight (default: suggest_tv_weight's heuristic, printed)")
    parser.add_argument("--nonneg", action="store_true",
                        help="sirt, sart, cgls: keep μ ≥ 0 (tv always does)")
    parser.add_argument("--filter", default="ramp",
                        help="fbp, fdk: ramp, shepp-logan, cosine, hamming or hann")
    parser.add_argument("--units", default="hu", choices=("hu", "mu"),
                        help="output HU (default) or μ in 1/mm")
    add_placement_options(parser)
    add_read_options(parser)


def _check_options(args) -> None:
    if args.method not in METHODS:
        raise InputError(f"unknown method {args.method!r}; choose one of {', '.join(METHODS)}")
    for value, option in ((args.iterations, "--iterations"), (args.subsets, "--subsets")):
        if value is not None and value < 1:
            raise InputError(f"{option} must be at least 1, got {value}")
    if args.spacing_mm is not None and args.like is not None:
        raise InputError("--spacing-mm goes with --shape; --like takes the CT's spacing")


def reconstruction_grid(args):
    """(grid to reconstruct on, the --like volume or None)."""
    if args.like is not None:
        like = read(args.like, labels=False, series=args.series,
                    allow_modality=args.allow_modality, progress=True)
        return placed_grid(like, args.centre), like
    if len(args.shape) not in (2, 3) or min(args.shape) < 1:
        raise InputError(f"--shape must be 2 or 3 positive sizes (ny nx or nz ny nx), "
                         f"got {args.shape}")
    if args.spacing_mm is not None and len(args.spacing_mm) not in (1, len(args.shape)):
        raise InputError(f"--spacing-mm takes one value or {len(args.shape)} (one per axis), "
                         f"got {len(args.spacing_mm)}")
    with invalid_as_input_error():
        return ImageGrid.of(tuple(args.shape), args.spacing_mm), None


def matched_projections(projections, geometry, grid, path) -> np.ndarray:
    """The projections, checked against what the geometry gives on this grid."""
    with invalid_as_input_error(path):
        expected = Projector(geometry, grid).range_shape
    if projections.shape == tuple(expected[1:]) and expected[0] == 1:
        projections = projections[None]  # one sinogram for a one-slice grid
    if projections.shape != tuple(expected):
        raise InputError(f"projections of shape {projections.shape} do not match the geometry: "
                         f"{geometry!r} on a {'×'.join(map(str, grid.shape))} grid gives "
                         f"{tuple(expected)}", path)
    return projections


def _analytic(args, projections, geometry, grid) -> np.ndarray:
    from ..tomo.fbp import fbp, fdk

    if args.method == "fbp" and geometry.ndim != 2:
        raise InputError("fbp reconstructs 2D (parallel or fan) geometries; use --method fdk "
                         "for cone beams", args.geometry)
    if args.method == "fdk" and geometry.ndim != 3:
        raise InputError("fdk reconstructs cone beams; use --method fbp for 2D geometries",
                         args.geometry)
    method = fbp if args.method == "fbp" else fdk
    with invalid_as_input_error(args.input), console.status(f"{args.method.upper()}…"):
        return method(projections, geometry, grid, filter=args.filter)


def _iterative(args, projections, geometry, grid) -> np.ndarray:
    projector = Projector(geometry, grid)
    n_iter = args.iterations or DEFAULT_ITERATIONS[args.method]
    options = {"n_iter": n_iter, "progress": True}
    if args.method == "tv":
        weight = args.tv_weight
        if weight is None:
            weight = iterative.suggest_tv_weight(projector, projections)
            console.print(f"TV weight {weight:.4g} (suggested; set it with --tv-weight)")
        with invalid_as_input_error():
            result = iterative.tv_pdhg(projector, projections, weight, **options)
    elif args.method == "sart":
        n_views = geometry.n_views
        subsets = n_views if args.subsets is None else args.subsets
        with invalid_as_input_error():
            result = iterative.os_sart(projector, projections, subsets, nonneg=args.nonneg,
                                       **options)
    else:
        method = iterative.sirt if args.method == "sirt" else iterative.cgls
        result = method(projector, projections, nonneg=args.nonneg, **options)
    console.print(f"{args.method}: {result.iterations} iterations, data residual "
                  f"{result.residuals[-1]:.4g} ({result.stop_reason})")
    return result.image


def run(args) -> int:
    _check_options(args)
    output_format_of(args.output)
    check_output_outside_input(args.output, args.input)
    geometry = load_geometry(args.geometry)
    projections = load_array(args.input, "the projections")
    grid, like = reconstruction_grid(args)
    projections = matched_projections(projections, geometry, grid, args.input)
    reconstruct = _analytic if args.method in ("fbp", "fdk") else _iterative
    mu = np.asarray(reconstruct(args, projections, geometry, grid), dtype=np.float32)
    image = 1000.0 * (mu / mu_water(args) - 1.0) if args.units == "hu" else mu
    meta = {"description": f"hounsfield reconstruct --method {args.method}",
            "units": "HU" if args.units == "hu" else "1/mm"}
    if like is not None:
        volume = like.with_array(image.reshape(like.shape).astype(np.float32), meta=meta)
    else:
        volume = volume_on_grid(image.astype(np.float32), grid)
        volume.meta.update(meta)
    write(volume, args.output)
    console.print(f"wrote {args.output}  {volume!r}")
    return 0
