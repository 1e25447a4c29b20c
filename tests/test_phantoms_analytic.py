"""Exactness of the analytic phantoms: Shepp–Logan 2D/3D, ellipse and ellipsoid sums."""

import math

import numpy as np
import pytest
from scipy import ndimage

from hounsfield.data.phantoms import (
    MU_WATER_PER_MM,
    Ellipse,
    Ellipsoid,
    EllipsoidPhantom,
    shepp_logan_2d,
    shepp_logan_3d,
)
from hounsfield.volume import AXIAL_LPS, Volume

FOV_MM = 256.0


@pytest.fixture(scope="module", params=["classic", "modified"])
def head_2d(request):
    return shepp_logan_2d(request.param, fov_mm=FOV_MM, mu_water_per_mm=MU_WATER_PER_MM)


@pytest.fixture(scope="module", params=["classic", "modified"])
def head_3d(request):
    return shepp_logan_3d(request.param, fov_mm=FOV_MM, mu_water_per_mm=MU_WATER_PER_MM)


def parallel_rays(angles, positions):
    """Point on each ray and its direction for the sinogram convention, shape (A, D, 2)."""
    angles = np.asarray(angles)[:, None]
    normal = np.stack(np.broadcast_arrays(np.cos(angles), np.sin(angles)), axis=-1)
    along = np.stack(np.broadcast_arrays(-np.sin(angles), np.cos(angles)), axis=-1)
    return np.asarray(positions)[None, :, None] * normal, along


def random_cone_rays(rng, count, source_distance_mm=600.0):
    """Rays from sources on a tilted circle to random points across the head, 3D."""
    angle = rng.uniform(0, 2 * np.pi, count)
    sources = np.stack([source_distance_mm * np.cos(angle), source_distance_mm * np.sin(angle),
                        rng.uniform(-80, 80, count)], axis=-1)
    aims = rng.uniform(-90, 90, (count, 3))
    return sources, 2 * aims - sources


# -- line integrals -----------------------------------------------------------------


def test_closed_form_sinogram_equals_generic_rays(head_2d):
    angles = np.linspace(0, 2 * np.pi, 41)
    positions = np.linspace(-140, 140, 97)
    points, directions = parallel_rays(angles, positions)
    generic = head_2d.line_integrals(points, directions)
    closed = head_2d.parallel_sinogram(angles, positions)
    np.testing.assert_allclose(closed, generic, rtol=1e-9, atol=1e-12)
    assert closed.max() > 1.0  # a few water-equivalent decimetres, not all zeros


def test_sinogram_at_opposite_angle_is_mirrored(head_2d):
    angles = np.linspace(0, np.pi, 19)
    positions = np.linspace(-130, 130, 131)  # symmetric about 0
    forward = head_2d.parallel_sinogram(angles, positions)
    backward = head_2d.parallel_sinogram(angles + np.pi, positions)
    np.testing.assert_allclose(backward, forward[:, ::-1], atol=1e-12)


def test_every_projection_holds_the_total_mass(head_2d):
    positions = np.linspace(-150, 150, 60001)
    sinogram = head_2d.parallel_sinogram(np.linspace(0, np.pi, 7), positions)
    masses = sinogram.sum(axis=1) * (positions[1] - positions[0])
    expected = sum(e.value * math.pi * math.prod(e.semi_axes_mm) for e in head_2d.shapes)
    np.testing.assert_allclose(masses, expected, rtol=1e-5)
    assert head_2d.integral() == pytest.approx(expected)


def test_rotated_phantom_rotates_the_sinogram(head_2d):
    angles, positions, turn = np.linspace(0, np.pi, 13), np.linspace(-120, 120, 61), 0.37
    original = head_2d.parallel_sinogram(angles, positions)
    turned = head_2d.rotated(turn).parallel_sinogram(angles + turn, positions)
    np.testing.assert_allclose(turned, original, atol=1e-12)


def test_translated_phantom_shifts_the_sinogram(head_2d):
    offset = np.array([12.5, -7.0])
    moved = head_2d.translated(offset)
    positions = np.linspace(-100, 100, 41)
    for angle in np.linspace(0, np.pi, 7):
        shift = offset @ [math.cos(angle), math.sin(angle)]
        np.testing.assert_allclose(moved.parallel_sinogram([angle], positions + shift),
                                   head_2d.parallel_sinogram([angle], positions), atol=1e-12)


