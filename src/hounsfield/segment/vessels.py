"""Lung vessels: a multi-scale Hessian (Frangi) vesselness, thresholded inside the lungs.

The Hessian of the image smoothed by a Gaussian of ``sigma_mm`` is computed
with separable kernels in millimetres (per axis ``sigma_mm / spacing``), so
slices 2.5 mm apart and pixels of 0.7 mm see the same physical scale. Each
entry is multiplied by ``sigma_mm²`` (scale normalisation: a tube's response
at its best scale does not depend on its radius). The image is filtered in
slabs of slices padded by the kernels' reach, and the eigenvalues are found
in closed form on the voxels of the mask only, a chunk at a time: the
scratch memory stays bounded whatever the volume.

Frangi's measure (Frangi et al., MICCAI 1998), eigenvalues ordered
``|λ1| <= |λ2| <= |λ3|``: zero unless ``λ2`` and ``λ3`` have the sign of a
bright (or dark) tube, else

    (1 - exp(-Ra² / 2α²)) · exp(-Rb² / 2β²) · (1 - exp(-S² / 2c²))

with ``Ra = |λ2| / |λ3|`` (plate against line), ``Rb = |λ1| / sqrt(|λ2 λ3|)``
(blob against line) and ``S`` the Hessian's Frobenius norm (structure against
noise). The multi-scale response is the maximum over the scales.

Blob suppression works at a blob's centre only: off its centre, where the
radial curvature fades while the two tangential ones stay strong, a sphere
looks locally like a tube and responds (a shell around its centre).
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

from ..volume import Volume
from ._morphology import bounding_box, dilate_mm

__all__ = ["vesselness", "segment_lung_vessels", "hessian_eigenvalues"]

#: Voxels whose eigenvalues are found in one vectorised step (bounds the float64 scratch).
_CHUNK_VOXELS = 1 << 19
#: Voxels of a slab of slices filtered at once (bounds the float32 scratch images).
_SLAB_VOXELS = 1 << 23
#: Gaussian kernels reach this many standard deviations.
_TRUNCATE_SD = 3.5


# -- kernels and Hessian ------------------------------------------------------------


def _kernel_1d(sigma_vox: float, order: int) -> np.ndarray:
    """Sampled Gaussian (derivative) kernel for ``ndimage.correlate1d``, exact on quadratics.

    A sampled Gaussian derivative of small sigma does not sum to zero and would
    give a curvature to a constant image; the kernels are corrected so that
    order 0 preserves constants, order 1 gives slope 1 on ``x`` and order 2
    gives 0 on constants and 2 on ``x²``.
    """
    radius = max(int(_TRUNCATE_SD * sigma_vox + 0.5), 1)
    x = np.arange(-radius, radius + 1, dtype=float)
    gauss = np.exp(-0.5 * (x / sigma_vox) ** 2)
    gauss /= gauss.sum()
    if order == 0:
        return gauss
    if order == 1:
        kernel = x * gauss
        return kernel / (kernel * x).sum()
    kernel = (x**2 / sigma_vox**4 - 1.0 / sigma_vox**2) * gauss
    kernel -= kernel.sum() * gauss
    return kernel * (2.0 / (kernel * x**2).sum())


def _filtered(image: np.ndarray, axis: int, sigma_vox: float, order: int) -> np.ndarray:
    return ndimage.correlate1d(image, _kernel_1d(sigma_vox, order), axis=axis, mode="nearest")


#: Derivative orders (z, y, x) of the six Hessian entries, in the order zz, yy, xx, zy, zx, yx.
_HESSIAN_ORDERS = ((2, 0, 0), (0, 2, 0), (0, 0, 2), (1, 1, 0), (1, 0, 1), (0, 1, 1))


def _hessian_at(image: np.ndarray, where: np.ndarray, sigma_mm: float,
                spacing_mm) -> np.ndarray:
    """Scale-normalised Hessian entries (zz, yy, xx, zy, zx, yx) at the voxels ``where``.

    Returns a float32 array of shape (n, 6), in HU (second derivatives in
    HU/mm² times ``sigma_mm²``). The z-filtered images are shared by the six
    entries; each entry is kept at ``where`` only, so the full-size scratch is a
    few images whatever the number of voxels asked for.
    """
    sigmas = [sigma_mm / s for s in spacing_mm]
    along_z = {order: _filtered(image, 0, sigmas[0], order) for order in (0, 1, 2)}
    entries = np.empty((int(np.count_nonzero(where)), 6), dtype=np.float32)
    for column, (oz, oy, ox) in enumerate(_HESSIAN_ORDERS):
        entry = _filtered(_filtered(along_z[oz], 1, sigmas[1], oy), 2, sigmas[2], ox)
        unit_mm2 = spacing_mm[0] ** oz * spacing_mm[1] ** oy * spacing_mm[2] ** ox
        entries[:, column] = entry[where] * (sigma_mm**2 / unit_mm2)
    return entries


def hessian_eigenvalues(entries: np.ndarray) -> np.ndarray:
    """Eigenvalues of symmetric 3×3 matrices, closed form, sorted by increasing magnitude.

    Parameters
    ----------
    entries : (n, 6) array
        Matrix entries in the order (a00, a11, a22, a01, a02, a12).

    Returns
    -------
    (n, 3) float64 array
        ``λ1, λ2, λ3`` with ``|λ1| <= |λ2| <= |λ3|``.

    Examples
    --------
    >>> hessian_eigenvalues(np.array([[-2.0, 1.0, -3.0, 0.0, 0.0, 0.0]])).round(6).tolist()
    [[1.0, -2.0, -3.0]]
    """
    a = np.asarray(entries, dtype=float)
    mean = a[:, :3].sum(axis=1) / 3.0
    d0, d1, d2 = (a[:, i] - mean for i in range(3))
    off = a[:, 3] ** 2 + a[:, 4] ** 2 + a[:, 5] ** 2
    p = np.sqrt((d0**2 + d1**2 + d2**2 + 2.0 * off) / 6.0)
    safe_p = np.where(p > 0, p, 1.0)
    # det((A - mean I) / p) / 2 = cos(3φ) of the trigonometric solution of the cubic.
    det = (d0 * (d1 * d2 - a[:, 5] ** 2) - a[:, 3] * (a[:, 3] * d2 - a[:, 5] * a[:, 4])
           + a[:, 4] * (a[:, 3] * a[:, 5] - d1 * a[:, 4]))
    phi = np.arccos(np.clip(det / (2.0 * safe_p**3), -1.0, 1.0)) / 3.0
    largest = mean + 2.0 * p * np.cos(phi)
    smallest = mean + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)
    values = np.stack([largest, 3.0 * mean - largest - smallest, smallest], axis=1)
    order = np.argsort(np.abs(values), axis=1)
    return np.take_along_axis(values, order, axis=1)


# -- Frangi measure -------------------------------------------------------------------


def _frangi_factors(eigenvalues: np.ndarray, bright: bool, alpha: float,
                    beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(shape factor, Hessian norm S) of eigenvalues sorted by magnitude (n, 3), float32.

    Frangi's vesselness is ``shape * (1 - exp(-S² / 2c²))``; the shape factor
    is zero where ``λ2`` or ``λ3`` has the sign of the wrong polarity.
    """
    lam1, lam2, lam3 = eigenvalues.T
    tube_sign = (lam2 < 0) & (lam3 < 0) if bright else (lam2 > 0) & (lam3 > 0)
    abs2, abs3 = np.abs(lam2), np.maximum(np.abs(lam3), 1e-12)
    plate = (abs2 / abs3) ** 2
    blob = lam1**2 / np.maximum(abs2 * abs3, 1e-12)
    shape = (1.0 - np.exp(-plate / (2.0 * alpha**2))) * np.exp(-blob / (2.0 * beta**2))
    norm = np.sqrt((eigenvalues**2).sum(axis=1))
    return np.where(tube_sign, shape, 0.0).astype(np.float32), norm.astype(np.float32)


