"""Label statistics: analytic ellipsoids on any grid, exact HU statistics, other grids, real CT."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from _helpers import grid_around, rotation
from hounsfield.data.analytic import Ellipsoid
from hounsfield.errors import HounsfieldWarning
from hounsfield.labels import LabelTable
from hounsfield.measure import label_statistics, per_slice_statistics
from hounsfield.measure.shape import max_diameter
from hounsfield.volume import Volume


def rasterize(solid: Ellipsoid, grid: Volume) -> np.ndarray:
    """True at the voxels whose centres lie inside the ellipsoid (as label maps are drawn)."""
    index = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), -1)
    world = grid.index_to_world(index.reshape(-1, 3))
    return solid.contains(*world.T).reshape(grid.shape)


def thomsen_area_mm2(a, b, c, p=1.6075) -> float:
    """Knud Thomsen's approximation of an ellipsoid's area (relative error < 1.061 %)."""
    return 4 * math.pi * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p)


def label_volumes(mask: np.ndarray, grid: Volume, hu=None):
    table = LabelTable.from_names({1: "solid"})
    labels = Volume(mask.astype(np.uint8), spacing_mm=grid.spacing_mm, origin_mm=grid.origin_mm,
                    direction=grid.direction, labels=table)
    values = np.where(mask, 40.0, -1000.0).astype(np.float32) if hu is None else hu
    return labels.with_array(values, labels=None), labels


ELLIPSOID_CASES = {
    "axial-isotropic": ((20.0, 12.0, 8.0), (0.4, 0.7, 0.2), (0.6, 0.6, 0.6), None),
    "axial-anisotropic": ((20.0, 12.0, 8.0), (1.1, 0.5, 2.0), (1.5, 0.6, 0.6), None),
    "oblique-anisotropic": ((18.0, 10.0, 7.0), (0.3, 1.2, 0.0), (1.2, 0.5, 0.7),
                            rotation((0.5, 0.35, -0.4))[:, ::-1]),
}


@pytest.fixture(scope="module", params=list(ELLIPSOID_CASES), ids=list(ELLIPSOID_CASES))
def ellipsoid_case(request):
    semi_axes, angles, spacing, direction = ELLIPSOID_CASES[request.param]
    solid = Ellipsoid((4.3, -7.1, 120.2), semi_axes, angles)
    grid = grid_around(solid.center_mm, 2.3 * max(semi_axes), spacing, direction)
    mask = rasterize(solid, grid)
    ct, labels = label_volumes(mask, grid)
    return solid, grid, label_statistics(ct, labels)["solid"]


def test_ellipsoid_volume_within_one_percent(ellipsoid_case):
    solid, _, stats = ellipsoid_case
    assert stats["volume_ml"] == pytest.approx(solid.measure / 1000.0, rel=0.01)


def test_ellipsoid_surface_area_within_three_percent_of_thomsen(ellipsoid_case):
    solid, _, stats = ellipsoid_case
    assert stats["surface_area_mm2"] == pytest.approx(thomsen_area_mm2(*solid.semi_axes_mm),
                                                      rel=0.03)


def test_ellipsoid_max_diameter_within_one_voxel_diagonal(ellipsoid_case):
    solid, grid, stats = ellipsoid_case
    diagonal = float(np.linalg.norm(grid.spacing_mm))
    assert abs(stats["max_diameter_mm"] - 2 * max(solid.semi_axes_mm)) < diagonal


def test_ellipsoid_centroid_and_box_in_world_mm(ellipsoid_case):
    solid, grid, stats = ellipsoid_case
    diagonal = float(np.linalg.norm(grid.spacing_mm))
    assert np.allclose(stats["centroid_mm"], solid.center_mm, atol=0.1)
    low, high = solid.bounds_mm()
    assert np.all(np.abs(np.asarray(stats["bbox_min_mm"]) - low) < diagonal)
    assert np.all(np.abs(np.asarray(stats["bbox_max_mm"]) - high) < diagonal)
    assert np.all(np.asarray(stats["bbox_min_mm"]) >= low)  # voxel centres lie inside
    assert np.all(np.asarray(stats["bbox_max_mm"]) <= high)


def test_sphere_has_sphericity_one():
    solid = Ellipsoid((0.0, 0.0, 0.0), (12.0, 12.0, 12.0))
    grid = grid_around(solid.center_mm, 30.0, (1.0, 0.8, 0.8))
    ct, labels = label_volumes(rasterize(solid, grid), grid)
    assert label_statistics(ct, labels)["solid"]["sphericity"] == pytest.approx(1.0, abs=0.02)


def test_max_diameter_is_the_farthest_pair():
    points = np.random.default_rng(3).normal(size=(300, 3))
    brute = max(np.linalg.norm(p - q) for p in points for q in points)
    assert max_diameter(points)[0] == pytest.approx(brute, rel=1e-12)


# -- HU statistics -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hand_made():
    rng = np.random.default_rng(7)
    hu = rng.normal(0.0, 300.0, (9, 11, 13)).round(1).astype(np.float32)
    ids = rng.integers(0, 4, (9, 11, 13)).astype(np.uint8)
    ids[ids == 2] = 0  # id 2 is in the table but absent
    table = LabelTable.from_names({1: "one", 2: "two", 3: "three"})
    spacing = (2.0, 0.75, 0.5)
    return Volume(hu, spacing_mm=spacing), Volume(ids, spacing_mm=spacing, labels=table)


def test_hu_statistics_equal_numpy(hand_made):
    ct, labels = hand_made
    stats = label_statistics(ct, labels, percentiles=(2.5, 50, 97.5))
    for name in ("one", "three"):
        values = ct.array[labels.array == labels.labels.id_of(name)]
        entry = stats[name]
        assert entry["voxel_count"] == entry["hu_voxel_count"] == values.size
        assert entry["volume_ml"] == pytest.approx(values.size * 2.0 * 0.75 * 0.5 / 1000.0)
        assert entry["hu_mean"] == float(values.mean(dtype=np.float64))
        assert entry["hu_sd"] == float(values.std(dtype=np.float64))
        assert entry["hu_median"] == float(np.median(values))
        assert [entry["hu_p2.5"], entry["hu_p50"], entry["hu_p97.5"]] == \
            np.percentile(values, [2.5, 50, 97.5]).tolist()
        assert (entry["hu_min"], entry["hu_max"]) == (values.min(), values.max())


def test_absent_label_has_zero_volume_and_none(hand_made):
    ct, labels = hand_made
    entry = label_statistics(ct, labels)["two"]
    assert entry["voxel_count"] == 0 and entry["volume_ml"] == 0.0
    assert entry["hu_mean"] is None and entry["centroid_mm"] is None
    assert entry["surface_area_mm2"] is None and entry["sphericity"] is None


def test_names_select_labels_and_unknown_names_are_refused(hand_made):
    ct, labels = hand_made
    assert list(label_statistics(ct, labels, names=["three", "one"])) == ["one", "three"]
    assert list(label_statistics(ct, labels, names={3: "right"})) == ["right"]
    with pytest.raises(ValueError, match="liver"):
        label_statistics(ct, labels, names=["liver"])
    with pytest.raises(ValueError, match="percentiles"):
        label_statistics(ct, labels, percentiles=(120,))
    with pytest.raises(TypeError, match="ct must be"):
        label_statistics(ct.array, labels)


def test_labels_on_another_grid_are_resampled_and_said_so(hand_made):
    ct, _ = hand_made
    rng = np.random.default_rng(11)
    coarse = rng.integers(0, 3, (5, 6, 7)).astype(np.uint8)
    # Each coarse voxel holds exactly 2 × 2 × 2 CT voxels: nearest neighbour is then exact.
    spacing = np.asarray(ct.spacing_mm)
    labels = Volume(coarse, spacing_mm=tuple(2 * spacing), origin_mm=tuple(spacing[::-1] / 2),
                    labels=LabelTable.from_names({1: "a", 2: "b"}))
    with pytest.warns(HounsfieldWarning, match="resampled"):
        stats = label_statistics(ct, labels)
    fine = coarse.repeat(2, 0).repeat(2, 1).repeat(2, 2)[:9, :11, :13]
    for name, label_id in (("a", 1), ("b", 2)):
        values = ct.array[fine == label_id]
        assert stats[name]["voxel_count"] == np.count_nonzero(coarse == label_id)
        assert stats[name]["volume_ml"] == pytest.approx(
            np.count_nonzero(coarse == label_id) * labels.voxel_volume_ml)
        assert stats[name]["hu_voxel_count"] == values.size
        assert stats[name]["hu_mean"] == float(values.mean(dtype=np.float64))


def test_per_slice_area_and_hu(hand_made):
    ct, labels = hand_made
    rows = per_slice_statistics(ct, labels, ["one", "two"])
    assert len(rows) == ct.shape[0]
    for k, row in enumerate(rows):
        mask = labels.array[k] == 1
        assert row["slice_index"] == k and row["z_mm"] == pytest.approx(2.0 * k)
        assert row["one_area_mm2"] == pytest.approx(mask.sum() * 0.75 * 0.5)
        assert row["one_hu_mean"] == pytest.approx(ct.array[k][mask].mean(dtype=np.float64),
                                                   rel=1e-12)
        assert row["two_area_mm2"] == 0.0 and row["two_hu_mean"] is None
    with pytest.raises(ValueError, match="liver"):
        per_slice_statistics(ct, labels, ["liver"])


# -- the real chest CT ----------------------------------------------------------------------------


@pytest.mark.real
@pytest.mark.slow
def test_real_chest_ct_lung_volumes_and_hu_equal_numpy(chest_ct):
    ct, labels = chest_ct
    start = time.process_time()
    stats = label_statistics(ct, labels)
    cpu_s = time.process_time() - start
    assert set(labels.labels.names) <= set(stats)
    lobes = {"left": ("lung_upper_lobe_left", "lung_lower_lobe_left"),
             "right": ("lung_upper_lobe_right", "lung_middle_lobe_right",
                       "lung_lower_lobe_right")}
    for names in lobes.values():
        ids = [labels.labels.id_of(n) for n in names]
        for name, label_id in zip(names, ids, strict=True):
            values = ct.array[labels.array == label_id]
            assert stats[name]["volume_ml"] == values.size * ct.voxel_volume_ml
            assert stats[name]["hu_mean"] == float(values.mean(dtype=np.float64))
        lung = np.isin(labels.array, ids)
        volume = sum(stats[n]["volume_ml"] for n in names)
        hu = sum(stats[n]["hu_mean"] * stats[n]["voxel_count"] for n in names) / lung.sum()
        assert volume == pytest.approx(lung.sum() * ct.voxel_volume_ml, rel=1e-12)
        assert hu == pytest.approx(ct.array[lung].mean(dtype=np.float64), rel=1e-12)
        assert 1000 < volume < 3500 and -900 < hu < -700  # an adult's lung, inflated
    assert cpu_s < 20.0


def test_skip_shape_leaves_shape_out_and_the_rest_unchanged():
    from hounsfield.data.anatomy import thorax_phantom

    ct, labels = thorax_phantom((24, 32, 32), (12.0, 10.0, 10.0))
    full = label_statistics(ct, labels, names=["liver"])["liver"]
    quick = label_statistics(ct, labels, names=["liver"], skip_shape=["liver"])["liver"]
    assert quick["surface_area_mm2"] is None and quick["sphericity"] is None
    assert full["surface_area_mm2"] > 0
    assert {k: v for k, v in quick.items() if v is not None} == {
        k: v for k, v in full.items() if k not in ("surface_area_mm2", "max_diameter_mm",
                                                   "sphericity")}
