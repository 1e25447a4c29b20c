"""Weight-free body and lung segmentation, measured by Dice against reference labels."""

import time

import numpy as np
import pytest

from hounsfield.data.anatomy import body_mask, thorax_phantom
from hounsfield.errors import HounsfieldWarning
from hounsfield.metrics import dice
from hounsfield.segment import segment_body, segment_lungs
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