def _structured(shape: np.ndarray, norm: np.ndarray, structureness_hu: float) -> np.ndarray:
    return shape * (1.0 - np.exp(-(norm**2) / (2.0 * structureness_hu**2))).astype(np.float32)


def _factors_at_scale(entries: np.ndarray, bright, alpha, beta):
    """Frangi factors of Hessian entries (n, 6), a chunk of voxels at a time."""
    parts = [_frangi_factors(hessian_eigenvalues(entries[i:i + _CHUNK_VOXELS]), bright,
                             alpha, beta) for i in range(0, len(entries), _CHUNK_VOXELS)]
    if not parts:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _slabs(depth: int, width: int, margin: int):
    """(core, padded) slices along axis 0: cores of ``width`` slices, padded by ``margin``."""
    for start in range(0, depth, width):
        stop = min(start + width, depth)
        yield slice(start, stop), slice(max(start - margin, 0), min(stop + margin, depth))


# -- validation -----------------------------------------------------------------------


def _checked_sigmas(sigmas_mm) -> tuple[float, ...]:
    try:
        sigmas = tuple(float(s) for s in np.atleast_1d(np.asarray(sigmas_mm, dtype=float)))
    except (TypeError, ValueError):
        sigmas = ()
    if not sigmas or not all(np.isfinite(s) and s > 0 for s in sigmas):
        raise ValueError(f"sigmas_mm must be one or more positive finite scales in mm, "
                         f"got {sigmas_mm!r}")
    return sigmas


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _checked_positive(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if not _is_real(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _checked_mask(mask, shape, name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"{name} must have the CT's shape {tuple(shape)}, got {mask.shape}")
    return mask.astype(bool, copy=False)


def _checked_ct(ct) -> Volume:
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a hounsfield Volume, got {type(ct).__name__}")
    return ct


# -- public API -----------------------------------------------------------------------


def vesselness(ct: Volume, *, sigmas_mm=(1.0, 2.0, 3.0), mask: np.ndarray | None = None,
               bright: bool = True, alpha: float = 0.5, beta: float = 0.5,
               structureness_hu: float | None = 50.0) -> np.ndarray:
    """Multi-scale Frangi vesselness of a CT, with its true anisotropic spacing.

    Parameters
    ----------
    ct : Volume
        CT in HU (any real dtype; computed in float32).
    sigmas_mm : float or sequence of float
        Gaussian scales in mm; a tube of radius ``r`` mm answers best near
        ``sigma_mm ≈ r / √2``.
    mask : numpy.ndarray of bool, optional
        Voxels where the response is wanted; the image is filtered only in
        the mask's bounding box (widened by the kernels' reach). Default: all.
    bright : bool
        True for tubes brighter than their surroundings (vessels in lung),
        False for dark ones (airways).
    alpha, beta : float
        Frangi's sensitivities to the plate measure ``Ra`` and the blob
        measure ``Rb`` (0.5 in the original paper).
    structureness_hu : float or None
        Frangi's ``c`` (HU, in scale-normalised units): Hessian norms well
        below it count as noise. A tube of contrast ``C`` HU has a norm of
        about ``C / 3`` at its best scale, so the default 50 HU keeps the
        vessels of the lungs (contrast near 900 HU) and drops noise of a few
        tens of HU. None: half the largest norm in the mask at each scale
        (the paper's choice, which depends on the image's content).

    Returns
    -------
    numpy.ndarray
        float32 of ``ct.shape`` in [0, 1]; 0 outside ``mask``.

    Examples
    --------
    >>> z, y, x = np.mgrid[:12, :15, :15]
    >>> tube = np.where((y - 7) ** 2 + (x - 7) ** 2 <= 4, 40.0, -850.0)
    >>> response = vesselness(Volume(tube.astype(np.float32)), sigmas_mm=(1.5,))
    >>> bool(response[6, 7, 7] > 0.5 > response[6, 7, 12])
    True
    """
    ct = _checked_ct(ct)
    sigmas = _checked_sigmas(sigmas_mm)
    alpha, beta = _checked_positive(alpha, "alpha"), _checked_positive(beta, "beta")
    structureness_hu = _checked_positive(structureness_hu, "structureness_hu", allow_none=True)
    mask = (np.ones(ct.shape, dtype=bool) if mask is None
            else _checked_mask(mask, ct.shape, "mask"))
    response = np.zeros(ct.shape, dtype=np.float32)
    if not mask.any():
        return response
    reach = tuple(max(int(_TRUNCATE_SD * max(sigmas) / s + 0.5), 1) + 1 for s in ct.spacing_mm)
    box = bounding_box(mask, reach)
    image, where = ct.array[box], mask[box]
    # Slabs of slices bound the scratch memory; each is padded by the kernels' reach, so its
    # core voxels get exactly the values of one pass over the whole box.
    width = max(_SLAB_VOXELS // (where.shape[1] * where.shape[2]), 1)
    factors = [[] for _ in sigmas]  # per scale: (shape, norm) of each slab
    for core, padded in _slabs(where.shape[0], width, reach[0]):
        slab = np.asarray(image[padded], dtype=np.float32)
        inside = np.zeros(slab.shape, dtype=bool)
        inside[core.start - padded.start:core.stop - padded.start] = where[core]
        for per_scale, sigma in zip(factors, sigmas, strict=True):
            entries = _hessian_at(slab, inside, sigma, ct.spacing_mm)
            per_scale.append(_factors_at_scale(entries, bright, alpha, beta))
    best = np.zeros(int(np.count_nonzero(where)), dtype=np.float32)
    for per_scale in factors:
        shape = np.concatenate([f[0] for f in per_scale])
        norm = np.concatenate([f[1] for f in per_scale])
        if structureness_hu is None:  # Frangi's choice: half the largest norm at this scale
            c_hu = float(norm.max(initial=0.0)) / 2.0 or 1.0
        else:
            c_hu = structureness_hu
        np.maximum(best, _structured(shape, norm, c_hu), out=best)
    response[box][where] = best
    return response


def segment_lung_vessels(ct: Volume, lungs: np.ndarray, *, sigmas_mm=(1.0, 2.0, 3.0),
                         threshold: float = 0.2, min_hu: float = -500.0, rim_mm: float = 2.0,
                         structureness_hu: float = 50.0) -> np.ndarray:
    """Vessels inside the lungs: tube-like (Frangi) and denser than aerated lung.

    The vessels' cores are the voxels whose bright-tube vesselness exceeds
    ``threshold``: it keeps tubes and drops plates (fissures, pleura), noise
    and the centres of blobs (nodules). Frangi's measure fades toward a tube's
    wall (the radial curvature vanishes at the edge), so the cores are widened
    by ``rim_mm``; a lung voxel within that reach is a vessel if its CT number
    exceeds ``min_hu``, near halfway between blood (about 40 HU) and aerated
    lung (about -870 HU), where partial volume puts the vessel's edge.

    Parameters
    ----------
    ct : Volume
        Chest CT in HU.
    lungs : numpy.ndarray of bool
        Lung mask of ``ct.shape`` (vessels included, e.g. from
        :func:`~hounsfield.segment.segment_lungs`).
    sigmas_mm : sequence of float
        Scales (mm) of :func:`vesselness`.
    threshold : float
        Lowest vesselness (0 to 1) of a vessel's core.
    min_hu : float
        Lowest CT number (HU) of a vessel voxel.
    rim_mm : float
        How far (mm) around the cores vessel voxels are taken; 0 for the cores only.
    structureness_hu : float
        Frangi's ``c`` (HU), fixed so that the result does not depend on the
        brightest structure in the lungs.

    Returns
    -------
    numpy.ndarray
        bool mask of ``ct.shape``, inside ``lungs``.

    Notes
    -----
    A solid nodule is mostly kept: its centre is suppressed as a blob, but
    the shell around it responds like a tube and the rim joins the two.

    Examples
    --------
    >>> z, y, x = np.mgrid[:12, :15, :15]
    >>> tube = (y - 7) ** 2 + (x - 7) ** 2 <= 4
    >>> ct = Volume(np.where(tube, 40.0, -850.0).astype(np.float32))
    >>> vessels = segment_lung_vessels(ct, np.ones(ct.shape, bool), sigmas_mm=(1.5,))
    >>> bool(vessels[2:-2][tube[2:-2]].all() and not vessels[~tube].any())
    True
    """
    ct = _checked_ct(ct)
    lungs = _checked_mask(lungs, ct.shape, "lungs")
    if not _is_real(threshold) or not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}")
    if not _is_real(min_hu) or not np.isfinite(min_hu):
        raise ValueError(f"min_hu must be a finite CT number in HU, got {min_hu!r}")
    if not _is_real(rim_mm) or not (np.isfinite(rim_mm) and rim_mm >= 0):
        raise ValueError(f"rim_mm must be a finite number of mm >= 0, got {rim_mm!r}")
    response = vesselness(ct, sigmas_mm=sigmas_mm, mask=lungs, bright=True,
                          structureness_hu=structureness_hu)
    core = response > threshold
    if rim_mm > 0:
        core = dilate_mm(core, rim_mm, ct.spacing_mm)
    return lungs & core & (np.asarray(ct.array) > min_hu)
