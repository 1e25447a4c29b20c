"""Image similarity of a synthetic CT to its reference CT, scored as SynthRAD scores it.

Each function reproduces the number that a challenge's own evaluation code
computes; the conventions (what is clipped, what is masked, which data range,
which window) are the challenge's, stated in each docstring, and sourced from

* SynthRAD2023: ``github.com/SynthRAD2023/metrics``, ``functions/image_metrics.py``
  (commit fe7e385 of July 2023, "non-negative and masked SSIM fix", the
  last change to the image metrics);
* SynthRAD2025: ``github.com/SynthRAD2025/evaluation``, ``image_metrics.py``
  (commit 17cac47, which moved the clip range to [-1024, 3071] HU).

Shared conventions:

* Images are HU arrays of the same shape, 2D or 3D (MS-SSIM: 3D), indexed
  (z, y, x) as everywhere in hounsfield. The order ``(pred_hu, ref_hu)`` does
  not change any value: every metric here is symmetric in its two images.
* ``mask`` selects the voxels that are scored: voxels where ``mask > 0``
  (the challenges binarise it so). ``None`` scores every voxel.
* Images with NaN or infinite values, and masks that select nothing, are
  refused rather than scored.
* No value depends on the axis order (SynthRAD2025 transposes its arrays to
  (x, y, z)): the SSIM window is a cube, and padding, cropping and halving
  treat every axis alike.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from ..errors import HounsfieldWarning

__all__ = [
    "CONVENTIONS",
    "ImageConvention",
    "image_metrics",
    "mae_hu",
    "ms_ssim",
    "psnr_db",
    "ssim",
]

#: Side of the cubic SSIM window, in voxels (skimage's default, which SynthRAD keeps).
SSIM_WINDOW_VOXELS = 7
#: Stabilising constants of SSIM, as fractions of the data range (Wang et al. 2004).
SSIM_K1, SSIM_K2 = 0.01, 0.03
#: Voxels dropped on every side of an SSIM map before it is averaged (the window radius).
SSIM_BORDER_VOXELS = 3
#: Per-scale exponents of SynthRAD2025's MS-SSIM, finest scale first (Wang et al. 2003, Eq. 7).
MS_SSIM_SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: SynthRAD2025 pads every axis shorter than this (edge values) so that 5 scales fit.
MS_SSIM_MIN_SIZE_VOXELS = 97


@dataclass(frozen=True)
class ImageConvention:
    """How a challenge scores image similarity.

    Attributes
    ----------
    name : str
        Challenge name, e.g. ``"synthrad2023"``.
    hu_range : (float, float)
        Clip range in HU for PSNR and (MS-)SSIM; its width is their data range.
    structural : tuple of str
        Structural metrics reported: ``"ssim"`` and, for 2025, ``"ms_ssim"``.
    """

    name: str
    hu_range: tuple[float, float]
    structural: tuple[str, ...]


#: The conventions that :func:`image_metrics` knows, by name.
CONVENTIONS: dict[str, ImageConvention] = {
    "synthrad2023": ImageConvention("synthrad2023", (-1024.0, 3000.0), ("ssim",)),
    "synthrad2025": ImageConvention("synthrad2025", (-1024.0, 3071.0), ("ssim", "ms_ssim")),
}


# -- public metrics -------------------------------------------------------------------------


def image_metrics(pred_hu, ref_hu, mask=None, convention: str = "synthrad2023") -> dict:
    """MAE, PSNR and SSIM (and MS-SSIM) of a synthetic CT, as a challenge computes them.

    Parameters
    ----------
    pred_hu, ref_hu : ndarray
        Predicted (synthetic) and reference CT in HU, same shape, indexed (z, y, x).
    mask : ndarray, optional
        Voxels to score where ``mask > 0``; same shape. ``None`` scores all voxels.
    convention : {"synthrad2023", "synthrad2025"}
        * ``"synthrad2023"``: clip range [-1024, 3000] HU (data range 4024) for
          PSNR and SSIM.
        * ``"synthrad2025"``: clip range [-1024, 3071] HU (data range 4095) for
          PSNR, SSIM and MS-SSIM. SynthRAD2025 itself reports MAE, PSNR and
          MS-SSIM; ``ssim`` is added (SynthRAD2023's procedure at the 2025
          range) so that the two editions can be compared.

    Returns
    -------
    dict
        ``mae_hu`` (HU), ``psnr_db`` (dB), ``ssim`` and, for 2025, ``ms_ssim``
        (both dimensionless, at most 1). See :func:`mae_hu`, :func:`psnr_db`,
        :func:`ssim` and :func:`ms_ssim` for the exact procedures.

    Examples
    --------
    >>> ref = np.zeros((8, 8, 8)); pred = ref + 100.0
    >>> scores = image_metrics(pred, ref, np.ones_like(ref))
    >>> round(scores["mae_hu"], 3), round(scores["psnr_db"], 3), round(scores["ssim"], 3)
    (100.0, 32.093, 0.996)
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {sorted(CONVENTIONS)}, got {convention!r}")
    hu_range = CONVENTIONS[convention].hu_range
    pred, ref, inside = _check_images(pred_hu, ref_hu, mask)
    scores = {
        "mae_hu": _mae(pred, ref, inside),
        "psnr_db": _psnr(pred, ref, inside, hu_range),
        "ssim": _ssim(pred, ref, inside, hu_range),
    }
    if "ms_ssim" in CONVENTIONS[convention].structural:
        scores["ms_ssim"] = _ms_ssim(pred, ref, inside, hu_range, MS_SSIM_SCALE_WEIGHTS)
    return scores


