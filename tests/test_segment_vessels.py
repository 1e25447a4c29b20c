"""Hessian vesselness and lung vessels: synthetic tubes of known radius, scikit-image, a real CT."""

import time

import numpy as np
import pytest
from scipy.stats import spearmanr

from hounsfield.metrics import dice
from hounsfield.segment.vessels import (
    _hessian_at,
    hessian_eigenvalues,
    segment_lung_vessels,
    vesselness,
)
from hounsfield.volume import Volume

LUNG_HU, BLOOD_HU = -850.0, 40.0
LOBES = ("lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right",
         "lung_middle_lobe_right", "lung_lower_lobe_right")

# -- a synthetic lung with tubes of known radius ---------------------------------------

SPACING_MM = (2.5, 0.7, 0.7)
SHAPE = (40, 150, 150)
#: (point (z, y, x) mm, direction (z, y, x), radius mm); axial, in-plane and oblique tubes.
TUBES = (
    ((0.0, 20.0, 20.0), (1.0, 0.0, 0.0), 1.0),
    ((0.0, 20.0, 50.0), (1.0, 0.0, 0.0), 2.0),
    ((0.0, 25.0, 80.0), (1.0, 0.2, 0.3), 3.0),
    ((50.0, 60.0, 30.0), (0.0, 0.1, 1.0), 1.5),
    ((30.0, 85.0, 0.0), (0.6, 0.3, 1.0), 2.5),
    ((70.0, 95.0, 0.0), (-0.35, -0.2, 1.0), 4.0),
)
SPHERE_CENTRE_MM, SPHERE_RADIUS_MM = (60.0, 60.0, 70.0), 4.0


def _distance_to_line(points, point, direction):
    """Distance (mm) of points (..., 3) from the line through ``point`` along ``direction``."""
    direction = np.asarray(direction, float) / np.linalg.norm(direction)
    offset = points - np.asarray(point, float)
    along = offset @ direction
    return np.sqrt(np.maximum((offset**2).sum(-1) - along**2, 0.0))


def _shapes():
    """(distance function of points (..., 3) mm, radius mm) of each tube, then of the sphere."""
    shapes = [(lambda p, q=point, d=direction: _distance_to_line(p, q, d), radius)
              for point, direction, radius in TUBES]
    centre = np.asarray(SPHERE_CENTRE_MM)
    return shapes + [(lambda p: np.linalg.norm(p - centre, axis=-1), SPHERE_RADIUS_MM)]


def _tube_phantom(noise_hu=20.0, subsamples=(5, 3, 3)):
    """CT (partial volume by sub-voxel sampling at edges, white noise) and exact labels.

    Labels by voxel centre: tube n is n, the sphere 99.
    """
    axes = [np.arange(n) * s for n, s in zip(SHAPE, SPACING_MM, strict=True)]
    centres = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    labels = np.zeros(SHAPE, np.uint8)
    depth = np.full(SHAPE, np.inf)  # distance outside the nearest shape's surface (mm)
    for n, (distance, radius) in zip([*range(1, len(TUBES) + 1), 99], _shapes(), strict=True):
        outside = distance(centres) - radius
        labels[outside <= 0] = n
        depth = np.minimum(depth, outside)
    # Only voxels within half a voxel diagonal of a surface can be partly inside.
    edge = np.abs(depth) <= 0.5 * float(np.linalg.norm(SPACING_MM))
    offsets = np.stack(np.meshgrid(*[(np.arange(k) + 0.5) / k - 0.5 for k in subsamples],
                                   indexing="ij"), axis=-1).reshape(-1, 3) * SPACING_MM
    points = centres[edge][:, None, :] + offsets[None]
    inside = np.zeros(points.shape[:2], bool)
    for distance, radius in _shapes():
        inside |= distance(points) <= radius
    fraction = (labels > 0).astype(np.float32)
    fraction[edge] = inside.mean(axis=1)
    hu = LUNG_HU + (BLOOD_HU - LUNG_HU) * fraction
    hu += np.random.default_rng(0).normal(0.0, noise_hu, SHAPE)
    return Volume(hu.astype(np.float32), spacing_mm=SPACING_MM), labels


@pytest.fixture(scope="module")
def tube_phantom():
    ct, labels = _tube_phantom()
    return ct, labels, vesselness(ct)


@pytest.fixture(scope="module")
def tube_vessels(tube_phantom):
    ct, _, _ = tube_phantom
    return segment_lung_vessels(ct, np.ones(ct.shape, bool))


def test_vessel_mask_matches_exact_cylinders(tube_phantom, tube_vessels):
    _, labels, _ = tube_phantom
    vessels = tube_vessels
    tubes = (labels > 0) & (labels < 99)
    assert dice(vessels & (labels != 99), tubes) >= 0.8
    for n in range(1, len(TUBES) + 1):
        own = labels == n
        nearby = (labels == 0) & _near(own, 3.0)
        assert dice(vessels & (own | nearby), own) >= 0.75, TUBES[n - 1]


