"""Where an image's pixels or voxels lie in the tomography frame.

A plain array is centred on the origin (the rotation axis): pixel ``(j, i)``
of an (ny, nx) image lies at ``x = (i - (nx-1)/2) dx``, ``y = (j - (ny-1)/2) dy``,
and likewise with z for (nz, ny, nx) arrays. A :class:`~hounsfield.volume.Volume`
is placed by its own spacing, origin and direction (the tomography frame is
then its LPS world frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..volume import Volume


def _default_direction(ndim: int) -> np.ndarray:
    """Array axes (…, y, x) along world (x, y[, z]): the anti-diagonal."""
    return np.eye(ndim)[::-1].T.copy()


@dataclass(frozen=True, eq=False)
class ImageGrid:
    """Shape, spacing (array order, mm), origin (world x, y[, z] mm) and direction of an image.

    Column ``a`` of ``direction`` is the world unit vector of array axis ``a``.

    >>> grid = ImageGrid.of((3, 5), spacing_mm=2.0)
    >>> grid.index_to_world([0, 0]).tolist(), grid.index_to_world([1, 2]).tolist()
    ([-4.0, -2.0], [0.0, 0.0])
    """

    shape: tuple
    spacing_mm: tuple
    origin_mm: tuple
    direction: np.ndarray

    @classmethod
    def of(cls, image, spacing_mm=None) -> ImageGrid:
        """The grid of a Volume, or of an array (or shape) centred on the origin."""
        if isinstance(image, Volume):
            if spacing_mm is not None:
                raise ValueError("spacing_mm is taken from the Volume; do not pass it as well")
            return cls(image.shape, image.spacing_mm, image.origin_mm, image.direction)
        shape = tuple(int(n) for n in (image.shape if hasattr(image, "shape") else image))
        if len(shape) not in (2, 3):
            raise ValueError(f"image must be 2D (y, x) or 3D (z, y, x), got shape {shape}")
        spacing = np.broadcast_to(np.asarray(1.0 if spacing_mm is None else spacing_mm, float),
                                  (len(shape),))
        if not np.all(spacing > 0):
            raise ValueError(f"spacing_mm must be positive, got {spacing_mm!r}")
        direction = _default_direction(len(shape))
        centre_index = (np.asarray(shape) - 1) / 2
        origin = -direction @ (spacing * centre_index)
        return cls(shape, tuple(spacing), tuple(origin), direction)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def index_to_world_matrix(self) -> np.ndarray:
        """(ndim+1)² homogeneous matrix from array index to world mm."""
        matrix = np.eye(self.ndim + 1)
        matrix[:-1, :-1] = self.direction * np.asarray(self.spacing_mm)
        matrix[:-1, -1] = self.origin_mm
        return matrix

    @property
    def world_to_index_matrix(self) -> np.ndarray:
        return np.linalg.inv(self.index_to_world_matrix)

    def index_to_world(self, index) -> np.ndarray:
        index = np.asarray(index, dtype=float)
        return index @ (self.direction * np.asarray(self.spacing_mm)).T + np.asarray(self.origin_mm)

    def world_to_index(self, point_mm) -> np.ndarray:
        point = np.asarray(point_mm, dtype=float)
        return (point - np.asarray(self.origin_mm)) @ self.world_to_index_matrix[:-1, :-1].T

    def axial_slice(self) -> ImageGrid:
        """The 2D (y, x) grid of one axial slice of a 3D grid, for slice-by-slice 2D scans."""
        if self.ndim != 3:
            raise ValueError("axial_slice needs a 3D grid")
        if not np.allclose(np.abs(self.direction[2, 0]), 1.0, atol=1e-6):
            raise ValueError("2D scans of a 3D volume need axial slices "
                             "(the volume's slice axis along z); reorient or resample it first")
        in_plane = self.direction[:2, 1:]
        return ImageGrid(self.shape[1:], self.spacing_mm[1:], tuple(self.origin_mm[:2]), in_plane)
