"""Image similarity: SynthRAD's hand-computable figures and agreement with skimage/scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve
from skimage.metrics import structural_similarity

from hounsfield.errors import HounsfieldWarning
from hounsfield.metrics.image import (
    CONVENTIONS,
    MS_SSIM_SCALE_WEIGHTS,
    _halve,
    image_metrics,
    mae_hu,
    ms_ssim,
    psnr_db,
    ssim,
)


def ct_pair(shape, seed=0, noise_hu=400.0):
    """A smooth reference 'CT' spanning air to dense bone and a noisy, blurred prediction."""
    rng = np.random.default_rng(seed)
    reference = gaussian_filter(rng.normal(size=shape), 2.0)
    reference = -1100 + 4300 * (reference - reference.min()) / np.ptp(reference)  # past both clips
    prediction = 0.97 * gaussian_filter(reference, 0.7) + noise_hu * rng.normal(size=shape) + 15
    return prediction, reference


def body_mask(shape):
    """An ellipsoid touching no face, plus a corner patch inside the 3-voxel border."""
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    mask = sum(g**2 for g in grids) < 0.7
    mask[(slice(0, 2),) * len(shape)] = True
    return mask


# -- hand-computed figures (from the issue) ---------------------------------------------------


def test_hundred_hu_error_everywhere_in_the_mask():
    reference = np.zeros((9, 10, 11))
    scores = image_metrics(reference + 100, reference, np.ones_like(reference, dtype=bool))
    assert scores["mae_hu"] == pytest.approx(100.0)
    assert scores["psnr_db"] == pytest.approx(20 * np.log10(4024 / 100))
    assert round(scores["psnr_db"], 3) == 32.093


def test_4000_hu_error_is_clipped_to_3000_for_psnr_only():
    reference = np.zeros((9, 10, 11))
    scores = image_metrics(reference + 4000, reference, reference == 0)
    assert scores["mae_hu"] == pytest.approx(4000.0)  # MAE is not clipped
    assert scores["psnr_db"] == pytest.approx(20 * np.log10(4024 / 3000))
    assert round(scores["psnr_db"], 3) == 2.551


def test_synthrad2025_clips_at_3071_and_uses_a_4095_range():
    reference = np.zeros((9, 10, 11))
    assert psnr_db(reference + 4000, reference, hu_range=(-1024, 3071)) == pytest.approx(
        20 * np.log10(4095 / 3071))
    scores = image_metrics(reference + 4000, reference, convention="synthrad2025")
    assert scores["psnr_db"] == pytest.approx(20 * np.log10(4095 / 3071))
    assert set(scores) == {"mae_hu", "psnr_db", "ssim", "ms_ssim"}
    assert CONVENTIONS["synthrad2025"].hu_range == (-1024.0, 3071.0)


def test_psnr_data_range_is_fixed_not_the_reference_range():
    reference = np.full((4, 5), 20.0)
    reference[0, 0] = 30.0  # a 10 HU reference range would give ~46 dB less
    assert psnr_db(reference + 10, reference) == pytest.approx(20 * np.log10(4024 / 10))


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
@pytest.mark.parametrize("shape", [(9, 10, 11), (12, 12, 12)])
def test_identical_images_score_perfectly(convention, shape):
    _, reference = ct_pair(shape)
    scores = image_metrics(reference, reference.copy(), body_mask(shape), convention)
    assert scores["mae_hu"] == 0.0
    assert scores["psnr_db"] == np.inf
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-12)
    if convention == "synthrad2025":
        assert scores["ms_ssim"] == pytest.approx(1.0, abs=1e-12)


def test_voxels_outside_the_mask_do_not_count_and_order_does_not_matter():
    prediction, reference = ct_pair((14, 15, 16), seed=4)
    mask = body_mask(reference.shape)
    altered = np.where(mask, prediction, 12345.0)
    for convention in CONVENTIONS:
        scores = image_metrics(prediction, reference, mask, convention)
        assert image_metrics(altered, reference, mask, convention) == pytest.approx(scores)
        assert image_metrics(reference, prediction, mask, convention) == pytest.approx(scores)


def test_mae_and_psnr_follow_their_definitions_on_the_masked_voxels():
    prediction, reference = ct_pair((8, 9, 10), seed=5)
    mask = body_mask(reference.shape)
    assert mae_hu(prediction, reference, mask) == pytest.approx(
        np.abs(prediction - reference)[mask].mean(), rel=1e-12)
    clipped = [np.clip(image, -1024, 3000)[mask] for image in (prediction, reference)]
    mse = np.mean((clipped[0] - clipped[1]) ** 2)
    assert psnr_db(prediction, reference, mask) == pytest.approx(
        10 * np.log10(4024**2 / mse), rel=1e-12)


# -- SSIM: SynthRAD2023's procedure with skimage as the reference ----------------------------


def synthrad_ssim_with_skimage(prediction, reference, mask, hu_range=(-1024.0, 3000.0)):
    """Clip, put air outside the mask, shift by 1024, skimage SSIM map, mean inside the border."""
    low, high = hu_range
    prepared = [np.where(mask, np.clip(image, low, high), low) - low
                for image in (prediction, reference)]
    _, ssim_map = structural_similarity(*prepared, data_range=high - low, full=True)
    core = (slice(3, -3),) * reference.ndim
    return ssim_map[core][mask[core]].mean(dtype=np.float64)


@pytest.mark.parametrize("shape", [(20, 21, 22), (17, 24, 19), (30, 31)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ssim_agrees_with_synthrad_procedure_through_skimage(shape, dtype):
    prediction, reference = (image.astype(dtype) for image in ct_pair(shape, seed=len(shape)))
    mask = body_mask(shape)
    expected = synthrad_ssim_with_skimage(prediction, reference, mask)
    assert 0.3 < expected < 0.95
    assert ssim(prediction, reference, mask) == pytest.approx(expected, abs=1e-6)
    range_2025 = (-1024.0, 3071.0)
    assert ssim(prediction, reference, mask, hu_range=range_2025) == pytest.approx(
        synthrad_ssim_with_skimage(prediction, reference, mask, range_2025), abs=1e-6)


def test_ssim_without_mask_is_skimage_mean_ssim():
    prediction, reference = ct_pair((16, 17, 18), seed=7)
    prepared = [np.clip(image, -1024, 3000) + 1024 for image in (prediction, reference)]
    expected = structural_similarity(*prepared, data_range=4024.0)
    assert ssim(prediction, reference) == pytest.approx(expected, abs=1e-12)


def test_ssim_of_a_mask_only_in_the_border_is_nan_with_a_warning():
    reference = np.zeros((10, 10, 10))
    mask = np.zeros(reference.shape, dtype=bool)
    mask[0, 0, 0] = True
    with pytest.warns(HounsfieldWarning, match="no mask voxel"):
        assert np.isnan(ssim(reference, reference, mask))


# -- MS-SSIM: SynthRAD2025's definition, rebuilt from skimage and scipy ------------------------


def synthrad2025_ms_ssim_with_skimage(prediction, reference, mask):
    """Per scale: skimage's SSIM map to the scale's weight, meaned in the mask inside the border.

    For non-negative images l, c and s are non-negative where the structure
    term is (positively correlated images), so l^w c^w s^w = (l c s)^w, and
    l c s with C3 = C2 / 2 is skimage's SSIM map. Between scales: scipy's
    fftconvolve with a 2×2×2 box ('same'), every second voxel.
    """
    low, high = -1024.0, 3071.0
    images = [np.where(mask, np.clip(image, low, high), low) - low
              for image in (prediction, reference)]
    widths = [(max(97 - n, 0) // 2, max(97 - n, 0) - max(97 - n, 0) // 2) for n in mask.shape]
    images = [np.pad(image, widths, mode="edge") for image in images]
    scored = np.pad(mask, widths, mode="edge")
    product = 1.0
    for level, weight in enumerate(MS_SSIM_SCALE_WEIGHTS):
        if level:
            box = np.ones((2, 2, 2)) / 8
            images = [fftconvolve(image, box, mode="same")[::2, ::2, ::2] for image in images]
            scored = scored[::2, ::2, ::2]
        _, ssim_map = structural_similarity(*images, data_range=high - low, full=True)
        scale_map = ssim_map**weight
        assert not np.isnan(scale_map).any()
        mean = scale_map[3:-3, 3:-3, 3:-3][scored[3:-3, 3:-3, 3:-3]].mean(dtype=np.float64)
        product *= np.clip(mean, 0, 1)
    return product


@pytest.mark.parametrize("shape", [(40, 44, 37), (18, 101, 30)])
def test_ms_ssim_agrees_with_synthrad2025_definition(shape):
    prediction, reference = ct_pair(shape, seed=11)
    mask = body_mask(shape)
    expected = synthrad2025_ms_ssim_with_skimage(prediction, reference, mask)
    assert 0.5 < expected < 0.99
    assert ms_ssim(prediction, reference, mask) == pytest.approx(expected, abs=1e-6)
    float32 = ms_ssim(prediction.astype(np.float32), reference.astype(np.float32), mask)
    assert float32 == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("shape", [(6, 7, 8), (9, 9, 9), (2, 3, 5)])
def test_halving_is_fftconvolve_same_with_a_box_then_every_second_voxel(shape):
    image = np.random.default_rng(0).random(shape) * 4000
    expected = fftconvolve(image, np.ones((2, 2, 2)) / 8, mode="same")[::2, ::2, ::2]
    np.testing.assert_allclose(_halve(image), expected, rtol=0, atol=1e-9)


def test_ms_ssim_luminance_counts_at_the_finest_scale_too():
    # A uniform 100 HU offset leaves contrast and structure at 1: only luminance
    # (1124 vs 1024 after the shift) lowers MS-SSIM. With weights (0.3, 0) Wang et
    # al.'s luminance-at-the-coarsest-scale-only would give 1; SynthRAD2025's
    # code gives l^0.3.
    reference = np.zeros((20, 20, 20))
    c1 = (0.01 * 4095) ** 2
    luminance = (2 * 1024 * 1124 + c1) / (1024**2 + 1124**2 + c1)
    assert ms_ssim(reference + 100, reference, scale_weights=(0.3, 0.0)) == pytest.approx(
        luminance**0.3, rel=1e-12)


# -- validation -------------------------------------------------------------------------------


def test_invalid_inputs_are_refused_by_name():
    image = np.zeros((8, 8, 8))
    with pytest.raises(ValueError, match="pred_hu has shape"):
        image_metrics(np.zeros((8, 8, 9)), image)
    with pytest.raises(ValueError, match="ref_hu must be finite"):
        image_metrics(image, np.where(image == 0, np.nan, 0))
    with pytest.raises(ValueError, match="mask selects no voxel"):
        image_metrics(image, image, np.zeros_like(image))
    with pytest.raises(ValueError, match="mask has shape"):
        image_metrics(image, image, np.ones((8, 8)))
    with pytest.raises(ValueError, match="convention must be one of"):
        image_metrics(image, image, convention="synthrad2024")
    with pytest.raises(ValueError, match="at least 7 voxels per axis"):
        ssim(np.zeros((8, 6, 8)), np.zeros((8, 6, 8)))
    with pytest.raises(ValueError, match="hu_range must be finite with low < high"):
        psnr_db(image, image, hu_range=(3000, -1024))
    with pytest.raises(ValueError, match="must have 3 axes"):
        ms_ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="pred_hu must hold real numbers"):
        mae_hu(np.array(["a"]), np.array([1.0]))