def test_line_integrals_match_sampling_a_fine_rasterization():
    phantom = shepp_logan_2d("classic", fov_mm=FOV_MM, mu_water_per_mm=MU_WATER_PER_MM)
    size = 512
    image = phantom.rasterize((size, size), supersample=2).astype(float)
    pixel_mm = FOV_MM / size
    rng = np.random.default_rng(3)
    angles, positions = rng.uniform(0, 2 * np.pi, 60), rng.uniform(-70, 70, 60)
    points, directions = parallel_rays(angles, [0.0])
    points = positions[:, None] * points[:, 0, :]  # one ray per angle, away from grazing the skull
    directions = directions[:, 0, :]
    exact = phantom.line_integrals(points, directions)
    steps = np.arange(-140, 140, 0.05)
    samples = points[:, None, :] + steps[None, :, None] * directions[:, None, :]
    index = samples[..., ::-1] / pixel_mm + (size - 1) / 2  # (row, col) from (x, y)
    values = ndimage.map_coordinates(image, np.moveaxis(index, -1, 0), order=1)
    np.testing.assert_allclose(values.sum(axis=1) * 0.05, exact, atol=0.02)
    assert exact.min() > 1.0


def test_3d_line_integrals_match_numerical_integration(head_3d):
    sources, targets = random_cone_rays(np.random.default_rng(4), 30)
    exact = head_3d.line_integrals(sources, targets_mm=targets)
    steps = np.linspace(0, 1, 40001)
    length = np.linalg.norm(targets - sources, axis=-1)
    samples = sources[:, None, :] + steps[None, :, None] * (targets - sources)[:, None, :]
    numeric = head_3d.value_at(samples).mean(axis=1) * length
    np.testing.assert_allclose(numeric, exact, atol=5e-3)
    assert np.count_nonzero(exact) > 20


def test_segments_add_up_and_lines_are_two_sided(head_3d):
    sources, targets = random_cone_rays(np.random.default_rng(5), 50)
    middle = sources + 0.47 * (targets - sources)
    whole = head_3d.line_integrals(sources, targets_mm=targets)
    parts = (head_3d.line_integrals(sources, targets_mm=middle)
             + head_3d.line_integrals(middle, targets_mm=targets))
    np.testing.assert_allclose(parts, whole, atol=1e-12)
    np.testing.assert_allclose(head_3d.line_integrals(targets, targets_mm=sources), whole,
                               atol=1e-12)
    line = head_3d.line_integrals(middle, directions=targets - sources)  # sources lie outside
    np.testing.assert_allclose(line, whole, atol=1e-12)


def test_3d_rotation_and_translation_move_the_rays(head_3d):
    sources, targets = random_cone_rays(np.random.default_rng(6), 40)
    turn, offset = 0.8, np.array([5.0, -3.0, 11.0])
    rotation = np.array([[math.cos(turn), -math.sin(turn), 0], [math.sin(turn), math.cos(turn), 0],
                         [0, 0, 1]])
    moved = head_3d.rotated(turn).translated(offset)
    moved_sources, moved_targets = sources @ rotation.T + offset, targets @ rotation.T + offset
    np.testing.assert_allclose(moved.line_integrals(moved_sources, targets_mm=moved_targets),
                               head_3d.line_integrals(sources, targets_mm=targets), atol=1e-12)


def test_3d_parallel_projection_holds_the_total_mass(head_3d):
    detector = np.arange(-130, 130, 0.5) + 0.25
    u, v = np.meshgrid(detector, detector)
    direction = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
    across = np.cross(direction, [0, 0, 1.0])
    across /= np.linalg.norm(across)
    points = u[..., None] * across + v[..., None] * np.cross(direction, across)
    mass = head_3d.line_integrals(points, direction).sum() * 0.25
    expected = sum(e.value * 4 / 3 * math.pi * math.prod(e.semi_axes_mm) for e in head_3d.shapes)
    assert mass == pytest.approx(expected, rel=1e-4)
    assert head_3d.integral() == pytest.approx(expected)


def test_line_through_ball_centre_is_diameter_times_value():
    ball = EllipsoidPhantom([Ellipsoid((1.0, 2.0, 3.0), (5.0, 5.0, 5.0), value=0.02)])
    chord = ball.line_integrals([1.0, 2.0, -100.0], directions=[0, 0, 2.5])
    assert float(chord) == pytest.approx(0.2, rel=1e-12)
    assert float(ball.line_integrals([1.0, 7.1, -100.0], directions=[0, 0, 1])) == 0.0


