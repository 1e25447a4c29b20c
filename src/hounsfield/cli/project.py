"""`hounsfield project CT --geometry g.json -o sino.npy`: simulate projections of a CT or array.

A CT read from DICOM, NIfTI, NRRD or MetaImage holds HU; it is converted to
attenuation ``μ = μ_water (1 + HU/1000)`` (clipped at 0) and placed at its
world position (or centred with ``--centre``). A .npy array is taken as μ in
1/mm, centred on the rotation axis with ``--spacing-mm`` pixels. A 2D
geometry projects a 3D volume slice by slice: (slices, views, detectors).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import read
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
    save_array,
)

HELP = "simulate projections (line integrals of μ) of a CT or .npy image through a geometry"


def add_arguments(parser) -> None:
    parser.add_argument("input", type=Path,
                        help="CT (DICOM, NIfTI, NRRD, MHA; HU) or .npy 2D/3D array (μ in 1/mm)")
    parser.add_argument("--geometry", type=Path, required=True,
                        help="geometry .json (from 'hounsfield geometry')")
    parser.add_argument("-o", "--output", type=Path, required=True, help="projections .npy")
    parser.add_argument("--spacing-mm", type=float, nargs="+", metavar="MM",
                        help=".npy input: pixel size, one value or one per axis (default 1)")
    add_placement_options(parser)
    add_read_options(parser)


def _image_and_grid(args) -> tuple[np.ndarray, ImageGrid]:
    """μ (1/mm) and its grid, from a .npy array or a CT in HU."""
    if args.input.suffix.lower() == ".npy":
        image = load_array(args.input, "the image")
        if args.spacing_mm is not None and len(args.spacing_mm) not in (1, image.ndim):
            raise InputError(f"--spacing-mm takes one value or {image.ndim} (one per axis), "
                             f"got {len(args.spacing_mm)}")
        with invalid_as_input_error():
            return image, ImageGrid.of(image.shape, args.spacing_mm)
    if args.spacing_mm is not None:
        raise InputError("--spacing-mm is for .npy arrays; a CT carries its own spacing")
    volume = read(args.input, series=args.series, allow_modality=args.allow_modality,
                  progress=True)
    mu = np.clip(mu_water(args) * (1.0 + volume.array / 1000.0), 0.0, None)
    return mu.astype(np.float32), placed_grid(volume, args.centre)


def run(args) -> int:
    check_output_outside_input(args.output, args.input)
    if args.output.suffix.lower() != ".npy":
        raise InputError("projections are written as .npy", args.output)
    geometry = load_geometry(args.geometry)
    image, grid = _image_and_grid(args)
    with invalid_as_input_error(args.input):
        projector = Projector(geometry, grid)
    with console.status(f"projecting {'×'.join(map(str, image.shape))} through {geometry!r}"):
        projections = projector.forward(image)
    save_array(args.output, projections)
    console.print(f"wrote {args.output}  projections {'×'.join(map(str, projections.shape))}, "
                  f"max line integral {float(projections.max()):.4g}")
    return 0