def _near(mask, radius_mm):
    from hounsfield.segment._morphology import dilate_mm

    return dilate_mm(mask, radius_mm, SPACING_MM)


def test_tubes_of_every_radius_and_direction_respond(tube_phantom):
    _, labels, response = tube_phantom
    for n in range(1, len(TUBES) + 1):
        assert np.percentile(response[labels == n], 90) > 0.75, TUBES[n - 1]


def test_sphere_centre_responds_much_less_than_tube_centrelines(tube_phantom):
    ct, labels, response = tube_phantom
    centre = tuple(int(round(c / s)) for c, s in zip(SPHERE_CENTRE_MM, SPACING_MM, strict=True))
    near_centre = response[centre[0], centre[1] - 1:centre[1] + 2, centre[2] - 1:centre[2] + 2]
    tube_centrelines = [np.percentile(response[labels == n], 90) for n in range(1, len(TUBES) + 1)]
    assert near_centre.max() < 0.3 * min(tube_centrelines)


def test_background_noise_gives_no_vessels(tube_phantom, tube_vessels):
    _, labels, _ = tube_phantom
    assert not tube_vessels[~_near(labels > 0, 3.0)].any()


# -- the Hessian --------------------------------------------------------------------------


def test_eigenvalues_match_numpy_and_are_sorted_by_magnitude():
    rng = np.random.default_rng(3)
    entries = rng.normal(size=(5000, 6)) * rng.choice([1e-3, 1.0, 300.0], size=(5000, 1))
    entries[:50, 3:] = 0.0  # diagonal
    entries[50:100] = [7.0, 7.0, 7.0, 0.0, 0.0, 0.0]  # a triple eigenvalue
    entries[100:150] = 0.0
    matrices = np.zeros((len(entries), 3, 3))
    for column, (i, j) in enumerate([(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]):
        matrices[:, i, j] = matrices[:, j, i] = entries[:, column]
    expected = np.linalg.eigvalsh(matrices)
    expected = np.take_along_axis(expected, np.argsort(np.abs(expected), axis=1), axis=1)
    scale = np.abs(entries).max(axis=1, keepdims=True) + 1e-300
    assert np.allclose(hessian_eigenvalues(entries) / scale, expected / scale, atol=1e-9)


def test_hessian_is_exact_on_a_quadratic_in_mm():
    """f = 3z² + 2yx - x² (mm): Hessian zz 6, yx 2, xx -2, the rest 0, times sigma²."""
    spacing = (2.5, 0.7, 0.9)
    z, y, x = np.meshgrid(*[np.arange(n) * s for n, s in zip((30, 40, 40), spacing, strict=True)],
                          indexing="ij")
    image = (3 * z**2 + 2 * y * x - x**2).astype(np.float64)
    where = np.zeros(image.shape, bool)
    where[12:18, 18:22, 18:22] = True
    sigma_mm = 2.0
    entries = _hessian_at(image, where, sigma_mm, spacing)
    expected = np.array([6.0, 0.0, -2.0, 0.0, 0.0, 2.0]) * sigma_mm**2
    assert np.allclose(entries, expected, atol=1e-3 * sigma_mm**2)


# -- agreement with scikit-image's Frangi filter ---------------------------------------


@pytest.fixture(scope="module")
def isotropic_scene():
    z, y, x = np.mgrid[:40, :48, :48].astype(float)
    image = np.full(z.shape, LUNG_HU)
    image[np.hypot(y - 14, x - 14) <= 3] = BLOOD_HU
    image[np.hypot(z - 20 - 0.3 * (x - 24), y - 34) <= 2] = BLOOD_HU
    image[(z - 12) ** 2 + (y - 36) ** 2 + (x - 36) ** 2 <= 16] = BLOOD_HU
    image += np.random.default_rng(1).normal(0.0, 10.0, image.shape)
    return image.astype(np.float32)


def _top_voxels(response, count):
    return response >= np.sort(response.ravel())[-count]


def test_single_scale_agrees_with_skimage_frangi(isotropic_scene):
    from skimage.filters import frangi

    sigma, structureness = 2.0, 100.0
    ours = vesselness(Volume(isotropic_scene), sigmas_mm=(sigma,),
                      structureness_hu=structureness)
    # scikit-image does not scale the Hessian by sigma²: its gamma is ours / sigma².
    theirs = frangi(isotropic_scene, sigmas=(sigma,), black_ridges=False,
                    gamma=structureness / sigma**2)
    either = (ours > 0.01) | (theirs > 0.01)
    assert spearmanr(ours[either], theirs[either])[0] > 0.99
    count = int((ours > 0.2).sum())
    assert dice(_top_voxels(ours, count), _top_voxels(theirs, count)) > 0.95


def test_multi_scale_agrees_with_skimage_frangi_scale_by_scale(isotropic_scene):
    from skimage.filters import frangi

    sigmas, structureness = (1.0, 2.0, 3.0), 50.0
    ours = vesselness(Volume(isotropic_scene), sigmas_mm=sigmas, structureness_hu=structureness)
    theirs = np.max([frangi(isotropic_scene * s**2, sigmas=(s,), black_ridges=False,
                            gamma=structureness) for s in sigmas], axis=0)
    either = (ours > 0.01) | (theirs > 0.01)
    assert spearmanr(ours[either], theirs[either])[0] > 0.95
    count = int((ours > 0.2).sum())
    assert dice(_top_voxels(ours, count), _top_voxels(theirs, count)) > 0.9


# -- options and input -------------------------------------------------------------------


def test_mask_limits_the_work_but_not_the_values(isotropic_scene):
    ct = Volume(isotropic_scene, spacing_mm=(1.2, 0.8, 0.8))
    mask = np.zeros(ct.shape, bool)
    mask[15:25, 5:25, 5:25] = True
    full = vesselness(ct)
    masked = vesselness(ct, mask=mask)
    assert masked.dtype == np.float32
    assert not masked[~mask].any()
    assert np.allclose(masked[mask], full[mask], atol=1e-5)
    assert not vesselness(ct, mask=np.zeros(ct.shape, bool)).any()


def test_dark_tubes_need_bright_false():
    z, y, x = np.mgrid[:16, :24, :24]
    airway = np.where(np.hypot(y - 12, x - 12) <= 3, -1000.0, 40.0).astype(np.float32)
    ct = Volume(airway)
    axis = (8, 12, 12)
    assert vesselness(ct, sigmas_mm=(2.0,), bright=False)[axis] > 0.5
    assert vesselness(ct, sigmas_mm=(2.0,), bright=True)[axis] == 0.0


@pytest.mark.parametrize("kwargs, message", [
    ({"sigmas_mm": ()}, "sigmas_mm"),
    ({"sigmas_mm": (1.0, -2.0)}, "sigmas_mm"),
    ({"mask": np.ones((2, 2, 2), bool)}, "mask"),
    ({"alpha": 0.0}, "alpha"),
    ({"structureness_hu": float("nan")}, "structureness_hu"),
])
def test_vesselness_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vesselness(Volume(np.zeros((4, 4, 4), np.float32)), **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": 1.0}, "threshold"),
    ({"min_hu": float("inf")}, "min_hu"),
    ({"rim_mm": -1.0}, "rim_mm"),
])
def test_segment_lung_vessels_rejects_bad_input(kwargs, message):
    ct = Volume(np.zeros((4, 4, 4), np.float32))
    with pytest.raises(ValueError, match=message):
        segment_lung_vessels(ct, np.ones(ct.shape, bool), **kwargs)


