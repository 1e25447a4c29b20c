"""Orientation codes and exact reorientation (axis permutations and flips).

A code names, for the (column, row, slice) axes, the anatomical direction in
which each axis increases: 'LPS' is DICOM's usual axial frame, 'RAS' is
NIfTI's. Oblique scans get the nearest code; the residual rotation stays in
the Volume's direction.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

#: letter → (LPS world axis, sign)
_LETTERS = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}
_OPPOSITE = {"L": "R", "R": "L", "P": "A", "A": "P", "S": "I", "I": "S"}


def orientation_code(direction: np.ndarray) -> str:
    """Code of the (column, row, slice) axes for a Volume direction matrix.

    Each array axis gets the anatomical axis nearest to it, and no two array
    axes get the same one (for a 45° oblique, nearest-by-column could pick one
    world axis twice): the largest |cosine| is assigned first, then the
    largest among the axes left. So the code of any direction is a valid one.

    >>> from hounsfield.volume import AXIAL_LPS
    >>> orientation_code(AXIAL_LPS)
    'LPS'
    """
    direction = np.asarray(direction, dtype=float).reshape(3, 3)
    cosines = np.abs(direction)
    letters = [""] * 3
    for _ in range(3):
        world_axis, array_axis = np.unravel_index(np.argmax(cosines), cosines.shape)
        positive = direction[world_axis, array_axis] > 0
        letters[array_axis] = "LPS"[world_axis] if positive else "RAI"[world_axis]
        cosines[world_axis, :] = -1.0
        cosines[:, array_axis] = -1.0
    return "".join(reversed(letters))


def _check_code(code: str) -> str:
    if not isinstance(code, str):
        raise ValueError(f"orientation code must be a string such as 'LPS', got {code!r}")
    code = code.upper()
    worlds = sorted(_LETTERS[c][0] for c in code if c in _LETTERS)
    if len(code) != 3 or worlds != [0, 1, 2]:
        raise ValueError(f"orientation code must name each of L/R, P/A, S/I once, got {code!r}")
    return code


def reorient(volume, code: str = "LPS"):
    """Permute and flip a Volume's axes so that its orientation is ``code``.

    Voxel values are moved, never interpolated, so reorienting back gives the
    original array exactly.

    >>> import numpy as np
    >>> from hounsfield.volume import Volume
    >>> vol = Volume(np.arange(24).reshape(2, 3, 4))
    >>> ras = reorient(vol, "RAS")
    >>> ras.orientation, ras.index_to_world([0, 0, 0]).tolist()
    ('RAS', [3.0, 2.0, 0.0])
    >>> bool(np.array_equal(reorient(ras, "LPS").array, vol.array))
    True
    """
    target = _check_code(code)[::-1]  # array order (slice, row, column)
    current = volume.orientation[::-1]
    order, flips = [], []
    for letter in target:
        world_axis = _LETTERS[letter][0]
        source = next(a for a, c in enumerate(current) if _LETTERS[c][0] == world_axis)
        order.append(source)
        flips.append(current[source] == _OPPOSITE[letter])
    array = np.transpose(volume.array, order)
    direction = volume.direction[:, order].copy()
    spacing = np.asarray(volume.spacing_mm)[order]
    corner = np.zeros(3)
    for axis, flip in enumerate(flips):
        if flip:
            array = np.flip(array, axis)
            corner[order[axis]] = volume.shape[order[axis]] - 1
            direction[:, axis] *= -1
    origin = volume.index_to_world(corner)
    return replace(volume, array=np.ascontiguousarray(array), spacing_mm=tuple(spacing),
                   origin_mm=tuple(origin), direction=direction, meta=dict(volume.meta))