# -- rasterization ---------------------------------------------------------------------


@pytest.mark.parametrize("supersample, rtol", [(1, 3e-3), (2, 5e-4), (4, 1e-4)])
def test_rasterized_mass_matches_area(supersample, rtol):
    phantom = shepp_logan_2d("classic", fov_mm=FOV_MM, mu_water_per_mm=MU_WATER_PER_MM)
    image = phantom.rasterize((256, 256), supersample=supersample).astype(float)
    assert image.sum() * (FOV_MM / 256) ** 2 == pytest.approx(phantom.integral(), rel=rtol)


@pytest.mark.parametrize("supersample, rtol", [(1, 2e-3), (3, 1e-3)])
def test_rasterized_3d_mass_matches_volume(head_3d, supersample, rtol):
    volume = head_3d.rasterize((64, 64, 64), supersample=supersample)
    mass = volume.array.astype(float).sum() * np.prod(volume.spacing_mm)
    assert mass == pytest.approx(head_3d.integral(), rel=rtol)


def test_supersampled_edge_voxel_holds_its_covered_fraction():
    half_plane_like = EllipsoidPhantom([Ellipse((0.0, 0.0), (1000.0, 1000.0))])
    # Grid of 1 mm pixels whose middle column straddles x = 1000 mm - 0.3 mm.
    image = half_plane_like.rasterize((1, 3), spacing_mm=1.0, center_mm=(999.7, 0.0),
                                      supersample=10, dtype=np.float64)
    np.testing.assert_allclose(image[0], [1.0, 0.8, 0.0], atol=1e-3)


@pytest.mark.parametrize("shape", [(64, 64), (65, 65), (64, 65), (33, 48)])
def test_centred_disc_is_symmetric_on_odd_and_even_grids(shape):
    disc = EllipsoidPhantom([Ellipse((0.0, 0.0), (20.0, 20.0))])
    image = disc.rasterize(shape, spacing_mm=1.0, supersample=4)
    np.testing.assert_allclose(image, image[::-1, ::-1], atol=1e-6)
    np.testing.assert_allclose(image, image[::-1, :], atol=1e-6)
    centre = ndimage.center_of_mass(image)
    np.testing.assert_allclose(centre, (np.array(shape) - 1) / 2, atol=1e-6)


@pytest.mark.parametrize("shape", [(31, 32, 33), (32, 32, 32)])
def test_volume_geometry_places_voxels_at_exact_values(head_3d, shape):
    volume = head_3d.rasterize(shape, spacing_mm=(5.0, 6.0, 7.0), center_mm=(3.0, -4.0, 5.0))
    assert isinstance(volume, Volume) and volume.shape == shape
    np.testing.assert_array_equal(volume.direction, AXIAL_LPS)
    middle = volume.index_to_world((np.array(shape) - 1) / 2)
    np.testing.assert_allclose(middle, (3.0, -4.0, 5.0), atol=1e-9)
    index = np.stack(np.indices(shape), axis=-1)
    expected = head_3d.value_at(volume.index_to_world(index))
    np.testing.assert_allclose(volume.array, expected, atol=1e-6)


def test_default_spacing_covers_the_field_of_view(head_3d):
    volume = head_3d.rasterize((16, 32, 64))
    np.testing.assert_allclose(volume.extent_mm, (FOV_MM,) * 3)


def test_image_rows_are_y_and_columns_are_x():
    off_centre = EllipsoidPhantom([Ellipse((30.0, -10.0), (4.0, 4.0))], fov_mm=100.0)
    image = off_centre.rasterize((100, 100), supersample=2)
    row, col = ndimage.center_of_mass(image)
    assert (col - 49.5, row - 49.5) == pytest.approx((30.0, -10.0), abs=1e-6)


# -- the Shepp–Logan tables ---------------------------------------------------------


def test_modified_2d_looks_like_scikit_image_phantom():
    skimage_data = pytest.importorskip("skimage.data")
    reference = skimage_data.shepp_logan_phantom()  # modified, 400 × 400, textbook orientation
    ours = shepp_logan_2d("modified").rasterize(reference.shape, supersample=4)
    assert np.abs(ours - reference).mean() < 0.01
    assert np.abs(ours[::-1] - reference).mean() > 0.03  # so the orientation is what matched