def test_vesselness_needs_a_volume():
    with pytest.raises(TypeError, match="Volume"):
        vesselness(np.zeros((4, 4, 4)))


# -- the real chest CT ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_lung_vessels(chest_ct):
    ct, labels = chest_ct
    lungs = np.isin(labels.array, [labels.labels.id_of(name) for name in LOBES])
    start = time.perf_counter()
    vessels = segment_lung_vessels(ct, lungs)
    return ct, lungs, vessels, time.perf_counter() - start


@pytest.mark.real
@pytest.mark.slow
def test_real_vessel_fraction_of_the_lungs_is_plausible(real_lung_vessels):
    _, lungs, vessels, seconds = real_lung_vessels
    fraction = vessels.sum() / lungs.sum()
    print(f"lung vessels: {100 * fraction:.1f} % of the lungs in {seconds:.1f} s")
    assert not (vessels & ~lungs).any()
    assert 0.015 <= fraction <= 0.12


@pytest.mark.real
@pytest.mark.slow
def test_real_vessels_are_dense_and_the_rest_is_aerated(real_lung_vessels):
    ct, lungs, vessels, _ = real_lung_vessels
    hu = ct.array
    assert hu[vessels].mean() > -300.0
    assert hu[lungs & ~vessels].mean() < -700.0


def test_slabs_give_the_values_of_one_pass(isotropic_scene, monkeypatch):
    import hounsfield.segment.vessels as module

    ct = Volume(isotropic_scene, spacing_mm=(1.5, 0.8, 0.8))
    whole = vesselness(ct)
    monkeypatch.setattr(module, "_SLAB_VOXELS", 3 * ct.shape[1] * ct.shape[2])
    assert np.allclose(vesselness(ct), whole, atol=1e-5)


def test_default_structureness_of_the_paper_follows_the_contrast(isotropic_scene):
    """With c = half the largest Hessian norm, scaling the image leaves the response alone."""
    ct, brighter = Volume(isotropic_scene), Volume(isotropic_scene * 10.0)
    relative = vesselness(ct, structureness_hu=None)
    assert np.allclose(vesselness(brighter, structureness_hu=None), relative, atol=1e-4)
    assert not np.allclose(vesselness(brighter), vesselness(ct), atol=1e-2)
