"""Surface-distance metrics: hand-computed figures, agreement with each peer, empty masks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import cdist

from hounsfield.metrics import (
    CONVENTIONS,
    EmptyMaskWarning,
    _nearest,
    average_symmetric_surface_distance,
    dice,
    hausdorff_distance,
    mean_average_surface_distance,
    multilabel_surface_metrics,
    normalized_surface_dice,
    percentile_hausdorff_distance,
    surface_distances,
    surface_metrics,
)
from hounsfield.metrics._surfaces import corner_area_table
from hounsfield.volume import LabelTable, Volume

VOXEL_CONVENTIONS = ("monai", "metricsreloaded", "medpy")


def _peer(module: str):
    """Import a peer of the dev extra, or skip loudly."""
    return pytest.importorskip(module, reason=f"PEER MISSING: {module} (pip install -e '.[dev]') "
                                              "- agreement with it is NOT tested")


def _all_metrics(pred, ref, spacing, convention, percentile=95.0, tolerance_mm=1.0) -> dict:
    d = surface_distances(pred, ref, spacing, convention=convention)
    return {"hd": d.hausdorff_mm(), "hdp": d.hausdorff_mm(percentile), "assd": d.assd_mm(),
            "masd": d.masd_mm(), "nsd": d.nsd(tolerance_mm)}


def _blob(shape, seed: int, sigma: float = 2.5, level: float = 0.15) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(shape)
    return ndimage.gaussian_filter(noise, sigma) > level * noise.std() / sigma


def _single_voxels(shape, first, second):
    pred, ref = np.zeros(shape, bool), np.zeros(shape, bool)
    ref[first], pred[second] = True, True
    return pred, ref


# -- hand-computed figures ----------------------------------------------------------------------


def test_two_voxels_2mm_apart_as_in_surface_distance_tests():
    # surface-distance's test_on_2_pixels_2mm_away (3D): voxels 2 apart along the 1 mm axis.
    pred, ref = _single_voxels((9, 9, 9), (4, 4, 3), (4, 4, 5))
    spacing = (3.0, 2.0, 1.0)
    corners = _all_metrics(pred, ref, spacing, "deepmind")
    assert corners == {"hd": 2.0, "hdp": 2.0, "assd": 1.5, "masd": 1.5, "nsd": 0.5}
    assert dice(pred, ref) == 0.0
    for convention in VOXEL_CONVENTIONS:  # one border voxel each, 2 mm apart
        assert _all_metrics(pred, ref, spacing, convention) == \
            {"hd": 2.0, "hdp": 2.0, "assd": 2.0, "masd": 2.0, "nsd": 0.0}


def test_two_voxels_adjacent_along_the_2mm_axis():
    # Face neighbours along the 2 mm axis: the corner surfaces share a face (distance 0).
    pred, ref = _single_voxels((9, 9, 9), (4, 4, 4), (4, 5, 4))
    spacing = (3.0, 2.0, 1.0)
    assert _all_metrics(pred, ref, spacing, "deepmind") == \
        {"hd": 2.0, "hdp": 2.0, "assd": 1.0, "masd": 1.0, "nsd": 0.5}
    assert _all_metrics(pred, ref, spacing, "monai")["nsd"] == 0.0
    assert dice(pred, ref) == 0.0


def test_two_pixels_2mm_apart_in_2d():
    pred, ref = _single_voxels((12, 12), (5, 4), (5, 6))
    assert _all_metrics(pred, ref, (2.0, 1.0), "deepmind") == \
        {"hd": 2.0, "hdp": 2.0, "assd": 1.5, "masd": 1.5, "nsd": 0.5}


def test_two_cubes_shifted_by_one_voxel():
    # surface-distance's test_two_cubes_shifted_by_one_pixel; the masks touch the array's edges.
    ref, pred = np.zeros((100, 100, 100), bool), np.zeros((100, 100, 100), bool)
    ref[0:50], pred[0:51] = True, True
    spacing = (2.0, 1.0, 1.0)
    distances = surface_distances(pred, ref, spacing, convention="deepmind")
    weights = [distances.ref_weights, distances.pred_weights]
    directed = [np.sum(d * w) / np.sum(w) for d, w in
                zip([distances.ref_to_pred_mm, distances.pred_to_ref_mm], weights, strict=True)]
    np.testing.assert_allclose(directed, [0.322, 0.339], atol=5e-4)
    assert distances.hausdorff_mm() == distances.hausdorff_mm(95) == 2.0
    assert round(distances.nsd(1.0), 3) == 0.836
    assert round(dice(pred, ref), 3) == 0.990
    # Border voxels (MONAI's compute_surface_dice without subvoxels; ASSD of MONAI and medpy).
    assert round(normalized_surface_dice(pred, ref, spacing, 1.0, convention="monai"), 4) == 0.7549
    for convention in ("monai", "medpy"):
        assert round(average_symmetric_surface_distance(pred, ref, spacing,
                                                        convention=convention), 4) == 0.4951


FIG_5C_HD95 = {"monai": 6.788225, "metricsreloaded": 6.788225, "medpy": 2.262742,
               "pooled": 2.262742, "deepmind": 11.313708}


@pytest.mark.parametrize("convention", sorted(FIG_5C_HD95))
def test_metricsreloaded_fig_5c_hd95_by_convention(convention):
    # MetricsReloaded test_pairwise_measures.py, "figure 5c" (Pitfalls paper p14):
    # a one-pixel annotation error far from the object.
    ref, pred = np.zeros((14, 14)), np.zeros((14, 14))
    ref[1, 1] = 1
    ref[9:12, 9:12] = 1
    pred[9:12, 9:12] = 1
    hd95 = percentile_hausdorff_distance(pred, ref, (1.0, 1.0), 95, convention=convention)
    assert hd95 == pytest.approx(FIG_5C_HD95[convention], abs=2e-6)  # MONAI's float32
    assert hausdorff_distance(pred, ref, (1.0, 1.0), convention=convention) == \
        pytest.approx(8 * math.sqrt(2))


def test_anisotropic_shifted_cube():
    # A 10-voxel cube shifted by 2 voxels along the 2.5 mm axis (0.8 mm in-plane).
    ref, pred = np.zeros((16, 14, 14), bool), np.zeros((16, 14, 14), bool)
    ref[2:12, 2:12, 2:12] = True
    pred[4:14, 2:12, 2:12] = True
    spacing = (2.5, 0.8, 0.8)
    assert dice(pred, ref) == pytest.approx(0.8)
    for convention in CONVENTIONS:
        metrics = surface_metrics(pred, ref, spacing, convention=convention)
        assert metrics["hd_mm"] == metrics["hd95_mm"] == pytest.approx(5.0)
        expected = 0.8331 if convention == "deepmind" else 1.4057
        assert metrics["assd_mm"] == pytest.approx(expected, abs=1e-4)
        assert metrics["masd_mm"] == pytest.approx(metrics["assd_mm"])  # symmetric case


def test_metricsreloaded_figures_10_and_sn_2_10():
    # MetricsReloaded's own expected values (test_assd, test_masd, test_nsd, test_nsd2 and
    # the SN 2.10 tests), reproduced to their stated precision.
    ref, pred = np.zeros((11, 11)), np.zeros((11, 11))
    ref[3:8, 3:8] = 1
    pred[3:8, 3:8] = 1
    pred[5, 1:10] = 1
    pred[1:10, 5] = 1
    d = surface_distances(pred, ref, (1.0, 1.0), convention="metricsreloaded")
    assert (round(d.assd_mm(), 2), d.masd_mm(), round(d.nsd(1), 2), d.nsd(2)) == \
        (0.44, 0.425, 0.89, 1.0)
    ref = np.zeros((14, 14))
    ref[5:9, 5:9] = 1
    small, large = np.zeros((14, 14)), np.zeros((14, 14))
    small[6:8, 6:8] = 1
    large[4:10, 4:10] = 1
    expected = {"small": (1.41, 1.07, 1.10, 0.75), "large": (1.41, 1.04, 1.05, 0.875)}
    for key, pred in (("small", small), ("large", large)):
        d = surface_distances(pred, ref, (1.0, 1.0), convention="metricsreloaded")
        got = (d.hausdorff_mm(), d.masd_mm(), d.assd_mm(), d.nsd(1.0))
        np.testing.assert_allclose(got, expected[key], atol=0.01)


def test_identical_masks_are_at_distance_zero():
    mask = _blob((20, 24, 22), seed=3)
    for convention in CONVENTIONS:
        metrics = surface_metrics(mask, mask, (1.5, 0.7, 0.7), convention=convention)
        assert metrics == {"hd_mm": 0.0, "hd95_mm": 0.0, "assd_mm": 0.0, "masd_mm": 0.0,
                           "nsd_1mm": 1.0}


def test_background_padding_changes_nothing():
    pred, ref = _blob((18, 20, 16), seed=5), _blob((18, 20, 16), seed=6)
    padded = [np.pad(m, ((3, 7), (0, 9), (5, 2))) for m in (pred, ref)]
    for convention in CONVENTIONS:
        assert surface_metrics(pred, ref, (2.0, 0.8, 0.9), convention=convention) == \
            surface_metrics(*padded, (2.0, 0.8, 0.9), convention=convention)


# -- the corner-surfel area table -----------------------------------------------------------


def test_corner_areas_from_marching_cubes_equal_surface_distance_table():
    lookup_tables = _peer("surface_distance.lookup_tables")
    for spacing in [(1.0, 1.0, 1.0), (3.0, 2.0, 1.0), (2.5, 0.703125, 0.703125)]:
        np.testing.assert_allclose(
            corner_area_table(spacing),
            lookup_tables.create_table_neighbour_code_to_surface_area(spacing),
            rtol=1e-14, atol=1e-15)
    for spacing in [(1.0, 1.0), (2.0, 1.0), (0.7, 3.3)]:
        np.testing.assert_allclose(
            corner_area_table(spacing),
            lookup_tables.create_table_neighbour_code_to_contour_length(spacing),
            rtol=1e-14, atol=1e-15)


def test_corner_areas_by_geometry():
    sz, sy, sx = 3.0, 2.0, 1.0
    table = corner_area_table((sz, sy, sx))
    # One voxel of a single corner: the triangle cutting that corner at the edge midpoints.
    corner = 0.5 * np.linalg.norm(np.cross([-sz / 2, sy / 2, 0], [-sz / 2, 0, sx / 2]))
    assert table[1] == pytest.approx(corner)
    # Four voxels on one side of axis 0 (bits 0-3): a flat face of sy * sx.
    assert table[0b00001111] == pytest.approx(sy * sx)
    assert table[0b00110011] == pytest.approx(sz * sx)  # one side of axis 1
    assert table[0b01010101] == pytest.approx(sz * sy)  # one side of axis 2
    np.testing.assert_allclose(table, table[::-1])  # a code and its complement: one surface
    assert table[0] == table[255] == 0


# -- the nearest-surface search -------------------------------------------------------------


@pytest.mark.parametrize("stage", ["ball", "wider ball", "k-d tree", "all to the k-d tree"])
def test_nearest_distances_equal_brute_force_on_every_path(monkeypatch, stage):
    if stage != "ball":
        monkeypatch.setattr(_nearest, "_BALL_OFFSETS", 20)
    if stage == "k-d tree":
        monkeypatch.setattr(_nearest, "_WIDER_BUDGET", 0)
    if stage == "all to the k-d tree":
        monkeypatch.setattr(_nearest, "_SAMPLE", 20)
    _nearest._offset_ball.cache_clear()
    rng = np.random.default_rng(7)
    flags = rng.random((12, 30, 28)) < 0.01
    targets = np.argwhere(flags).astype(np.int32)
    queries = rng.integers(0, (12, 30, 28), size=(400, 3)).astype(np.int32)
    spacing = (2.5, 0.7, 0.9)
    box = (targets.min(axis=0).astype(np.int64), targets.max(axis=0).astype(np.int64))
    found = _nearest.nearest_distances(queries, flags.view(np.uint8), targets, box, spacing,
                                       False)
    _nearest._offset_ball.cache_clear()
    truth = cdist(queries * spacing, targets * spacing).min(axis=1)
    np.testing.assert_allclose(found.distance_mm, truth, rtol=1e-12)
    order = np.argsort(found.distance_mm, kind="stable")
    assert np.all(np.diff(found.rank[order]) >= 0)  # ranks order as the distances
    same = found.distance_mm[:, None] == found.distance_mm[None, :]
    assert np.array_equal(same, found.rank[:, None] == found.rank[None, :])


# -- agreement with the peers ---------------------------------------------------------------

BLOB_CASES = [((30, 40, 36), (2.5, 0.7, 0.9), 0), ((24, 36, 30), (1.0, 1.0, 3.0), 1),
              ((12, 40, 40), (5.0, 0.4, 0.4), 3), ((50, 60), (1.3, 0.6), 2)]


def _far_blob_case():
    """A reference blob and a prediction with a false positive 60 mm away (k-d tree path)."""
    ref = np.zeros((30, 60, 90), bool)
    ref[8:20, 10:30, 10:30] = _blob((12, 20, 20), seed=11, sigma=2)
    pred = ndimage.binary_dilation(ref)
    pred[12:16, 40:44, 80:84] = True  # 50-60 mm from ref
    pred[5:8, 35:38, 12:15] = True  # about 8 mm away (wider-ball path)
    return pred, ref, (1.0, 1.0, 1.0)


def _cases():
    for shape, spacing, seed in BLOB_CASES:
        yield f"blobs{len(shape)}d-{seed}", _blob(shape, seed), _blob(shape, seed + 50), spacing
    yield "far-false-positive", *_far_blob_case()


CASES = list(_cases())
CASE_IDS = [case[0] for case in CASES]


def _assert_close(ours: dict, theirs: dict):
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-6, abs=0), key


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_deepmind_agrees_with_surface_distance(case):
    sd = _peer("surface_distance")
    _, pred, ref, spacing = case
    theirs = sd.compute_surface_distances(ref, pred, spacing)
    areas_p, areas_r = theirs["surfel_areas_pred"], theirs["surfel_areas_gt"]
    pooled = (np.sum(theirs["distances_pred_to_gt"] * areas_p)
              + np.sum(theirs["distances_gt_to_pred"] * areas_r)) / (areas_p.sum() + areas_r.sum())
    expected = {"hd": sd.compute_robust_hausdorff(theirs, 100),
                "hdp": sd.compute_robust_hausdorff(theirs, 95),
                "masd": np.mean(sd.compute_average_surface_distance(theirs)),
                "assd": pooled,
                "nsd": sd.compute_surface_dice_at_tolerance(theirs, 1.0)}
    ours = _all_metrics(pred, ref, spacing, "deepmind")
    _assert_close(ours, expected)
    assert ours["hdp"] == expected["hdp"]  # the nearest rank is a distance: exact
    d = surface_distances(pred, ref, spacing, convention="deepmind")
    np.testing.assert_array_equal(np.sort(d.pred_to_ref_mm), theirs["distances_pred_to_gt"])
    for percentile in (0, 50, 90, 99, 99.9):
        assert d.hausdorff_mm(percentile) == sd.compute_robust_hausdorff(theirs, percentile)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_monai_agrees_with_monai(case):
    torch = _peer("torch")
    metrics = _peer("monai.metrics")
    _, pred, ref, spacing = case
    y_pred, y = (torch.from_numpy(m.astype(np.float32))[None, None] for m in (pred, ref))
    common = {"include_background": True, "spacing": spacing}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        directed = [metrics.compute_average_surface_distance(a, b, **common).item()
                    for a, b in ((y_pred, y), (y, y_pred))]
        expected = {
            "hd": metrics.compute_hausdorff_distance(y_pred, y, **common).item(),
            "hdp": metrics.compute_hausdorff_distance(y_pred, y, percentile=95, **common).item(),
            "assd": metrics.compute_average_surface_distance(y_pred, y, symmetric=True,
                                                             **common).item(),
            "masd": np.mean(directed),
            "nsd": metrics.compute_surface_dice(y_pred, y, [1.0], **common).item()}
    _assert_close(_all_metrics(pred, ref, spacing, "monai"), expected)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_medpy_agrees_with_medpy(case):
    binary = _peer("medpy.metric.binary")
    _, pred, ref, spacing = case
    expected = {"hd": binary.hd(pred, ref, spacing), "hdp": binary.hd95(pred, ref, spacing),
                "assd": binary.assd(pred, ref, spacing),
                "masd": (binary.asd(pred, ref, spacing) + binary.asd(ref, pred, spacing)) / 2}
    for convention in ("medpy", "pooled"):
        _assert_close(_all_metrics(pred, ref, spacing, convention), expected)


@pytest.mark.real
def test_peers_agree_on_the_chest_ct_lungs(chest_ct):
    sd = _peer("surface_distance")
    binary = _peer("medpy.metric.binary")
    torch = _peer("torch")
    metrics = _peer("monai.metrics")
    _, labels = chest_ct
    upper = labels.array == labels.labels.id_of("lung_upper_lobe_left")
    lower = labels.array == labels.labels.id_of("lung_lower_lobe_left")
    both = ndimage.find_objects((upper | lower).view(np.uint8))[0]
    box = tuple(slice(s.start - 1, s.stop + 1) for s in both)
    box = (slice(box[0].start + 10, box[0].start + 40), *box[1:])  # 30 slices keep peers fast
    upper, lower = upper[box], lower[box]
    dilated = ndimage.binary_dilation(lower)
    spacing = labels.spacing_mm
    for pred, ref in ((dilated, lower), (upper, lower)):  # near surfaces; neighbouring lobes
        theirs = sd.compute_surface_distances(ref, pred, spacing)
        ours = surface_distances(pred, ref, spacing, convention="deepmind")
        assert ours.hausdorff_mm(95) == sd.compute_robust_hausdorff(theirs, 95)
        assert ours.nsd(1.0) == pytest.approx(sd.compute_surface_dice_at_tolerance(theirs, 1.0),
                                              rel=1e-9)
        y_pred, y = (torch.from_numpy(m.astype(np.float32))[None, None] for m in (pred, ref))
        common = {"include_background": True, "spacing": spacing}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            monai_hd95 = metrics.compute_hausdorff_distance(y_pred, y, percentile=95, **common)
            monai_nsd = metrics.compute_surface_dice(y_pred, y, [1.0], **common)
        ours = surface_distances(pred, ref, spacing, convention="monai")
        assert ours.hausdorff_mm(95) == pytest.approx(monai_hd95.item(), rel=1e-6)
        assert ours.nsd(1.0) == pytest.approx(monai_nsd.item(), rel=1e-6)
        ours = surface_distances(pred, ref, spacing, convention="medpy")
        assert ours.hausdorff_mm(95) == pytest.approx(binary.hd95(pred, ref, spacing), rel=1e-12)


# -- empty masks ------------------------------------------------------------------------------

EMPTY_BOTH = {"deepmind": (math.inf, math.inf, math.nan, math.nan, math.nan),
              "monai": (math.nan,) * 5,
              "metricsreloaded": (0.0, 0.0, 0.0, 0.0, 1.0),
              "medpy": (math.nan,) * 5}
EMPTY_ONE = {"deepmind": (math.inf, math.inf, math.inf, math.nan, 0.0),
             "monai": (math.inf, math.nan, math.inf, math.inf, 0.0),
             "metricsreloaded": (math.nan, math.nan, math.nan, math.nan, 0.0),
             "medpy": (math.nan, math.nan, math.nan, math.nan, 0.0)}


def _same(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("convention", sorted(EMPTY_BOTH))
@pytest.mark.parametrize("which", ["both", "pred", "ref"])
def test_empty_masks_give_the_documented_results_with_a_warning(convention, which):
    blob, empty = np.zeros((10, 12, 12), bool), np.zeros((10, 12, 12), bool)
    blob[2:6, 3:9, 4:7] = True
    pred = empty if which in ("both", "pred") else blob
    ref = empty if which in ("both", "ref") else blob
    with pytest.warns(EmptyMaskWarning, match=f"case 7:.*{convention}"):
        d = surface_distances(pred, ref, (2.0, 1.0, 1.0), convention=convention, name="case 7")
    assert d.empty == which
    got = (d.hausdorff_mm(), d.hausdorff_mm(95), d.assd_mm(), d.masd_mm(), d.nsd(1.0))
    expected = (EMPTY_BOTH if which == "both" else EMPTY_ONE)[convention]
    assert all(_same(a, b) for a, b in zip(got, expected, strict=True)), got


def test_monai_empty_results_are_monai_s():
    torch = _peer("torch")
    metrics = _peer("monai.metrics")
    blob, empty = np.zeros((10, 12, 12), bool), np.zeros((10, 12, 12), bool)
    blob[2:6, 3:9, 4:7] = True
    for pred, ref in ((empty, blob), (blob, empty), (empty, empty)):
        y_pred, y = (torch.from_numpy(m.astype(np.float32))[None, None] for m in (pred, ref))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = (metrics.compute_hausdorff_distance(y_pred, y, True).item(),
                      metrics.compute_hausdorff_distance(y_pred, y, True, percentile=95).item(),
                      metrics.compute_average_surface_distance(y_pred, y, True, True).item(),
                      metrics.compute_surface_dice(y_pred, y, [1.0], True).item())
            d = surface_distances(pred, ref, (1, 1, 1), convention="monai")
        ours = (d.hausdorff_mm(), d.hausdorff_mm(95), d.assd_mm(), d.nsd(1.0))
        assert all(_same(a, b) for a, b in zip(ours, theirs, strict=True)), (ours, theirs)


# -- API --------------------------------------------------------------------------------------


def test_public_functions_equal_the_shared_distances():
    pred, ref, spacing = _blob((20, 22, 24), 8), _blob((20, 22, 24), 9), (2.0, 0.8, 0.8)
    for convention in CONVENTIONS:
        d = surface_distances(pred, ref, spacing, convention=convention)
        kw = {"convention": convention}
        assert hausdorff_distance(pred, ref, spacing, **kw) == d.hausdorff_mm()
        assert percentile_hausdorff_distance(pred, ref, spacing, 90, **kw) == d.hausdorff_mm(90)
        assert average_symmetric_surface_distance(pred, ref, spacing, **kw) == d.assd_mm()
        assert mean_average_surface_distance(pred, ref, spacing, **kw) == d.masd_mm()
        assert normalized_surface_dice(pred, ref, spacing, 2.0, **kw) == d.nsd(2.0)


def test_surface_metrics_names_keys_after_percentile_and_tolerance():
    pred, ref = _blob((16, 18, 20), 1), _blob((16, 18, 20), 2)
    metrics = surface_metrics(pred, ref, (1, 1, 1), percentile=99.5, tolerance_mm=2.5)
    assert sorted(metrics) == ["assd_mm", "hd99.5_mm", "hd_mm", "masd_mm", "nsd_2.5mm"]
    assert all(isinstance(v, float) for v in metrics.values())


def test_volumes_carry_their_spacing():
    pred, ref = _blob((16, 18, 20), 1), _blob((16, 18, 20), 2)
    spacing = (2.5, 0.7, 0.7)
    expected = surface_metrics(pred, ref, spacing)
    assert surface_metrics(Volume(pred, spacing), Volume(ref, spacing)) == expected
    with pytest.raises(ValueError, match="share one voxel grid"):
        surface_metrics(Volume(pred, spacing), Volume(ref, (1, 1, 1)))


def test_multilabel_equals_label_by_label():
    ref = np.zeros((24, 30, 30), np.uint8)
    ref[_blob((24, 30, 30), 1)] = 1
    ref[4:10, 5:15, 18:26] = 2
    ref[15:20, 20:28, 2:9] = 5
    pred = ndimage.grey_dilation(ref, footprint=ndimage.generate_binary_structure(3, 1))
    pred[pred == 5] = 0
    spacing = (2.0, 0.9, 0.9)
    names = LabelTable.from_names({1: "liver", 2: "spleen", 5: "kidney_left", 7: "aorta"})
    with pytest.warns(EmptyMaskWarning) as caught:
        results = multilabel_surface_metrics(pred, Volume(ref, spacing, labels=names),
                                             labels=[1, 2, 5, 7], convention="monai")
    messages = " ".join(str(w.message) for w in caught)
    assert "label 5 (kidney_left): pred is empty" in messages
    assert "label 7 (aorta): pred and ref are both empty" in messages
    for label in (1, 2, 5):
        expected = surface_metrics(pred == label, ref == label, spacing, convention="monai")
        assert results[label] == {"dice": dice(pred == label, ref == label), **expected}
    assert math.isnan(results[7]["dice"]) and math.isnan(results[7]["hd_mm"])
    with pytest.warns(EmptyMaskWarning, match="label 5: pred is empty"):
        default = multilabel_surface_metrics(pred, ref, spacing, convention="monai")
    assert sorted(default) == [1, 2, 5]  # every label present in either map
    assert default[1] == results[1]


@pytest.mark.real
def test_multilabel_on_the_chest_ct(chest_ct):
    _, labels = chest_ct
    crop = labels.crop((40, 0, 0), (60, 512, 512))
    eroded = ndimage.grey_erosion(crop.array, footprint=ndimage.generate_binary_structure(3, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyMaskWarning)
        results = multilabel_surface_metrics(eroded, crop)
    present, counts = np.unique(crop.array, return_counts=True)
    assert set(results) == set(present.tolist()) - {0}
    largest = int(present[1:][np.argmax(counts[1:])])
    assert 0.5 < results[largest]["dice"] < 1.0
    assert 0.0 < results[largest]["hd95_mm"] < 10.0


@pytest.mark.parametrize("call, message", [
    (lambda p, r: surface_metrics(p, r), "spacing_mm is required"),
    (lambda p, r: surface_metrics(p, r[:-1], (1, 1, 1)), "same shape"),
    (lambda p, r: surface_metrics(p, r, (1, 1)), "spacing_mm must be 3"),
    (lambda p, r: surface_metrics(p, r, (1, 0, 1)), "positive finite"),
    (lambda p, r: surface_metrics(p, r, (1, 1, 1), convention="nnunet"), "convention must be"),
    (lambda p, r: surface_metrics(p, r, (1, 1, 1), percentile=101), "percentile must be"),
    (lambda p, r: surface_metrics(p, r, (1, 1, 1), tolerance_mm=-1), "tolerance_mm must be"),
    (lambda p, r: surface_metrics(p[None], r[None], (1, 1, 1, 1)), "2D or 3D"),
    (lambda p, r: multilabel_surface_metrics(p * 0.5, r, (1, 1, 1)), "integer labels"),
    (lambda p, r: multilabel_surface_metrics(p, r, (1, 1, 1), labels=[0]), "labels must be"),
    (lambda p, r: multilabel_surface_metrics(p.astype(np.int8) - 1, r, (1, 1, 1)),
     "non-negative"),
])
def test_invalid_input_is_refused_with_a_named_parameter(call, message):
    pred, ref = np.zeros((5, 6, 7), np.uint8), np.zeros((5, 6, 7), np.uint8)
    with pytest.raises(ValueError, match=message):
        call(pred, ref)
