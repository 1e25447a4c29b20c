"""Weight-free body and lung segmentation, measured by Dice against reference labels."""

import time

import numpy as np
import pytest
from scipy import ndimage

from hounsfield.data.anatomy import body_mask, thorax_phantom
from hounsfield.errors import HounsfieldWarning
from hounsfield.metrics import dice
from hounsfield.segment import segment_body, segment_lungs
from hounsfield.segment._morphology import (
    _COUNT_CHUNK,
    _ball_rows,
    bounding_box,
    close_mm,
    closer_to_first,
    component_labels,
    dilate_mm,
    erode_mm,
    fill_holes_per_slice,
    open_mm,
)
from hounsfield.segment.lungs import _centre_index, _split_merged_lungs
from hounsfield.volume import Volume

LEFT_LOBES = ("lung_upper_lobe_left", "lung_lower_lobe_left")
RIGHT_LOBES = ("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right")


def _union(labels: Volume, names) -> np.ndarray:
    return np.isin(labels.array, [labels.labels.id_of(name) for name in names])


def _label(labels: Volume, name: str) -> np.ndarray:
    return labels.array == labels.labels.id_of(name)


def _centre_x_mm(volume: Volume, mask: np.ndarray) -> float:
    return float(volume.index_to_world(np.mean(np.nonzero(mask), axis=1))[0])


# -- thorax phantom -----------------------------------------------------------------


@pytest.fixture(scope="module")
def phantom():
    return thorax_phantom(noise_hu=20.0)


@pytest.fixture(scope="module")
def phantom_segmentation(phantom):
    ct, _ = phantom
    body = segment_body(ct)
    return (body, *segment_lungs(ct, body=body))


def test_phantom_body_matches_reference_without_table(phantom, phantom_segmentation):
    _, labels = phantom
    body = phantom_segmentation[0]
    assert body.dtype == bool and body.shape == labels.shape
    assert dice(body, body_mask(labels)) >= 0.98
    assert not (body & _label(labels, "table")).any()


def test_phantom_lungs_match_reference(phantom, phantom_segmentation):
    _, labels = phantom
    _, left, right = phantom_segmentation
    assert dice(left, _label(labels, "lung_left")) >= 0.95
    assert dice(right, _label(labels, "lung_right")) >= 0.95
    assert not (left & right).any()


def test_phantom_lungs_exclude_trachea(phantom, phantom_segmentation):
    _, labels = phantom
    _, left, right = phantom_segmentation
    trachea = _label(labels, "trachea")
    assert ((left | right) & trachea).sum() < 0.05 * trachea.sum()


def test_left_lung_found_by_world_x_not_array_order(phantom):
    """Mirrored array with a mirrored direction: the same patient, so the same sides."""
    ct, labels = phantom
    direction = ct.direction.copy()
    direction[:, 2] *= -1
    origin = ct.index_to_world(np.array([0, 0, ct.shape[2] - 1]))
    mirrored = Volume(ct.array[:, :, ::-1].copy(), spacing_mm=ct.spacing_mm,
                      origin_mm=tuple(origin), direction=direction)
    left, right = segment_lungs(mirrored)
    assert dice(left, _label(labels, "lung_left")[:, :, ::-1]) >= 0.95
    assert _centre_x_mm(mirrored, left) > _centre_x_mm(mirrored, right)


def test_abdomen_crop_has_no_lungs(phantom):
    ct, labels = phantom
    first_lung_slice = np.nonzero(_label(labels, "lung_left").any(axis=(1, 2)))[0].min()
    abdomen = ct.crop((0, 0, 0), (first_lung_slice - 2, *ct.shape[1:]))
    with pytest.warns(HounsfieldWarning, match="no lungs found"):
        left, right = segment_lungs(abdomen)
    assert left.shape == abdomen.shape and not left.any() and not right.any()


def test_empty_scan_has_no_body_and_no_lungs():
    air = Volume(np.full((4, 16, 16), -1000.0, dtype=np.float32))
    assert not segment_body(air).any()
    with pytest.warns(HounsfieldWarning, match="no lungs found"):
        left, right = segment_lungs(air)
    assert not left.any() and not right.any()


