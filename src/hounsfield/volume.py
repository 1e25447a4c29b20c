"""The one image type of hounsfield: voxels with their true geometry.

Conventions (see DESIGN.md):

* ``array`` is indexed ``(z, y, x)`` — slice, row, column — as SimpleITK's
  ``GetArrayFromImage`` returns it.
* Everything that is per array axis is given in that same order:
  ``shape``, ``spacing_mm`` and the columns of ``direction``.
* World coordinates are DICOM patient coordinates, LPS, in millimetres, and
  world points are ``(x, y, z)``.
* ``origin_mm`` is the world position of the centre of voxel ``[0, 0, 0]``.

So a voxel index ``(k, j, i)`` lies at
``origin_mm + direction @ (spacing_mm * (k, j, i))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .labels import LabelTable

__all__ = ["Volume", "LabelTable", "AXIAL_LPS"]

#: Direction of an axial scan in LPS: slices go toward S, rows toward P, columns toward L.
AXIAL_LPS = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def _as_triple(value, name: str) -> tuple[float, float, float]:
    try:
        triple = tuple(float(v) for v in np.broadcast_to(np.asarray(value, dtype=float), (3,)))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be one or three finite numbers, got {value!r}") from None
    if not all(np.isfinite(triple)):
        raise ValueError(f"{name} must be three finite numbers, got {value!r}")
    return triple  # type: ignore[return-value]


@dataclass(eq=False)
class Volume:
    """Voxels indexed (z, y, x) with spacing, origin and direction.

    Parameters
    ----------
    array : ndarray, 3D
        Voxel values, indexed (z, y, x). CT images hold HU as float32; label
        maps hold integer ids.
    spacing_mm : 3 floats
        Voxel size along array axes (z, y, x), in mm.
    origin_mm : 3 floats
        LPS world position (x, y, z), in mm, of the centre of voxel [0, 0, 0].
    direction : (3, 3) array
        Column ``a`` is the LPS unit vector along array axis ``a``. The
        default is an axial scan (:data:`AXIAL_LPS`).
    labels : LabelTable, optional
        For label maps: id → name and colour.
    meta : dict
        Facts about the source (modality, series description, warnings).
        Patient identifiers are kept only under ``meta["phi"]``, which is
        never printed or written unless the user asks for it.

    Examples
    --------
    >>> vol = Volume(np.zeros((2, 3, 4), np.float32), spacing_mm=(2.5, 0.7, 0.7))
    >>> vol.index_to_world([1, 0, 0]).tolist()
    [0.0, 0.0, 2.5]
    >>> vol.orientation
    'LPS'
    """

    array: np.ndarray
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: AXIAL_LPS.copy())
    labels: LabelTable | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.array = np.asarray(self.array)
        if self.array.ndim != 3:
            raise ValueError(f"array must be 3D (z, y, x), got shape {self.array.shape}")
        self.spacing_mm = _as_triple(self.spacing_mm, "spacing_mm")
        if min(self.spacing_mm) <= 0:
            raise ValueError(f"spacing_mm must be positive, got {self.spacing_mm}")
        self.origin_mm = _as_triple(self.origin_mm, "origin_mm")
        direction = np.array(self.direction, dtype=float)  # a copy: never shared
        if direction.size != 9:
            raise ValueError(f"direction must be a 3×3 matrix, got shape {direction.shape}")
        direction = direction.reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
            raise ValueError(f"direction must be orthonormal, got {direction.tolist()}")
        self.direction = direction

    # -- geometry -------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.array.shape  # type: ignore[return-value]

    @property
    def affine(self) -> np.ndarray:
        """4×4 matrix mapping a homogeneous index (k, j, i, 1) to LPS (x, y, z, 1) mm."""
        affine = np.eye(4)
        affine[:3, :3] = self.direction * np.asarray(self.spacing_mm)
        affine[:3, 3] = self.origin_mm
        return affine

    def index_to_world(self, index) -> np.ndarray:
        """LPS mm (x, y, z) of (fractional) voxel indices (z, y, x); shape (..., 3)."""
        index = np.asarray(index, dtype=float)
        return index @ (self.direction * np.asarray(self.spacing_mm)).T + np.asarray(self.origin_mm)

    def world_to_index(self, point_mm) -> np.ndarray:
        """Fractional voxel indices (z, y, x) of LPS points (x, y, z) mm; shape (..., 3)."""
        offset = np.asarray(point_mm, dtype=float) - np.asarray(self.origin_mm)
        # The exact inverse of index_to_world: direction is only orthonormal to
        # 1e-4 (values read from files), so its transpose is not quite its inverse.
        inverse = np.linalg.inv(self.direction * np.asarray(self.spacing_mm))
        return offset @ inverse.T

    @property
    def orientation(self) -> str:
        """Anatomical code of the (column, row, slice) axes, e.g. 'LPS' or 'RAS'."""
        from .orient import orientation_code

        return orientation_code(self.direction)

    @property
    def extent_mm(self) -> tuple[float, float, float]:
        """Size along array axes (z, y, x) in mm, voxel edge to voxel edge."""
        return tuple(n * s for n, s in zip(self.shape, self.spacing_mm, strict=True))  # type: ignore[return-value]

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing_mm)) / 1000.0

    def same_grid(self, other: Volume, tol_mm: float = 1e-4) -> bool:
        """True when both volumes have the same shape and voxel centres (within tol_mm).

        The eight corner voxels are compared: the grids are affine, so every
        voxel centre then agrees within tol_mm.
        """
        if self.shape != other.shape:
            return False
        corners = np.array(np.meshgrid(*[[0, n - 1] for n in self.shape])).reshape(3, -1).T
        distance = np.linalg.norm(self.index_to_world(corners) - other.index_to_world(corners),
                                  axis=1)
        return bool(np.all(distance <= tol_mm))

    @property
    def is_label_map(self) -> bool:
        """True when the volume carries a LabelTable."""
        return self.labels is not None

    # -- derived volumes --------------------------------------------------------

    def with_array(self, array: np.ndarray, **changes) -> Volume:
        """A new Volume with the same geometry and another array of the same shape."""
        array = np.asarray(array)
        if array.shape != self.shape:
            raise ValueError(f"array shape {array.shape} differs from the volume's {self.shape}")
        changes.setdefault("meta", dict(self.meta))
        return replace(self, array=array, **changes)

    def crop(self, lower, upper) -> Volume:
        """The sub-volume ``array[lower:upper]`` (array-order bounds), geometry kept exact."""
        lower = np.clip(np.asarray(lower, dtype=int), 0, self.shape)
        upper = np.clip(np.asarray(upper, dtype=int), lower, self.shape)
        box = tuple(slice(a, b) for a, b in zip(lower, upper, strict=True))
        origin = self.index_to_world(lower)
        return replace(self, array=self.array[box].copy(), origin_mm=tuple(origin),
                       meta=dict(self.meta))

    def crop_to_mask(self, mask: np.ndarray, margin_mm: float = 0.0) -> Volume:
        """Crop to the bounding box of a non-empty mask, grown by margin_mm on every side.

        >>> vol = Volume(np.zeros((10, 10, 10)))
        >>> mask = np.zeros((10, 10, 10), bool); mask[4:6, 4:6, 4:6] = True
        >>> vol.crop_to_mask(mask, margin_mm=1).shape
        (4, 4, 4)
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.shape:
            raise ValueError(f"mask shape {mask.shape} differs from the volume's {self.shape}")
        if not mask.any():
            raise ValueError("cannot crop to an empty mask")
        if not (np.isfinite(margin_mm) and margin_mm >= 0):
            raise ValueError(f"margin_mm must be a finite number >= 0, got {margin_mm!r}")
        nonzero = np.nonzero(mask)
        margin = np.ceil(float(margin_mm) / np.asarray(self.spacing_mm) - 1e-9).astype(int)
        lower = np.array([ax.min() for ax in nonzero]) - margin
        upper = np.array([ax.max() + 1 for ax in nonzero]) + margin
        return self.crop(lower, upper)

    def resample(self, spacing_mm, *, interpolation: str | None = None) -> Volume:
        """Resample to a new voxel spacing (z, y, x) mm.

        See :func:`hounsfield.resample.resample_to_spacing`.
        """
        from .resample import resample_to_spacing

        return resample_to_spacing(self, spacing_mm, interpolation=interpolation)

    def resample_like(self, reference: Volume, *, interpolation: str | None = None) -> Volume:
        """Resample onto another Volume's grid; see :func:`hounsfield.resample.resample_like`."""
        from .resample import resample_like

        return resample_like(self, reference, interpolation=interpolation)

    def reorient(self, code: str = "LPS") -> Volume:
        """Permute and flip axes (exactly, no interpolation) to an orientation code."""
        from .orient import reorient

        return reorient(self, code)

    def window(self, window="mediastinum") -> np.ndarray:
        """Display values in [0, 1] for a window preset or a (level, width) pair in HU."""
        from .window import apply_window

        return apply_window(self.array, window)

    # -- SimpleITK ----------------------------------------------------------------

    def to_sitk(self):
        """This volume as a SimpleITK image (same voxels, same geometry).

        SimpleITK index (i, j, k) is this volume's array index (z, y, x)
        reversed. Boolean arrays become uint8, float16 becomes float32.
        """
        import SimpleITK as sitk

        array = self.array
        if array.dtype == bool:  # SimpleITK has no boolean pixel type
            array = array.astype(np.uint8)
        elif array.dtype == np.float16:
            array = array.astype(np.float32)
        elif not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(self.spacing_mm[::-1])
        image.SetOrigin(self.origin_mm)
        image.SetDirection(self.direction[:, ::-1].flatten().tolist())
        return image

    @classmethod
    def from_sitk(cls, image, **kwargs) -> Volume:
        """A Volume from a 3D SimpleITK image."""
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise ValueError(f"expected a 3D image, got {image.GetDimension()}D")
        direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)[:, ::-1]
        return cls(sitk.GetArrayFromImage(image), spacing_mm=image.GetSpacing()[::-1],
                   origin_mm=image.GetOrigin(), direction=direction, **kwargs)

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:g}" for s in self.spacing_mm)
        kind = f", labels={len(self.labels)}" if self.labels is not None else ""
        return (f"Volume(shape={self.shape}, spacing_mm=({spacing}), "
                f"orientation={self.orientation!r}, dtype={self.array.dtype}{kind})")