def mae_hu(pred_hu, ref_hu, mask=None) -> float:
    """Mean absolute error in HU over the mask, without clipping (both SynthRAD editions).

    Parameters
    ----------
    pred_hu, ref_hu : ndarray
        Predicted and reference CT in HU, same shape.
    mask : ndarray, optional
        Voxels to score where ``mask > 0``. ``None`` scores all voxels.

    Returns
    -------
    float
        ``mean(|pred - ref|)`` over the masked voxels, in HU.

    Examples
    --------
    >>> mae_hu(np.full((2, 2), 4000.0), np.zeros((2, 2)))
    4000.0
    """
    pred, ref, inside = _check_images(pred_hu, ref_hu, mask, min_ndim=1, min_size=1)
    return _mae(pred, ref, inside)


def psnr_db(pred_hu, ref_hu, mask=None, *, hu_range=(-1024.0, 3000.0)) -> float:
    """Peak signal-to-noise ratio in dB over the mask, after clipping both images to hu_range.

    ``10 log10(R^2 / MSE)`` with the fixed data range ``R = hu_range[1] - hu_range[0]``
    (4024 HU for SynthRAD2023, 4095 HU for 2025: a population range, not the
    range of the reference image) and MSE the mean squared difference of the
    clipped images over the masked voxels, as SynthRAD computes it with
    ``skimage.metrics.peak_signal_noise_ratio`` on the masked voxels. Identical
    images give ``inf``.

    Parameters
    ----------
    pred_hu, ref_hu : ndarray
        Predicted and reference CT in HU, same shape.
    mask : ndarray, optional
        Voxels to score where ``mask > 0``. ``None`` scores all voxels.
    hu_range : (float, float)
        Clip range in HU; (-1024, 3071) for SynthRAD2025.

    Examples
    --------
    Clipping at 3000 HU makes an error of 4000 HU count as 3000 HU:

    >>> round(psnr_db(np.full((2, 2), 4000.0), np.zeros((2, 2))), 3)
    2.551
    """
    pred, ref, inside = _check_images(pred_hu, ref_hu, mask, min_ndim=1, min_size=1)
    return _psnr(pred, ref, inside, _check_hu_range(hu_range))


