"""`hounsfield drr CT [--view ap|pa|lateral-left|lateral-right] [--labels SEG] -o OUT`: a DRR.

Renders one cone-beam view of a CT in HU (μ = μ_water (1 + HU/1000), clipped
at 0) about the CT's centre, from a named view turned by ``--rotate-deg`` and
shifted by ``--translate-mm`` (see :mod:`hounsfield.simulate.drr` for the
pose and the image orientation). The output is chosen by its suffix:

* ``.png``: 8-bit grey levels, windowed on the 0.5–99.5th percentiles, with
  ``--log`` and ``--invert`` to shape them;
* ``.npy``: the float32 image (line integrals, or ``I/I0`` with ``--kind
  intensity``), rows superior → inferior;
* ``.nii.gz``, ``.nii``, ``.nrrd``, ``.mha``: the same values as a one-slice
  volume lying on the detector plane in world coordinates.

With ``--labels SEG`` every label of the map is projected in the same view:
its projected thickness in mm and its mask (thickness above
``--threshold-mm``) go to an ``.npz`` (arrays ``thickness_mm`` and ``masks``,
channels × rows × cols, with ``label_ids``, ``names`` and ``threshold_mm``),
and a colour overlay of the masks on the DRR to a PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import read, write
from ..io.paths import atomic_output, output_format_of
from ..simulate.drr import (
    VIEWS,
    detector_volume,
    display_image,
    drr_geometry,
    overlay_labels,
    project_labels,
    render_drr,
)
from .common import add_read_options, check_output_outside_input, console
from .tomo import invalid_as_input_error, mu_water

HELP = "render a digitally reconstructed radiograph (DRR) of a CT, and project its labels"

KINDS = {"line-integral": "line_integral", "intensity": "intensity"}
_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".png", ".npy", ".npz")


def add_arguments(parser) -> None:
    parser.add_argument("input", type=Path, help="CT in HU (DICOM, NIfTI, NRRD, MHA)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="the DRR: .png, .npy, .nii.gz (or .nii, .nrrd, .mha)")
    pose = parser.add_argument_group("pose and detector")
    pose.add_argument("--view", choices=list(VIEWS), default="ap", help="named view (default ap)")
    pose.add_argument("--rotate-deg", type=float, nargs=3, default=(0.0, 0.0, 0.0),
                      metavar=("RX", "RY", "RZ"),
                      help="turn the view about the LPS x, y, z axes through the isocentre, "
                           "degrees, x first")
    pose.add_argument("--translate-mm", type=float, nargs=3, default=(0.0, 0.0, 0.0),
                      metavar=("TX", "TY", "TZ"), help="shift source and detector, LPS mm")
    pose.add_argument("--isocenter-mm", type=float, nargs=3, metavar=("X", "Y", "Z"),
                      help="LPS point to centre the view on (default: the CT's centre)")
    pose.add_argument("--sdd-mm", type=float, default=1020.0,
                      help="source–detector distance, mm (default 1020)")
    pose.add_argument("--sod-mm", type=float, default=850.0,
                      help="source–isocentre distance, mm (default 850)")
    pose.add_argument("--detector", type=int, nargs=2, default=(512, 512),
                      metavar=("ROWS", "COLS"), help="detector pixels (default 512 512)")
    pose.add_argument("--pixel-mm", type=float, nargs="+", default=[0.78], metavar="MM",
                      help="detector pixel pitch, mm: one value or (row, col) (default 0.78)")
    pose.add_argument("--save-geometry", type=Path, metavar="JSON",
                      help="also write the view as a geometry .json (for project/reconstruct)")
    image = parser.add_argument_group("image")
    image.add_argument("--kind", choices=list(KINDS), default="line-integral",
                       help="line integrals of μ, or Beer–Lambert intensity I/I0 "
                            "(default line-integral)")
    image.add_argument("--mu-water", type=float, default=None, metavar="PER_MM",
                       help="μ of water in 1/mm for HU → μ (default 0.0194, about 70 keV)")
    image.add_argument("--log", action="store_true",
                       help="PNG: grey levels from the log of the values (for intensities)")
    image.add_argument("--invert", action="store_true",
                       help="PNG: invert the grey levels (bone white for intensities)")
    labels = parser.add_argument_group("labels")
    labels.add_argument("--labels", type=Path, metavar="SEG",
                        help="label map to project (NIfTI, NRRD, MHA; any grid)")
    labels.add_argument("--label-names", nargs="+", metavar="NAME",
                        help="project only these labels, in this order (default: all)")
    labels.add_argument("--threshold-mm", type=float, default=1.0,
                        help="projected thickness above which a pixel is in a label's mask "
                             "(default 1 mm)")
    labels.add_argument("--label-output", type=Path, metavar="NPZ",
                        help="thickness and masks .npz (default: OUT-labels.npz)")
    labels.add_argument("--overlay", type=Path, metavar="PNG",
                        help="colour overlay of the masks (default: OUT-labels.png)")
    add_read_options(parser)


def run(args) -> int:
    output_kind = _output_kind(args.output)
    if (args.log or args.invert) and output_kind != "png":
        raise InputError("--log and --invert shape a PNG's grey levels; .npy and volume outputs "
                         "hold the rendered values", args.output)
    label_paths = _label_paths(args) if args.labels is not None else None
    for path in [args.output, *(label_paths or ())]:
        check_output_outside_input(path, args.input)
    ct = read(args.input, series=args.series, allow_modality=args.allow_modality,
              need_3d=True, progress=True)
    with invalid_as_input_error():
        geometry = drr_geometry(ct, args.view, rotate_deg=args.rotate_deg,
                                translate_mm=args.translate_mm, sdd_mm=args.sdd_mm,
                                sod_mm=args.sod_mm, detector_shape=tuple(args.detector),
                                pixel_spacing_mm=_pitch(args.pixel_mm),
                                isocenter_mm=args.isocenter_mm)
    labels = _read_labels(args) if label_paths is not None else None
    with console.status(f"rendering a {'×'.join(map(str, geometry.det_shape))} DRR"):
        image = render_drr(ct, geometry, output=KINDS[args.kind], mu_water_per_mm=mu_water(args))
    grey = display_image(image, log=args.log, invert=args.invert)
    _write_image(args.output, output_kind, image, grey, geometry)
    console.print(f"wrote {args.output}  {args.view} DRR {image.shape[0]}×{image.shape[1]} "
                  f"({args.kind}: {float(image.min()):.4g} to {float(image.max()):.4g})")
    if args.save_geometry is not None:
        geometry.save(args.save_geometry)
        console.print(f"wrote {args.save_geometry}  {geometry!r}")
    if labels is not None:
        _project_labels(args, labels, geometry, grey, label_paths)
    return 0


# -- labels ---------------------------------------------------------------------------------------


def _label_paths(args) -> tuple[Path, Path]:
    stem = _stem(args.output)
    npz = args.label_output or stem.with_name(stem.name + "-labels.npz")
    overlay = args.overlay or stem.with_name(stem.name + "-labels.png")
    if npz.suffix.lower() != ".npz":
        raise InputError("label thickness and masks are written as .npz", npz)
    if overlay.suffix.lower() != ".png":
        raise InputError("the label overlay is written as .png", overlay)
    if not args.threshold_mm >= 0:
        raise InputError(f"--threshold-mm must be a number of mm >= 0, got {args.threshold_mm}")
    if overlay.resolve() == args.output.resolve():
        raise InputError("the label overlay would overwrite the DRR; choose --overlay", overlay)
    return npz, overlay


def _read_labels(args):
    labels = read(args.labels, labels=True, need_3d=True)
    if len(labels.labels) == 0:
        raise InputError("the label map holds no label (only background)", args.labels)
    if args.label_names:
        missing = [name for name in args.label_names if name not in labels.labels]
        if missing:
            raise InputError(f"no label named {', '.join(missing)} in this map (it has "
                             f"{', '.join(labels.labels.names[:6])}"
                             f"{', ...' if len(labels.labels) > 6 else ''})", args.labels)
    return labels


def _project_labels(args, labels, geometry, grey, paths) -> None:
    npz, overlay_path = paths
    with invalid_as_input_error(args.labels), console.status("projecting labels"):
        projection = project_labels(labels, geometry, names=args.label_names,
                                    threshold_mm=args.threshold_mm)
    with atomic_output(npz) as tmp:
        with open(tmp, "wb") as file:
            np.savez_compressed(file, thickness_mm=projection.thickness_mm,
                                masks=projection.masks, label_ids=np.array(projection.label_ids),
                                names=np.array(projection.names),
                                threshold_mm=np.float32(projection.threshold_mm))
    _write_png(overlay_path, overlay_labels(grey, projection))
    seen = int(np.count_nonzero(projection.masks.any(axis=(1, 2))))
    console.print(f"wrote {npz}  thickness and masks of {len(projection.names)} labels "
                  f"({seen} visible above {projection.threshold_mm:g} mm)")
    console.print(f"wrote {overlay_path}  label overlay")


# -- output ---------------------------------------------------------------------------------------


def _output_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".png"):
        return "png"
    if name.endswith(".npy"):
        return "npy"
    try:
        output_format_of(path)
    except InputError:
        raise InputError("write the DRR as .png, .npy, .nii.gz, .nii, .nrrd or .mha",
                         path) from None
    return "volume"


def _write_image(path: Path, kind: str, image, grey, geometry) -> None:
    if kind == "png":
        _write_png(path, grey)
    elif kind == "npy":
        with atomic_output(path) as tmp:
            np.save(tmp, image)
    else:
        write(detector_volume(image, geometry), path)


def _write_png(path: Path, picture) -> None:
    """An 8-bit PNG of grey levels in [0, 1] (rows, cols) or RGB uint8 (rows, cols, 3)."""
    from matplotlib.image import imsave

    with atomic_output(path) as tmp:
        if picture.ndim == 2:
            imsave(tmp, picture, cmap="gray", vmin=0.0, vmax=1.0, format="png")
        else:
            imsave(tmp, picture, format="png")


def _stem(path: Path) -> Path:
    name = path.name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)])
    return path


def _pitch(values) -> float | tuple[float, float]:
    if len(values) not in (1, 2):
        raise InputError(f"--pixel-mm takes one value or two (row, col), got {len(values)}")
    return values[0] if len(values) == 1 else (values[0], values[1])