def test_classic_values_are_realistic_hu():
    phantom = shepp_logan_2d("classic", fov_mm=FOV_MM, mu_water_per_mm=MU_WATER_PER_MM)
    half = FOV_MM / 2
    points = {"air": (0.0, -0.99 * half), "skull": (0.0, -0.9 * half), "brain": (0.0, 0.0),
              "ventricle": (0.22 * half, 0.0), "tumour": (0.0, 0.35 * -half)}
    hu = {name: 1000 * (float(phantom.value_at(p)) / MU_WATER_PER_MM - 1)
          for name, p in points.items()}
    assert hu == pytest.approx({"air": -1000, "skull": 1000, "brain": 20, "ventricle": 0,
                                "tumour": 30}, abs=1e-9)


def test_small_ellipses_sit_at_the_bottom_of_the_image():
    image = shepp_logan_2d("modified").rasterize((256, 256), supersample=2)
    lower_third = image[200:230, 100:156]
    assert lower_third.max() > 0.25  # the three small ellipses near y = +0.605 (posterior)


def test_3d_central_slices_hold_the_ventricles(head_3d):
    volume = head_3d.rasterize((64, 128, 128), supersample=2)
    slice_index = int(round(volume.world_to_index([0, 0, -0.25 * FOV_MM / 2])[0]))
    brain = volume.array[slice_index, 64, 64]
    ventricle_row, ventricle_col = 64, 64 + int(0.22 * 64)
    assert volume.array[slice_index, ventricle_row, ventricle_col] < brain


def test_scaled_phantom_scales_its_line_integrals(head_2d):
    scaled = head_2d.scaled(length_factor=2.0, value_factor=0.5)
    assert scaled.fov_mm == 2 * head_2d.fov_mm
    angles, positions = np.linspace(0, np.pi, 5), np.linspace(-100, 100, 11)
    np.testing.assert_allclose(scaled.parallel_sinogram(angles, 2 * positions),
                               head_2d.parallel_sinogram(angles, positions), atol=1e-12)


def test_euler_angles_turn_axes_as_documented():
    tilted = Ellipsoid((0, 0, 0), (10.0, 2.0, 2.0), angles_rad=(math.pi / 2, 0.0, 0.0))
    assert tilted.contains(0.0, 9.0, 0.0) and not tilted.contains(9.0, 0.0, 0.0)
    tipped = Ellipsoid((0, 0, 0), (2.0, 10.0, 2.0), angles_rad=(0.0, math.pi / 2, 0.0))
    assert tipped.contains(0.0, 0.0, 9.0) and not tipped.contains(0.0, 9.0, 0.0)


# -- parameter checks --------------------------------------------------------------


@pytest.mark.parametrize("call, words", [
    (lambda: shepp_logan_2d("bogus"), "variant must be one of"),
    (lambda: shepp_logan_2d(fov_mm=-1.0), "fov_mm must be"),
    (lambda: shepp_logan_3d(mu_water_per_mm=0.0), "mu_water_per_mm must be"),
    (lambda: shepp_logan_2d().rasterize((10, 10, 10)), "shape must be 2 integers"),
    (lambda: shepp_logan_2d().rasterize((10, 10), supersample=0), "supersample must be"),
    (lambda: shepp_logan_2d().rasterize((10, 10), spacing_mm=(1.0, -1.0)), "spacing_mm must be"),
    (lambda: shepp_logan_2d().line_integrals([0.0, 0.0]), "exactly one of"),
    (lambda: shepp_logan_2d().line_integrals([0.0, 0.0, 0.0], [1.0, 0.0, 0.0]), "sources_mm"),
    (lambda: shepp_logan_2d().line_integrals([0.0, 0.0], [0.0, 0.0]), "directions must be"),
    (lambda: shepp_logan_3d().parallel_sinogram([0.0], [0.0]), "2D"),
    (lambda: Ellipse((0.0, 0.0), (1.0, 0.0)), "Ellipse.semi_axes_mm must be"),
    (lambda: EllipsoidPhantom([]), "shapes must be"),
    (lambda: EllipsoidPhantom([Ellipse((0, 0), (1, 1)), Ellipsoid((0, 0, 0), (1, 1, 1))]),
     "only Ellipse or only Ellipsoid"),
])
def test_bad_parameters_are_named(call, words):
    with pytest.raises(ValueError, match=words):
        call()
