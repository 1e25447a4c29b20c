"""Offset ("half-fan") detectors and curved cone detectors with a row offset.

Figures measured when the tests were written (Shepp–Logan, fov 256 mm, RMSE
in 1/mm against the rasterised phantom; an 80-column detector shifted by 26
columns against a centred 132-column one of the same coverage):

* fan flat: offset 0.0266, centred 0.0264; fan curved: 0.0276 / 0.0274;
* cone flat, central slice: 0.0444 / 0.0441; cone curved: 0.0484 / 0.0481;
* water disc (fan flat / curved, 360 views): mean HU of 2 mm rings within
  0.8 / 1.2 HU of 0 out to 80 mm, steps between rings at most 0.22 / 0.38 HU;
  with a hard switch from 1/2 to 1 at the overlap edge (27 mm from the axis)
  instead of Wang's weights, a 29 / 34 HU step there.
"""

from __future__ import annotations

import numpy as np
import pytest

from _helpers import assert_adjoint
from hounsfield.data.phantoms import (
    Ellipse,
    Ellipsoid,
    EllipsoidPhantom,
    shepp_logan_2d,
    shepp_logan_3d,
)
from hounsfield.tomo import Projector, cone_beam, fan_beam, from_vectors, project
from hounsfield.tomo import weights as weights_module
from hounsfield.tomo._fbp_geometry import circular_scan
from hounsfield.tomo.fbp import fbp, fdk
from hounsfield.tomo.weights import offset_detector_weights, redundancy_weights
from hounsfield.volume import Volume

MU_WATER = 0.0194  # 1/mm
SOD, SDD, PITCH = 500.0, 1000.0, 4.0  # magnification 2: 2 mm columns at the axis
# An 80-column detector shifted 26 columns sideways reaches 14 columns past the central ray
# on its short side and 66 on its long side: the coverage of a centred 132-column detector.
N_OFFSET, SHIFT_COLUMNS, N_CENTRED = 80, 26, 132


def rmse(a, b, mask) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, float) - b)[mask] ** 2)))


def radii_mm(n: int, pixel_mm: float) -> np.ndarray:
    offsets = (np.arange(n) - (n - 1) / 2) * pixel_mm
    return np.hypot(*np.meshgrid(offsets, offsets, indexing="ij"))


def offset_fan(curved: bool, n_views: int = 720, arc_deg: float = 360.0, shift=SHIFT_COLUMNS):
    return fan_beam(n_views, N_OFFSET, PITCH, sod_mm=SOD, sdd_mm=SDD, curved=curved,
                    det_offset_mm=shift * PITCH, arc_deg=arc_deg)


# -- weights -------------------------------------------------------------------------------


def test_wang_weights_by_hand():
    edge = -0.1  # the short side is the negative one
    gamma = np.array([-0.1, -0.05, 0.0, 0.05, 0.1, 0.3])
    expected = [0.0, np.sin(np.pi / 8) ** 2, 0.5, np.cos(np.pi / 8) ** 2, 1.0, 1.0]
    np.testing.assert_allclose(offset_detector_weights(gamma, edge), expected, atol=1e-15)
    np.testing.assert_allclose(offset_detector_weights(-gamma, -edge), expected, atol=1e-15)
    with pytest.raises(ValueError, match="short_edge_rad must be a finite non-zero"):
        offset_detector_weights(gamma, 0.0)


@pytest.mark.parametrize("curved", [False, True])
def test_weights_of_conjugate_rays_sum_to_one(curved):
    geometry = offset_fan(curved, n_views=360)
    scan = circular_scan(geometry, ndim=2)
    weights = redundancy_weights(scan)
    gamma = scan.fan_angles_rad
    # The short side's last column is 13.5 columns (54 mm) past the central ray.
    reach = 54.0 / SDD if curved else np.arctan(54.0 / SDD)
    assert scan.short_edge_rad == pytest.approx(-np.sign(gamma.sum()) * reach, rel=1e-9)
    assert scan.filtered_columns == N_CENTRED  # the short side mirrored: 52 zero columns
    assert sorted(scan.extra_columns) == [0, 2 * SHIFT_COLUMNS]
    # The conjugate of (β, γ) is (β + π + 2γ, -γ); every view has the same columns, so its
    # weight is the weight at -γ, interpolated along the detector.
    order = np.argsort(gamma[0])
    conjugate = np.interp(-gamma[0], gamma[0][order], weights[0][order], left=np.nan,
                          right=np.nan)
    twice = np.isfinite(conjugate)
    assert twice.sum() == 28  # the overlap: 2 × 14 columns
    np.testing.assert_allclose(weights[0][twice] + conjugate[twice], 1.0, atol=1e-9)
    np.testing.assert_allclose(weights[0][~twice], 1.0)  # measured once: weight 1
    assert weights[0].min() == 0.0  # the short edge
    np.testing.assert_allclose(weights, np.broadcast_to(weights[0], weights.shape))