def test_body_ignores_padding_outside_scan_circle(phantom):
    ct, labels = phantom
    padded = ct.array.copy()
    k, j, i = np.ogrid[: ct.shape[0], : ct.shape[1], : ct.shape[2]]
    radius = ct.shape[1] / 2
    outside_circle = (j - ct.shape[1] / 2) ** 2 + (i - ct.shape[2] / 2) ** 2 > radius**2
    padded[np.broadcast_to(outside_circle, ct.shape)] = -3024.0
    body = segment_body(ct.with_array(padded))
    assert dice(body, body_mask(labels) & ~np.broadcast_to(outside_circle, ct.shape)) >= 0.98


# -- real chest CT ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chest_segmentation(chest_ct):
    ct, _ = chest_ct
    started = time.perf_counter()
    body = segment_body(ct)
    left, right = segment_lungs(ct, body=body)
    return body, left, right, time.perf_counter() - started


@pytest.mark.real
def test_chest_lungs_match_reference_lobes(chest_ct, chest_segmentation):
    _, labels = chest_ct
    _, left, right, _ = chest_segmentation
    reference_left, reference_right = _union(labels, LEFT_LOBES), _union(labels, RIGHT_LOBES)
    # Reached: 0.9847 combined, 0.9851 left, 0.9842 right.
    assert dice(left | right, reference_left | reference_right) >= 0.98
    assert dice(left, reference_left) >= 0.975
    assert dice(right, reference_right) >= 0.975


@pytest.mark.real
def test_chest_lungs_exclude_trachea(chest_ct, chest_segmentation):
    _, labels = chest_ct
    _, left, right, _ = chest_segmentation
    trachea = _label(labels, "trachea")
    assert ((left | right) & trachea).sum() < 0.05 * trachea.sum()


@pytest.mark.real
def test_chest_left_lung_lies_at_plus_x(chest_ct, chest_segmentation):
    ct, _ = chest_ct
    _, left, right, _ = chest_segmentation
    assert _centre_x_mm(ct, left) > 0.0 > _centre_x_mm(ct, right)


@pytest.mark.real
def test_chest_body_holds_every_labelled_voxel(chest_ct, chest_segmentation):
    _, labels = chest_ct
    body = chest_segmentation[0]
    labelled = labels.array > 0
    assert (body & labelled).sum() >= 0.99 * labelled.sum()


def _posterior_extent_mm(volume: Volume, mask: np.ndarray) -> float:
    """Largest world y (mm; LPS: + is posterior, towards the table) of the mask's voxels."""
    corners = volume.index_to_world(np.argwhere(mask.any(axis=(0, 2)))[:, [0, 0, 0]]
                                    * np.array([0, 1, 0]))
    return float(corners[:, 1].max())


@pytest.mark.real
def test_chest_body_excludes_table(chest_ct, chest_segmentation):
    ct, labels = chest_ct
    body = chest_segmentation[0]
    table_and_body = ct.array > -500.0
    body_back = _posterior_extent_mm(ct, body)
    # The table lies behind the patient: dense voxels beyond the body's back ...
    assert _posterior_extent_mm(ct, table_and_body) > body_back + 10.0
    # ... while the body ends within skin and fat of the labelled spine and muscles.
    assert body_back < _posterior_extent_mm(ct, labels.array > 0) + 30.0


@pytest.mark.real
def test_chest_segmentation_takes_seconds(chest_segmentation):
    assert chest_segmentation[3] < 30.0


@pytest.mark.real
def test_chest_abdomen_crop_has_no_lungs(chest_ct):
    ct, labels = chest_ct
    lungs = _union(labels, LEFT_LOBES + RIGHT_LOBES)
    first_lung_slice = np.nonzero(lungs.any(axis=(1, 2)))[0].min()
    abdomen = ct.crop((0, 0, 0), (first_lung_slice - 2, *ct.shape[1:]))
    with pytest.warns(HounsfieldWarning, match="no lungs found"):
        left, right = segment_lungs(abdomen)
    assert not left.any() and not right.any()