def ssim(pred_hu, ref_hu, mask=None, *, hu_range=(-1024.0, 3000.0)) -> float:
    """Structural similarity averaged inside the mask, SynthRAD2023's procedure.

    1. Clip both images to ``hu_range``.
    2. Set voxels outside the mask to ``hu_range[0]`` (-1024 HU, air).
    3. Subtract ``hu_range[0]`` so that intensities are non-negative.
    4. SSIM map with a uniform ``7^n`` window (``scipy.ndimage.uniform_filter``,
       ``reflect`` borders), sample covariances, ``K1 = 0.01``, ``K2 = 0.03`` and
       data range ``hu_range[1] - hu_range[0]``: ``skimage.metrics.structural_similarity``
       with its defaults, which is what SynthRAD calls.
    5. Average the map over the masked voxels that lie at least 3 voxels from
       every face of the array (the window radius, skimage's own border crop).

    (SynthRAD2023's ``score_patient`` hands this step the mask as a
    SimpleITK image rather than its array, which numpy cannot broadcast
    against the images; the mask array, which the function documents and
    the other metrics receive, is what is used here.)

    The map is computed in float32 when both images are float32 (SynthRAD casts
    its images to float32 and skimage keeps that precision), else in float64.

    Parameters
    ----------
    pred_hu, ref_hu : ndarray, 2D or 3D
        Predicted and reference CT in HU, same shape, at least 7 voxels per axis.
    mask : ndarray, optional
        Voxels to score where ``mask > 0``. ``None`` scores all voxels.
    hu_range : (float, float)
        Clip range in HU; (-1024, 3071) for SynthRAD2025's range.

    Returns
    -------
    float
        Mean SSIM, at most 1 (1 for identical images). NaN, with a
        :class:`~hounsfield.errors.HounsfieldWarning`, when no masked voxel lies
        3 voxels inside the array.

    Examples
    --------
    >>> ref = np.zeros((8, 8, 8)); ref[:, :, 4:] = 1000.0
    >>> ssim(ref, ref)
    1.0
    """
    pred, ref, inside = _check_images(pred_hu, ref_hu, mask)
    return _ssim(pred, ref, inside, _check_hu_range(hu_range))


def ms_ssim(pred_hu, ref_hu, mask=None, *, hu_range=(-1024.0, 3071.0),
            scale_weights=MS_SSIM_SCALE_WEIGHTS) -> float:
    """Masked multi-scale SSIM of 3D images, SynthRAD2025's definition.

    1. Clip to ``hu_range``, set voxels outside the mask to ``hu_range[0]`` and
       subtract ``hu_range[0]`` (as :func:`ssim`).
    2. Pad every axis shorter than 97 voxels to 97, repeating edge values
       (images and mask alike; before the axis ``(97 - n) // 2`` voxels, the
       rest after).
    3. At each scale ``s`` (finest first) compute luminance ``l``, contrast
       ``c`` and structure ``σxy + C3 / (σx σy + C3)`` maps with the 7-voxel
       uniform window, sample covariances, ``C3 = C2 / 2``; each map is
       clipped at 0 and raised to ``w_s`` (the ``scale_weights``), so that the
       scale's map is ``l^w_s · c^w_s · s^w_s``. SynthRAD2025's code declares
       a separate luminance weight vector (luminance at the coarsest scale
       only, as in Wang et al. 2003), but it is overwritten by the scale
       weights before use: luminance counts at every scale, and so it does here.
    4. Average each scale's map over the mask voxels at least 3 voxels from
       every face, clip that mean to [0, 1], and multiply the scales' means.
    5. Between scales, images are averaged over 2×2×2 blocks made of voxels
       ``(2i - 1, 2i)`` along every axis, a zero standing in for voxel -1
       (their ``fftconvolve(..., 'same')`` with a 2×2×2 box, then ``[::2]``);
       the mask keeps every second voxel (``mask[::2, ::2, ::2]``).

    The finest scale is computed in float32 when both images are float32; the
    others in float64 (SynthRAD2025's downsampling kernel is float64).

    Parameters
    ----------
    pred_hu, ref_hu : ndarray, 3D
        Predicted and reference CT in HU, same shape.
    mask : ndarray, optional
        Voxels to score where ``mask > 0``. ``None`` scores all voxels.
    hu_range : (float, float)
        Clip range in HU.
    scale_weights : sequence of float
        Exponent of each scale, finest first; their number is the number of scales.

    Returns
    -------
    float
        MS-SSIM in [0, 1]. NaN, with a warning, when at some scale no mask
        voxel lies 3 voxels inside the array.

    Examples
    --------
    >>> ref = np.zeros((8, 8, 8)); ref[:, :, 4:] = 1000.0
    >>> ms_ssim(ref, ref)
    1.0
    """
    pred, ref, inside = _check_images(pred_hu, ref_hu, mask, min_ndim=3, min_size=1)
    weights = np.asarray(scale_weights, dtype=np.float64)
    if weights.ndim != 1 or weights.size == 0 or not np.all(np.isfinite(weights)):
        raise ValueError(
            f"scale_weights must be a non-empty sequence of finite numbers, got {scale_weights!r}"
        )
    return _ms_ssim(pred, ref, inside, _check_hu_range(hu_range), weights)


