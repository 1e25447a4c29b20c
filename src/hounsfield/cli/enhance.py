"""`hounsfield enhance INPUT --model NAME_OR_PATH -o OUT`: remove NICT artefacts with a network.

INPUT is a degraded CT (DICOM, NIfTI, NRRD, MHA) — enhanced slice by slice
on its own grid — or a .npy of 2D line integrals (slices, views, columns)
with ``--geometry`` and ``--like CT`` or ``--shape``: reconstructed by FBP
with the filter of the network's training scans, then enhanced. The model is
a shipped one (``sparse60``: 60-view fan-beam scans) or a ``.safetensors``
file that ``hounsfield learn train`` wrote. A consistency cascade (sparse60
is one) runs whole on line integrals; on a CT it runs its first network
only, and says so. Needs the ``learn`` extra.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import read, write
from ..io.paths import output_format_of
from .common import add_read_options, check_output_outside_input, console
from .reconstruct import matched_projections, reconstruction_grid
from .tomo import load_array, load_geometry, volume_on_grid

HELP = "enhance a sparse-view, limited-angle or low-dose CT (or sinogram) with a trained network"


def add_arguments(parser) -> None:
    parser.add_argument("input", type=Path,
                        help="degraded CT (DICOM, NIfTI, NRRD, MHA) or line integrals (.npy)")
    parser.add_argument("--model", default="sparse60",
                        help="a shipped model's name or a .safetensors file (default sparse60)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="enhanced CT: .nii.gz, .nii, .nrrd or .mha")
    parser.add_argument("--batch", type=int, default=1,
                        help="slices per network pass (default 1: the fastest on CPUs)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--no-amp", action="store_true",
                        help="float32 throughout (default: bfloat16 on CUDA and on CPUs with "
                             "native bfloat16)")
    sinogram = parser.add_argument_group("line-integral input (.npy)")
    sinogram.add_argument("--geometry", type=Path, help="geometry .json of the scan")
    grid = sinogram.add_mutually_exclusive_group()
    grid.add_argument("--shape", type=int, nargs="+", metavar="N",
                      help="image shape (ny nx) or (nz ny nx), centred on the rotation axis")
    grid.add_argument("--like", type=Path, metavar="CT", help="reconstruct on this CT's grid")
    sinogram.add_argument("--spacing-mm", type=float, nargs="+", metavar="MM",
                          help="with --shape: pixel size, one value or one per axis")
    sinogram.add_argument("--centre", action="store_true",
                          help="with --like: place the CT's centre on the rotation axis")
    add_read_options(parser)


def _model(args):
    import torch

    from ..learn.checkpoints import load_model

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {args.device}: PyTorch sees no CUDA device")
    if args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")
    return load_model(args.model, device=args.device)


def _enhanced_sinogram(args, model):
    from ..learn.inference import enhance_sinogram

    if args.geometry is None or (args.shape is None and args.like is None):
        raise InputError("line integrals need --geometry and --like CT or --shape", args.input)
    geometry = load_geometry(args.geometry)
    if geometry.ndim != 2:
        raise InputError("enhance reconstructs 2D (fan or parallel) scans slice by slice; "
                         "give it the reconstructed CT instead", args.geometry)
    grid, like = reconstruction_grid(args)
    projections = matched_projections(load_array(args.input, "the projections"), geometry,
                                      grid, args.input)
    slices = enhance_sinogram(projections, geometry, grid, model, batch_size=args.batch,
                              amp=not args.no_amp, progress=True)
    if like is not None:
        return like.with_array(slices.reshape(like.shape))
    return volume_on_grid(slices.reshape(grid.shape).astype(np.float32), grid)


def _enhanced_ct(args, model):
    from ..learn.cascade import ConsistencyCascade
    from ..learn.inference import enhance

    if isinstance(model.network, ConsistencyCascade):
        console.print("note: a CT alone gets the cascade's first network; its consistency step "
                      "and second network need the line integrals (.npy with --geometry)")
    ct = read(args.input, series=args.series, allow_modality=args.allow_modality,
              progress=True)
    return enhance(ct, model, batch_size=args.batch, amp=not args.no_amp, progress=True)


def run(args) -> int:
    output_format_of(args.output)
    check_output_outside_input(args.output, args.input)
    model = _model(args)
    started = time.perf_counter()
    is_sinogram = args.input.suffix == ".npy"
    volume = (_enhanced_sinogram if is_sinogram else _enhanced_ct)(args, model)
    volume.meta.update(description=f"hounsfield enhance --model {args.model}", units="HU")
    write(volume, args.output)
    seconds = time.perf_counter() - started
    console.print(f"wrote {args.output}  {volume!r}  ({seconds:.1f} s, "
                  f"{seconds / volume.shape[0]:.2f} s per slice)")
    return 0