def _bridge_lungs_anteriorly(ct: Volume, labels: Volume) -> Volume:
    """The phantom with lung tissue joining the two lungs in front (an anterior junction)."""
    hu = ct.array.copy()
    lungs = _label(labels, "lung_left") | _label(labels, "lung_right")
    slices = np.nonzero(lungs.any(axis=(1, 2)))[0]
    for k in slices[len(slices) // 2 - 2: len(slices) // 2 + 2]:
        rows = np.nonzero(lungs[k].any(axis=1))[0]
        row = rows[len(rows) // 2]
        columns = np.nonzero(lungs[k, row])[0]
        hu[k, row - 1: row + 2, columns.min(): columns.max() + 1] = -850.0
    return ct.with_array(hu)


def test_merged_lungs_are_split_left_and_right(phantom):
    ct, labels = phantom
    left, right = segment_lungs(_bridge_lungs_anteriorly(ct, labels))
    assert dice(left, _label(labels, "lung_left")) >= 0.95
    assert dice(right, _label(labels, "lung_right")) >= 0.95


def _every_nth_slice(volume: Volume, n: int) -> Volume:
    """Every n-th axial slice (a thicker-slice scan of the same patient)."""
    spacing = (volume.spacing_mm[0] * n, *volume.spacing_mm[1:])
    return Volume(np.ascontiguousarray(volume.array[::n]), spacing_mm=spacing,
                  origin_mm=volume.origin_mm, direction=volume.direction, labels=volume.labels)


@pytest.mark.real
@pytest.mark.slow
def test_chest_lungs_survive_a_tenth_of_the_dose(chest_ct):
    """Dose 0.1 (720 views, 1.5e4 photons per pixel and view) on every 4th slice (10 mm)."""
    from hounsfield.simulate import low_dose

    ct, labels = (_every_nth_slice(v, 4) for v in chest_ct)
    noisy = low_dose(ct, dose_fraction=0.1, seed=0).degraded
    liver = _label(labels, "liver")
    assert noisy.array[liver].std() > 2.5 * ct.array[liver].std()  # the noise is really there
    left, right = segment_lungs(noisy)
    reference_left, reference_right = _union(labels, LEFT_LOBES), _union(labels, RIGHT_LOBES)
    # Reached: 0.9829 combined, 0.9830 left, 0.9828 right (0.9837 without the added noise).
    assert dice(left | right, reference_left | reference_right) >= 0.95
    assert dice(left, reference_left) >= 0.95 and dice(right, reference_right) >= 0.95


def test_body_and_lungs_do_not_depend_on_the_air_around_the_patient(phantom,
                                                                     phantom_segmentation):
    """More air beside the patient (a wider field of view) leaves every mask as it was."""
    ct, _ = phantom
    pad = ((0, 0), (7, 5), (4, 9))
    wider = Volume(np.pad(ct.array, pad, constant_values=-1000.0), spacing_mm=ct.spacing_mm,
                   origin_mm=tuple(ct.index_to_world(np.array([0, -7, -4]))),
                   direction=ct.direction)
    body = segment_body(wider)
    left, right = segment_lungs(wider, body=body)
    inner = (slice(None), slice(7, -5), slice(4, -9))
    for wide, narrow in zip((body, left, right), phantom_segmentation, strict=True):
        assert np.array_equal(wide[inner], narrow) and wide.sum() == narrow.sum()


# -- morphology in millimetres --------------------------------------------------------

#: The example chest CT's grid: squared distances on it are exact binary fractions.
CT_SPACING_MM = (2.5, 0.703125, 0.703125)


def _blobs(shape, fraction: float, seed: int) -> np.ndarray:
    """A random mask of rounded blobs filling about ``fraction`` of ``shape``."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), 1.5)
    return noise > np.quantile(noise, 1.0 - fraction)


def test_ball_rows_on_the_chest_ct_grid_are_hand_computed():
    # 2 mm: |dz| 2.5 mm is out; in plane (i² + j²) 0.494 mm² <= 4 mm² holds on the 5 × 5 square.
    assert _ball_rows(2.0, CT_SPACING_MM) == {(0, dy): 2 for dy in range(-2, 3)}
    # 1.5 mm: i² + j² <= 4.55 voxels².
    assert _ball_rows(1.5, CT_SPACING_MM) == {(0, -2): 0, (0, -1): 1, (0, 0): 2, (0, 1): 1,
                                              (0, 2): 0}


@pytest.mark.parametrize(("radius_mm", "spacing_mm"), [
    (1.0, (1.0, 1.0, 1.0)),        # an offset exactly on the sphere
    (30.0, CT_SPACING_MM),         # too many rows
    (0.0, CT_SPACING_MM), (-1.0, CT_SPACING_MM), (np.inf, CT_SPACING_MM),
    (2.0, (1.0, 1.0, 0.0)),
])
def test_ball_rows_leave_ties_large_balls_and_odd_input_to_the_distance_transform(
        radius_mm, spacing_mm):
    assert _ball_rows(radius_mm, spacing_mm) is None


def _reference_morphology(mask, radius_mm, spacing_mm):
    """Erosions (edge inside, edge outside), dilation, opening, closing from scipy's EDT."""
    # scipy's transform needs a zero somewhere: a mask without a gap, or without a voxel,
    # is settled here.
    def erode(m, edge_is_outside=False):
        if m.all() and not edge_is_outside:
            return m.copy()
        if edge_is_outside:
            inner = (slice(1, -1),) * m.ndim
            return ndimage.distance_transform_edt(np.pad(m, 1), sampling=spacing_mm)[inner] \
                > radius_mm
        return ndimage.distance_transform_edt(m, sampling=spacing_mm) > radius_mm

    def dilate(m):
        if not m.any():
            return m.copy()
        return ndimage.distance_transform_edt(~m, sampling=spacing_mm) <= radius_mm

    return (erode(mask), erode(mask, True), dilate(mask), dilate(erode(mask)) & mask,
            erode(dilate(mask)) | mask)


@pytest.mark.parametrize(("radius_mm", "spacing_mm"), [
    (1.5, CT_SPACING_MM), (2.0, CT_SPACING_MM), (3.0, CT_SPACING_MM), (4.0, CT_SPACING_MM),
    (2.0, (1.0, 1.0, 1.0)), (2.5, (1.0, 1.0, 1.0)), (2.5, (3.0, 0.8, 0.8)),
    (1.5, (1000.0, 0.7, 0.7)), (9.0, (2.0, 2.5, 2.5)),
])
def test_morphology_matches_thresholded_distance_transforms(radius_mm, spacing_mm):
    mask = np.zeros((14, 36, 33), bool)
    inner = (slice(2, 12), slice(3, 33))  # away from the array's edges in z and y ...
    mask[inner] = _blobs((10, 30, 33), 0.4, seed=int(10 * radius_mm))
    mask[(*inner, slice(-2, None))] = True  # ... and on beyond its edge in x
    got = (erode_mm(mask, radius_mm, spacing_mm),
           erode_mm(mask, radius_mm, spacing_mm, edge_is_outside=True),
           dilate_mm(mask, radius_mm, spacing_mm), open_mm(mask, radius_mm, spacing_mm),
           close_mm(mask, radius_mm, spacing_mm))
    for name, mine, reference in zip(("erode", "erode edge outside", "dilate", "open", "close"),
                                     got, _reference_morphology(mask, radius_mm, spacing_mm),
                                     strict=True):
        assert mine.dtype == bool and np.array_equal(mine, reference), name


@pytest.mark.parametrize("spacing_mm", [CT_SPACING_MM, (1.0, 1.0, 1.0), (2.0, 0.5, 0.5)])
def test_closer_to_first_matches_full_distance_transforms(spacing_mm):
    rng = np.random.default_rng(3)
    shape = (14, 41, 37)
    first, second = rng.random(shape) < 0.002, rng.random(shape) < 0.002
    second &= ~first
    where = _blobs(shape, 0.5, seed=4)
    to_first = ndimage.distance_transform_edt(~first, sampling=spacing_mm)
    to_second = ndimage.distance_transform_edt(~second, sampling=spacing_mm)
    assert np.array_equal(closer_to_first(first, second, spacing_mm, where=where),
                          where & (to_first <= to_second))
    assert np.array_equal(closer_to_first(first, second, spacing_mm), to_first <= to_second)


def test_closer_to_first_splits_two_points_at_their_bisector():
    first, second = np.zeros((5, 40, 60), bool), np.zeros((5, 40, 60), bool)
    first[2, 20, 10] = second[2, 20, 50] = True
    closer = closer_to_first(first, second, (1.0, 1.0, 1.0))
    x = np.arange(60)
    assert np.array_equal(closer, np.broadcast_to(x <= 30, closer.shape))  # tie at x = 30


def test_component_counts_over_many_chunks_are_hand_computed():
    mask = np.zeros((9, 300, 300), bool)
    mask[::2] = True                   # five separate planes of 90 000 voxels
    assert mask.size > 2 * _COUNT_CHUNK
    labels, counts = component_labels(mask)
    assert counts.tolist() == [0] + [90_000] * 5
    assert labels[0, 0, 0] != labels[2, 0, 0] and labels[1].max() == 0


def test_fill_holes_per_slice_fills_closed_rings_only():
    mask = np.zeros((3, 40, 50), bool)
    mask[0, 2:9, 3:10] = True
    mask[0, 4:7, 5:8] = False          # a closed ring near the corner: filled
    mask[2, 20:30, 30:40] = True
    mask[2, 22:30, 32:38] = False      # a U open towards the slice's middle: stays open
    filled = fill_holes_per_slice(mask)
    assert filled[0, 4:7, 5:8].all() and filled[0].sum() == 49
    assert np.array_equal(filled[2], mask[2]) and not filled[1].any()


def test_bounding_box_hand_computed_with_margins_clipped():
    mask = np.zeros((4, 6, 8), bool)
    mask[1, 2, 3] = mask[2, 4, 6] = True
    assert bounding_box(mask) == (slice(1, 3), slice(2, 5), slice(3, 7))
    assert bounding_box(mask, (2, 1, 5)) == (slice(0, 4), slice(1, 6), slice(0, 8))


def test_centre_index_is_the_centre_of_mass():
    mask = _blobs((10, 20, 30), 0.2, seed=5)
    assert np.allclose(_centre_index(mask), ndimage.center_of_mass(mask), rtol=0, atol=1e-9)
    two = np.zeros((3, 4, 5), bool)
    two[0, 1, 1] = two[2, 3, 4] = True
    assert _centre_index(two) == (1.0, 2.0, 2.5)


def test_dumbbell_splits_at_its_bridge_whatever_the_eroding_radius():
    """Two balls (12 mm) joined by a bar (7 mm radius): only an 8 mm erosion parts them,
    past the radii eroded row by row, so the distance-transform branch decides."""
    spacing = (1.0, 0.9, 0.9)
    z, y, x = np.ogrid[-14:15, -15:16, -35:36]
    z, y, x = z * spacing[0], y * spacing[1], x * spacing[2]
    balls = ((x + 16.0) ** 2 + y**2 + z**2 <= 144.0) | ((x - 16.0) ** 2 + y**2 + z**2 <= 144.0)
    merged = balls | ((y**2 + z**2 <= 49.0) & (np.abs(x) <= 16.0))
    assert _ball_rows(8.0, spacing) is None
    first, second = _split_merged_lungs(merged, spacing)
    assert not (first & second).any() and np.array_equal(first | second, merged)
    side = np.broadcast_to(x < 0, merged.shape)
    off_middle = np.broadcast_to(np.abs(x) > 1.0, merged.shape) & merged
    one, other = (first, second) if (first & side).any() else (second, first)
    assert np.array_equal(one[off_middle], side[off_middle])
    assert np.array_equal(other[off_middle], ~side[off_middle])