# -- procedures (inputs already checked) -----------------------------------------------------


def _mae(pred, ref, inside) -> float:
    difference = pred[inside].astype(np.float64) - ref[inside].astype(np.float64)
    return float(np.mean(np.abs(difference)))


def _psnr(pred, ref, inside, hu_range) -> float:
    low, high = hu_range
    difference = (np.clip(pred[inside].astype(np.float64), low, high)
                  - np.clip(ref[inside].astype(np.float64), low, high))
    mse = float(np.mean(difference**2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10((high - low) ** 2 / mse))


def _ssim(pred, ref, inside, hu_range) -> float:
    dtype = _working_dtype(pred, ref)
    x = _structural_input(pred, inside, hu_range, dtype)
    y = _structural_input(ref, inside, hu_range, dtype)
    ssim_map = _ssim_map(x, y, hu_range[1] - hu_range[0])
    return _mean_inside_border(ssim_map, inside, "ssim")


def _ms_ssim(pred, ref, inside, hu_range, weights) -> float:
    dtype = _working_dtype(pred, ref)
    x = _pad_to_min_size(_structural_input(pred, inside, hu_range, dtype))
    y = _pad_to_min_size(_structural_input(ref, inside, hu_range, dtype))
    scored = _pad_to_min_size(inside)
    data_range = hu_range[1] - hu_range[0]
    product = 1.0
    for level, weight in enumerate(weights):
        if level > 0:
            x, y, scored = _halve(x), _halve(y), scored[::2, ::2, ::2]
        if min(x.shape) < SSIM_WINDOW_VOXELS:
            raise ValueError(f"{len(weights)} scales need more than {MS_SSIM_MIN_SIZE_VOXELS} "
                             f"voxels per axis; scale {level} has shape {x.shape}")
        luminance, contrast, structure = _ssim_components(x, y, data_range)
        scale_map = luminance**weight * contrast**weight * structure**weight
        product *= np.clip(_mean_inside_border(scale_map, scored, f"ms_ssim scale {level}"), 0, 1)
    return float(product)


# -- SSIM building blocks --------------------------------------------------------------------


def _structural_input(image, inside, hu_range, dtype) -> np.ndarray:
    """Clip to hu_range, put air outside the mask, shift to non-negative values."""
    low, high = hu_range
    clipped = np.clip(image, low, high).astype(dtype, copy=False)
    return np.where(inside, clipped, dtype(low)) - dtype(low)


def _local_moments(x, y):
    """Window means of x and y and their sample (co)variances, uniform 7^n window."""
    window = {"size": SSIM_WINDOW_VOXELS}
    count = SSIM_WINDOW_VOXELS**x.ndim
    sample = count / (count - 1)
    mean_x, mean_y = uniform_filter(x, **window), uniform_filter(y, **window)
    var_x = sample * (uniform_filter(x * x, **window) - mean_x * mean_x)
    var_y = sample * (uniform_filter(y * y, **window) - mean_y * mean_y)
    cov_xy = sample * (uniform_filter(x * y, **window) - mean_x * mean_y)
    return mean_x, mean_y, var_x, var_y, cov_xy


def _ssim_map(x, y, data_range) -> np.ndarray:
    """SSIM per voxel, Wang et al. 2004 Eq. 13 (skimage's formula)."""
    mean_x, mean_y, var_x, var_y, cov_xy = _local_moments(x, y)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    numerator = (2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)
    denominator = (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
    return numerator / denominator


def _ssim_components(x, y, data_range):
    """Luminance, contrast and structure maps, each clipped at 0 (SynthRAD2025)."""
    mean_x, mean_y, var_x, var_y, cov_xy = _local_moments(x, y)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    c3 = c2 / 2
    std_x, std_y = np.clip(var_x, 0, None) ** 0.5, np.clip(var_y, 0, None) ** 0.5
    luminance = (2 * mean_x * mean_y + c1) / (mean_x * mean_x + mean_y * mean_y + c1)
    contrast = (2 * std_x * std_y + c2) / (var_x + var_y + c2)
    structure = (cov_xy + c3) / (std_x * std_y + c3)
    return (np.clip(luminance, 0, None), np.clip(contrast, 0, None),
            np.clip(structure, 0, None))


def _mean_inside_border(values, inside, what: str) -> float:
    """Mean of values over mask voxels at least SSIM_BORDER_VOXELS from every face."""
    core = (slice(SSIM_BORDER_VOXELS, -SSIM_BORDER_VOXELS),) * values.ndim
    selected = values[core][inside[core]]
    if selected.size == 0:
        warnings.warn(f"{what}: no mask voxel lies {SSIM_BORDER_VOXELS} voxels inside the "
                      f"array of shape {values.shape}; returning NaN", HounsfieldWarning,
                      stacklevel=4)
        return float("nan")
    return float(selected.mean(dtype=np.float64))


def _pad_to_min_size(array) -> np.ndarray:
    widths = [(max(MS_SSIM_MIN_SIZE_VOXELS - n, 0) // 2,
               max(MS_SSIM_MIN_SIZE_VOXELS - n, 0) - max(MS_SSIM_MIN_SIZE_VOXELS - n, 0) // 2)
              for n in array.shape]
    return np.pad(array, widths, mode="edge")


def _halve(image) -> np.ndarray:
    """Means of the 2×2×2 blocks (2i - 1, 2i) per axis, with zeros before the first voxel."""
    result = image.astype(np.float64)
    for axis in range(result.ndim):
        padded = np.concatenate([np.zeros_like(result.take([0], axis=axis)), result], axis=axis)
        count = (result.shape[axis] + 1) // 2
        even = padded.take(np.arange(0, 2 * count, 2), axis=axis)
        odd = padded.take(np.arange(1, 2 * count, 2), axis=axis)
        result = (even + odd) / 2
    return result


# -- validation ------------------------------------------------------------------------------


def _check_images(pred_hu, ref_hu, mask, min_ndim: int = 2, max_ndim: int = 3,
                  min_size: int = SSIM_WINDOW_VOXELS):
    """Arrays (pred, ref, boolean mask), refusing what the metrics cannot score."""
    pred, ref = np.asarray(pred_hu), np.asarray(ref_hu)
    for name, image in (("pred_hu", pred), ("ref_hu", ref)):
        if not (np.issubdtype(image.dtype, np.number) and not np.iscomplexobj(image)):
            raise ValueError(f"{name} must hold real numbers (HU), got dtype {image.dtype}")
        if not min_ndim <= image.ndim <= max_ndim:
            axes = f"{min_ndim}" if min_ndim == max_ndim else f"{min_ndim} to {max_ndim}"
            raise ValueError(f"{name} must have {axes} axes, got shape {image.shape}")
        if not np.all(np.isfinite(image)):
            raise ValueError(f"{name} must be finite; it holds "
                             f"{np.count_nonzero(~np.isfinite(image))} NaN or infinite values")
    if pred.shape != ref.shape:
        raise ValueError(f"pred_hu has shape {pred.shape}, ref_hu {ref.shape}; they must match")
    if mask is None:
        inside = np.ones(ref.shape, dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.shape != ref.shape:
            raise ValueError(f"mask has shape {mask.shape}; it must match the images' {ref.shape}")
        inside = mask > 0
    if not inside.any():
        raise ValueError("mask selects no voxel (it needs at least one value > 0)")
    if min(ref.shape) < min_size:
        raise ValueError(f"images need at least {min_size} voxels per axis for the "
                         f"{SSIM_WINDOW_VOXELS}-voxel SSIM window, got shape {ref.shape}")
    return pred, ref, inside


def _check_hu_range(hu_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in hu_range)
    except (TypeError, ValueError):
        raise ValueError(f"hu_range must be a (low, high) pair in HU, got {hu_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"hu_range must be finite with low < high, got {hu_range!r}")
    return low, high


def _working_dtype(*images):
    """float32 when every image is float32 (skimage's rule), else float64."""
    return np.float32 if all(image.dtype == np.float32 for image in images) else np.float64
