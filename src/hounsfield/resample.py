"""Resampling a Volume to a spacing or onto another Volume's grid (SimpleITK).

Images are interpolated linearly and come back as float32; label maps
(Volumes with a LabelTable, or any integer array when asked for 'nearest')
use nearest-neighbour so that no new ids appear.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

_INTERPOLATIONS = ("linear", "nearest", "bspline")


def _interpolation_for(volume, interpolation: str | None) -> str:
    if interpolation is None:
        return "nearest" if volume.is_label_map else "linear"
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")
    return interpolation


def _fill_value(volume) -> float:
    """Value outside the source: background for labels, the darkest value for images."""
    if volume.is_label_map or volume.array.size == 0:
        return 0.0
    return float(np.nanmin(volume.array))


def _resample_onto(volume, size_zyx, spacing_mm, origin_mm, direction, interpolation):
    import SimpleITK as sitk

    kind = _interpolation_for(volume, interpolation)
    source = volume.to_sitk()
    if kind != "nearest":
        source = sitk.Cast(source, sitk.sitkFloat32)
    interpolator = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor,
                    "bspline": sitk.sitkBSpline}[kind]
    result = sitk.Resample(
        source,
        [int(n) for n in size_zyx[::-1]],
        sitk.Transform(),
        interpolator,
        tuple(origin_mm),
        tuple(float(s) for s in spacing_mm[::-1]),
        np.asarray(direction)[:, ::-1].flatten().tolist(),
        _fill_value(volume),
        source.GetPixelID(),
    )
    array = sitk.GetArrayFromImage(result)
    if volume.array.dtype == bool and kind == "nearest":
        array = array.astype(bool)  # to_sitk stored the mask as uint8
    return replace(volume, array=array, spacing_mm=tuple(spacing_mm), origin_mm=tuple(origin_mm),
                   direction=np.asarray(direction, dtype=float), meta=dict(volume.meta))


def resample_to_spacing(volume, spacing_mm, *, interpolation: str | None = None):
    """Resample to a voxel spacing (z, y, x) in mm, keeping direction and field of view.

    The new shape is the old extent divided by the new spacing, rounded. The
    new grid is centred on the old one (same centre of the field of view), so
    when the extent divides evenly its outer voxel edges coincide with the
    old ones; the origin (centre of voxel [0, 0, 0]) moves by half the change
    in spacing. Keeping the origin instead would shift the field of view by
    that half voxel and bias every downsampled mean.

    >>> from hounsfield.volume import Volume
    >>> vol = Volume(np.ones((10, 20, 20), np.float32), spacing_mm=(2.5, 0.5, 0.5))
    >>> out = resample_to_spacing(vol, (1.0, 1.0, 1.0))
    >>> out.shape, out.origin_mm
    ((25, 10, 10), (0.25, 0.25, -0.75))
    """
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,))
    if not np.all(spacing > 0):
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm!r}")
    old_spacing = np.asarray(volume.spacing_mm)
    extent = np.asarray(volume.shape) * old_spacing
    size = np.maximum(1, np.round(extent / spacing)).astype(int)
    shift = (np.asarray(volume.shape) - 1) * old_spacing / 2 - (size - 1) * spacing / 2
    origin = np.asarray(volume.origin_mm) + volume.direction @ shift
    return _resample_onto(volume, size, tuple(spacing), tuple(origin), volume.direction,
                          interpolation)


def resample_like(volume, reference, *, interpolation: str | None = None):
    """Resample ``volume`` onto ``reference``'s grid (shape, spacing, origin, direction).

    >>> from hounsfield.volume import Volume
    >>> a = Volume(np.ones((4, 4, 4), np.float32))
    >>> b = Volume(np.zeros((2, 2, 2)), spacing_mm=2.0)
    >>> resample_like(a, b).same_grid(b)
    True
    """
    return _resample_onto(volume, reference.shape, reference.spacing_mm, reference.origin_mm,
                          reference.direction, interpolation)