def test_centred_and_quarter_offset_detectors_keep_the_half_weights():
    for shift in (0.0, 0.25, 0.45):
        scan = circular_scan(offset_fan(False, n_views=90, shift=shift), ndim=2)
        assert scan.short_edge_rad is None and scan.extra_columns == (0, 0)
        np.testing.assert_array_equal(redundancy_weights(scan), 0.5)


# -- reconstruction ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def head_2d():
    head = shepp_logan_2d(fov_mm=256.0)
    return head, head.rasterize((128, 128), 2.0, supersample=8)


@pytest.mark.parametrize("curved", [False, True])
def test_offset_fan_beam_is_as_good_as_the_centred_detector(head_2d, curved):
    head, reference = head_2d
    offset = offset_fan(curved)
    centred = fan_beam(720, N_CENTRED, PITCH, sod_mm=SOD, sdd_mm=SDD, curved=curved)
    offset_image = fbp(head.line_integrals(*offset.rays()), offset, (128, 128), 2.0)
    centred_image = fbp(head.line_integrals(*centred.rays()), centred, (128, 128), 2.0)
    fov = radii_mm(128, 2.0) <= 120.0
    offset_error, centred_error = rmse(offset_image, reference, fov), \
        rmse(centred_image, reference, fov)
    print(f"fan {'curved' if curved else 'flat'} RMSE: offset {offset_error:.5f}, "
          f"centred {centred_error:.5f}")
    assert offset_error < 1.03 * centred_error
    brain = radii_mm(128, 2.0) <= 70.0
    assert rmse(offset_image, centred_image, brain) < 0.003  # 1.5 % of the brain's 0.2


@pytest.mark.parametrize("curved", [False, True])
def test_offset_cone_beam_is_as_good_as_the_centred_detector(curved):
    head = shepp_logan_3d(fov_mm=256.0)
    shape, voxel = (3, 64, 64), 4.0
    offset = cone_beam(360, (24, N_OFFSET // 2), 2 * PITCH, sod_mm=600, sdd_mm=1200,
                       offsets=(SHIFT_COLUMNS * PITCH, 0.0), curved=curved)
    centred = cone_beam(360, (24, N_CENTRED // 2), 2 * PITCH, sod_mm=600, sdd_mm=1200,
                        curved=curved)
    offset_volume = fdk(head.line_integrals(*offset.rays()), offset, shape, voxel)
    centred_volume = fdk(head.line_integrals(*centred.rays()), centred, shape, voxel)
    reference = head.rasterize(shape, voxel, supersample=8).array[1]
    fov = radii_mm(64, voxel) <= 120.0
    offset_error = rmse(offset_volume[1], reference, fov)
    centred_error = rmse(centred_volume[1], reference, fov)
    print(f"cone {'curved' if curved else 'flat'} RMSE: offset {offset_error:.5f}, "
          f"centred {centred_error:.5f}")
    assert offset_error < 1.03 * centred_error


def test_offset_side_and_sense_of_rotation_do_not_matter():
    phantom = EllipsoidPhantom([Ellipse((20.0, -10.0), (100.0, 90.0), value=0.02)])
    images = {}
    for shift in (SHIFT_COLUMNS, -SHIFT_COLUMNS):
        forward = offset_fan(False, n_views=360, shift=shift)
        views = slice(None, None, -1)  # the same rays, visited clockwise
        backward = from_vectors(source=forward.source[views], detector=forward.detector[views],
                                u=forward.u[views], det_shape=forward.det_shape)
        sinogram = phantom.line_integrals(*forward.rays())
        images[shift] = fbp(sinogram, forward, (64, 64), 4.0)
        np.testing.assert_allclose(fbp(sinogram[views], backward, (64, 64), 4.0),
                                   images[shift], atol=1e-5 * 0.02)
    assert circular_scan(forward, ndim=2).extra_columns == (0, 2 * SHIFT_COLUMNS)
    y, x = np.meshgrid(*2 * [(np.arange(64) - 31.5) * 4.0], indexing="ij")
    interior = ((x - 20.0) / 90.0) ** 2 + ((y + 10.0) / 80.0) ** 2 < 1.0  # 10 mm from the rim
    for image in images.values():
        np.testing.assert_allclose(image[interior], 0.02, atol=0.02 * 0.01)


def _hard_switch_weights(gamma_rad, short_edge_rad):
    """1/2 where a ray's conjugate is measured, 1 where not: a step at the overlap edge."""
    gamma = np.asarray(gamma_rad, float)
    overlap = np.abs(gamma) <= abs(short_edge_rad)
    long_side = np.sign(gamma) == -np.sign(short_edge_rad)
    return np.where(overlap, 0.5, np.where(long_side, 1.0, 0.0))


def _ring_profile_hu(geometry) -> np.ndarray:
    """Mean HU of a water disc (radius 110 mm) in 2 mm rings out to 80 mm."""
    water = EllipsoidPhantom([Ellipse((0.0, 0.0), (110.0, 110.0), value=MU_WATER)])
    image = fbp(water.line_integrals(*geometry.rays()), geometry, (128, 128), 2.0, hu=True,
                mu_water_per_mm=MU_WATER)
    radii = radii_mm(128, 2.0)
    return np.array([image[(radii >= r) & (radii < r + 2.0)].mean()
                     for r in np.arange(0.0, 80.0, 2.0)])


@pytest.mark.parametrize("curved", [False, True])
def test_water_reads_zero_with_no_ring_at_the_overlap_edge(curved, monkeypatch):
    geometry = offset_fan(curved, n_views=360)
    overlap_edge_mm = SOD * np.sin(abs(circular_scan(geometry, ndim=2).short_edge_rad))
    assert 20.0 < overlap_edge_mm < 40.0  # inside the profile
    profile = _ring_profile_hu(geometry)
    assert np.abs(profile).max() < 2.0
    assert np.abs(np.diff(profile)).max() < 0.5
    # A hard switch of the weights at the overlap edge leaves a ring there, which the
    # profile shows: the test sees what it looks for.
    monkeypatch.setattr(weights_module, "offset_detector_weights", _hard_switch_weights)
    stepped = _ring_profile_hu(geometry)
    step_at = 2.0 * np.argmax(np.abs(np.diff(stepped)))
    assert np.abs(np.diff(stepped)).max() > 5.0
    assert abs(step_at - overlap_edge_mm) < 6.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"shift": 39.0}, "cover the central ray"),  # half a column past the centre
    ({"shift": 45.0}, "cover the central ray"),  # the central ray misses the detector
    ({"arc_deg": 270.0, "n_views": 270}, "needs a full turn"),
])
def test_offset_detector_limits_are_explicit(kwargs, message):
    geometry = offset_fan(False, **({"n_views": 90} | kwargs))
    with pytest.raises(ValueError, match=message):
        fbp(np.zeros(geometry.projection_shape), geometry, (32, 32), 4.0)


def test_offset_detector_refuses_parker_weights():
    geometry = offset_fan(True, n_views=90)
    with pytest.raises(ValueError, match="needs a full turn"):
        fbp(np.zeros(geometry.projection_shape), geometry, (32, 32), 4.0, short_scan=True)
    cone = cone_beam(90, (8, 40), 8.0, sod_mm=600, sdd_mm=1200, offsets=(170.0, 0.0))
    with pytest.raises(ValueError, match="cover the central ray"):
        fdk(np.zeros(cone.projection_shape), cone, (4, 32, 32), 4.0)


# -- curved cone detector with a row offset ----------------------------------------------------

ROWS, ROW_SHIFT = 32, 6  # the shifted detector keeps rows 12–31 of the centred one


def _curved_pair():
    centred = cone_beam(180, (ROWS, 72), 4.0, sod_mm=300, sdd_mm=600, curved=True)
    lifted = cone_beam(180, (ROWS - 2 * ROW_SHIFT, 72), 4.0, sod_mm=300, sdd_mm=600,
                       curved=True, offsets=(0.0, ROW_SHIFT * 4.0))
    return centred, lifted


def test_lifted_curved_detector_lies_on_the_cylinder():
    _, lifted = _curved_pair()
    pixels = lifted.pixel_centers(7) - lifted.source[7]
    np.testing.assert_allclose(np.hypot(pixels[..., 0], pixels[..., 1]), 600.0, rtol=1e-12)
    heights = (np.arange(ROWS - 2 * ROW_SHIFT) - (ROWS - 2 * ROW_SHIFT - 1) / 2 + ROW_SHIFT) * 4
    np.testing.assert_allclose(pixels[..., 2], np.broadcast_to(heights[:, None], (20, 72)),
                               atol=1e-12)


def test_fdk_with_a_row_offset_reads_the_same_rows_as_the_centred_detector():
    phantom = EllipsoidPhantom([Ellipsoid((5.0, -3.0, 8.0), (50.0, 45.0, 30.0), value=0.02),
                                Ellipsoid((-10.0, 5.0, 12.0), (15.0, 15.0, 8.0), value=0.01)])
    centred, lifted = _curved_pair()
    full = phantom.line_integrals(*centred.rays())
    kept = phantom.line_integrals(*lifted.rays())
    np.testing.assert_allclose(kept, full[:, 2 * ROW_SHIFT:], atol=1e-9)  # the same rays
    # Voxels between z = 0 and 18 mm project onto the kept rows in every view (heights of
    # at most 18 mm × 600 / 240 = 45 mm, the kept rows reach 62 mm).
    volume = Volume(np.zeros((10, 30, 30), np.float32), spacing_mm=(2.0, 4.0, 4.0),
                    origin_mm=(-58.0, -58.0, 0.0))
    reference = fdk(full, centred, volume).array
    shifted = fdk(kept, lifted, volume).array
    np.testing.assert_allclose(shifted, reference, atol=1e-6 * np.abs(reference).max())
    assert reference[5, 15, 15] == pytest.approx(0.03, rel=0.05)  # both ellipsoids there


@pytest.fixture(scope="module")
def lifted_curved_cone():
    return cone_beam(24, (40, 64), 3.0, sod_mm=300, sdd_mm=500, curved=True,
                     offsets=(5.0, -12.0))


def test_projector_adjoint_with_a_lifted_curved_detector(lifted_curved_cone):
    assert_adjoint(Projector(lifted_curved_cone, (11, 20, 24), (1.5, 1.0, 1.2)))


@pytest.fixture(scope="module")
def head_volume():
    phantom = shepp_logan_3d("classic", fov_mm=128.0)
    return phantom, phantom.rasterize((96, 128, 128), (4 / 3, 1.0, 1.0), supersample=2)


def test_projector_matches_exact_line_integrals_on_a_lifted_curved_detector(
        head_volume, lifted_curved_cone):
    phantom, volume = head_volume
    exact = phantom.line_integrals(*lifted_curved_cone.rays())
    error = np.linalg.norm(project(volume, lifted_curved_cone) - exact) / np.linalg.norm(exact)
    assert error <= 0.015  # 1.20 % (1.16 % unshifted): Joseph's sampling error


def test_projector_traces_the_same_rays_as_the_centred_detector(head_volume):
    # Lowered by 8 rows, the detector keeps rows 0–39 of a centred one of 56 rows: the
    # projector must give those rows exactly (a ray lifted by the wrong height along the
    # arc, h (1 - cos γ), shows as 0.3 % of the projections here).
    _, volume = head_volume
    centred = cone_beam(24, (56, 64), 3.0, sod_mm=300, sdd_mm=500, curved=True,
                        offsets=(5.0, 0.0))
    lowered = cone_beam(24, (40, 64), 3.0, sod_mm=300, sdd_mm=500, curved=True,
                        offsets=(5.0, -24.0))
    expected = project(volume, centred)[:, :40]
    np.testing.assert_allclose(project(volume, lowered), expected,
                               atol=1e-5 * np.abs(expected).max())
