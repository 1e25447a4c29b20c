"""Airway tree segmentation: trachea and bronchi against phantom labels and the real chest CT."""

import json

import edt
import numpy as np
import pytest
from scipy import ndimage

from hounsfield.data.anatomy import thorax_phantom
from hounsfield.errors import HounsfieldWarning
from hounsfield.metrics import dice
from hounsfield.metrics.tree import centreline
from hounsfield.segment import segment_body
from hounsfield.segment._airway_tree import centreline_tree
from hounsfield.segment.airways import AirwayTree, segment_airways
from hounsfield.volume import Volume

#: The thorax phantom's main bronchi (hounsfield.data.anatomy): centrelines from its carina,
#: LPS mm; its trachea's lumen has a radius of 7.5 mm and runs on up out of the grid.
PHANTOM_BRONCHI_MM = {
    "bronchus_right": [(0.0, 5.0, 200.0), (-30.0, 9.0, 183.0), (-48.0, 12.0, 174.0)],
    "bronchus_left": [(0.0, 5.0, 200.0), (38.0, 11.0, 187.0), (56.0, 14.0, 181.0)],
}
PHANTOM_TRACHEA_AXIS_MM = (0.0, 5.0)
PHANTOM_TRACHEA_RADIUS_MM = 7.5
LEFT_LOBES = ("lung_upper_lobe_left", "lung_lower_lobe_left")
RIGHT_LOBES = ("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right")
AIRWAY_LABELS = ("trachea", "bronchus_left", "bronchus_right")


def _label(labels: Volume, name: str) -> np.ndarray:
    return labels.array == labels.labels.id_of(name)


def _centre_x_mm(volume: Volume, mask: np.ndarray) -> float:
    return float(volume.index_to_world(np.argwhere(mask).mean(axis=0))[0])


def _mirrored(ct: Volume) -> Volume:
    """The same patient with the array's x axis reversed and the direction flipped to match."""
    direction = ct.direction.copy()
    direction[:, 2] *= -1
    origin = ct.index_to_world(np.array([0, 0, ct.shape[2] - 1]))
    return Volume(ct.array[:, :, ::-1].copy(), spacing_mm=ct.spacing_mm,
                  origin_mm=tuple(origin), direction=direction)


def _check_tree_consistency(tree: AirwayTree) -> None:
    parts = (tree.trachea, tree.bronchus_left, tree.bronchus_right)
    assert all(p.dtype == bool and p.shape == tree.mask.shape for p in parts)
    assert np.array_equal(tree.trachea | tree.bronchus_left | tree.bronchus_right, tree.mask)
    assert int(sum(p.sum() for p in parts)) == int(tree.mask.sum())  # disjoint
    for branch in tree.branches:
        if branch.parent is None:
            assert branch.generation == 0 and branch.side is None
        else:
            parent = tree.branches[branch.parent]
            assert branch.generation == parent.generation + 1
            assert branch.id in parent.children
            assert np.allclose(branch.points_mm[0], parent.points_mm[-1])
            assert branch.side in ("left", "right")


# -- branches of a centreline -----------------------------------------------------------


def _capsules(shape, segments, radius):
    """Voxels within ``radius`` of any of the segments (pairs of index points)."""
    points = np.stack(np.indices(shape), axis=-1).astype(float)
    mask = np.zeros(shape, bool)
    for start, end in segments:
        a, b = np.asarray(start, float), np.asarray(end, float)
        t = np.clip((points - a) @ (b - a) / ((b - a) @ (b - a)), 0.0, 1.0)
        mask |= np.linalg.norm(points - (a + t[..., None] * (b - a)), axis=-1) <= radius
    return mask


def test_centreline_tree_of_a_two_level_tube_tree():
    """A trunk, two arms, and a fork at the end of one arm: generations 0, 1, 1, 2, 2."""
    fork, left, right = (24, 12, 40), (44, 12, 60), (44, 12, 20)
    tubes = [((2, 12, 40), fork), (fork, left), (fork, right), (left, (61, 12, 72)),
             (left, (61, 12, 50))]
    mask = _capsules((64, 24, 80), tubes, 2.5)
    radius_mm = edt.edt(mask.astype(np.uint8), black_border=True)
    segments = centreline_tree(centreline(mask), radius_mm, (1, 1, 1), (2, 12, 40), 3.0)
    trunk, *arms = segments
    assert len(segments) == 5 and trunk.parent is None and sorted(trunk.children) == [1, 2]
    forked_id = next(i for i in trunk.children if segments[i].children)
    forked = segments[forked_id]
    assert [segments[c].parent for c in forked.children] == [forked_id, forked_id]
    assert np.linalg.norm(trunk.path[-1] - np.array(fork)) <= 1.0
    assert np.linalg.norm(forked.path[-1] - np.array(left)) <= 3.0

    def length(segment):
        return float(np.linalg.norm(np.diff(segment.path, axis=0), axis=1).sum())

    # Analytic: trunk 22 mm, arms 28.3 mm, forks 19.7 and 20.8 mm (to their capped ends).
    assert length(trunk) == pytest.approx(22.0, abs=2.5)
    assert [length(s) for s in arms[:2]] == pytest.approx([28.3, 28.3], abs=2.5)
    assert sorted(length(segments[c]) for c in forked.children) == pytest.approx(
        [19.7, 20.8], abs=2.5)


# -- thorax phantom ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def phantom():
    """(noisy ct, labels, lumen of each airway label): lumen = label voxels of air (-1000 HU)."""
    clean, labels = thorax_phantom()
    noise = np.random.default_rng(7).normal(0.0, 20.0, clean.shape).astype(np.float32)
    lumen = {name: _label(labels, name) & (clean.array < -500.0) for name in AIRWAY_LABELS}
    return clean.with_array(clean.array + noise), labels, lumen


@pytest.fixture(scope="module")
def phantom_tree(phantom):
    """Labels split at the carina, as the phantom's are."""
    return segment_airways(phantom[0], trachea_includes_bronchi_mm=0.0)


@pytest.fixture(scope="module")
def phantom_tree_default(phantom):
    """Labels as TotalSegmentator's: the trachea takes the proximal main bronchi."""
    return segment_airways(phantom[0])


def test_phantom_airway_lumen_matches_labels(phantom, phantom_tree):
    _, _, lumen = phantom
    # Reached (seed 7): 0.96 whole, 0.91 trachea.
    assert dice(phantom_tree.mask, lumen["trachea"] | lumen["bronchus_left"]
                | lumen["bronchus_right"]) >= 0.94
    assert dice(phantom_tree.trachea, lumen["trachea"]) >= 0.88


def test_phantom_bronchi_match_labels_on_their_own_side(phantom, phantom_tree):
    _, _, lumen = phantom
    tree = phantom_tree
    # The phantom's labels turn from trachea to bronchus where the centrelines meet, 5 to
    # 10 mm above the ridge where the lumen divides and this trachea (split at the carina)
    # ends: that part of each bronchus label is counted as trachea here. Reached: 0.63
    # left, 0.79 right.
    assert dice(tree.bronchus_left, lumen["bronchus_left"]) >= 0.55
    assert dice(tree.bronchus_right, lumen["bronchus_right"]) >= 0.7
    # Below the trachea, every labelled bronchus voxel is found on its own side.
    for side, other in (("left", "right"), ("right", "left")):
        mine = getattr(tree, f"bronchus_{side}")
        below = lumen[f"bronchus_{side}"] & ~tree.trachea
        assert (mine & below).sum() >= 0.95 * below.sum()
        assert not (mine & lumen[f"bronchus_{other}"]).any()


def test_phantom_tree_has_main_bronchi_of_phantom_size(phantom_tree):
    tree = phantom_tree
    _check_tree_consistency(tree)
    trachea = tree.branches[0]
    main = [b for b in tree.branches if b.generation == 1]
    assert sorted(b.side for b in main) == ["left", "right"]
    # Lumen radius 7.5 mm (trachea) and 5 mm (bronchi) on 2.5 mm voxels.
    assert trachea.diameter_mm == pytest.approx(15.0, abs=2.5)
    assert all(b.diameter_mm == pytest.approx(10.0, abs=2.5) for b in main)
    # The branch point lies on the midline, within a voxel or two above the carina (z 200 mm).
    carina = tree.branch_points_mm[0]
    assert abs(carina[0]) <= 2.5 and 200.0 <= carina[2] <= 210.0
    assert np.allclose(trachea.points_mm[-1], carina)


def test_sides_follow_world_x_not_array_order(phantom, phantom_tree):
    """Mirrored array with a mirrored direction: the same patient, so the same sides."""
    ct, _, _ = phantom
    mirrored = segment_airways(_mirrored(ct), trachea_includes_bronchi_mm=0.0)
    assert dice(mirrored.bronchus_left, phantom_tree.bronchus_left[:, :, ::-1]) >= 0.99
    assert dice(mirrored.bronchus_right, phantom_tree.bronchus_right[:, :, ::-1]) >= 0.99
    assert _centre_x_mm(ct, phantom_tree.bronchus_left) > 0 > _centre_x_mm(
        ct, phantom_tree.bronchus_right)
    for tree in (phantom_tree, mirrored):
        main = [b for b in tree.branches if b.generation == 1]
        assert sorted(b.side for b in main) == ["left", "right"]
        for branch in main:  # the branch runs from the carina towards its side
            towards_left = branch.points_mm[-1, 0] > branch.points_mm[0, 0]
            assert towards_left == (branch.side == "left")


def _depth_along_mm(points_mm: np.ndarray, polyline_mm) -> np.ndarray:
    """Arc length (mm) from a polyline's start to the point on it nearest each point."""
    nearest_mm = np.full(len(points_mm), np.inf)
    depth_mm = np.zeros(len(points_mm))
    travelled_mm = 0.0
    for a, b in zip(np.asarray(polyline_mm, float)[:-1], np.asarray(polyline_mm, float)[1:],
                    strict=True):
        length_mm = float(np.linalg.norm(b - a))
        t = np.clip((points_mm - a) @ (b - a) / length_mm**2, 0.0, 1.0)
        distance_mm = np.linalg.norm(points_mm - (a + t[:, None] * (b - a)), axis=1)
        closer = distance_mm < nearest_mm
        nearest_mm[closer] = distance_mm[closer]
        depth_mm[closer] = travelled_mm + t[closer] * length_mm
        travelled_mm += length_mm
    return depth_mm


def test_default_trachea_takes_the_main_bronchi_to_40_mm(phantom, phantom_tree_default):
    """The phantom's bronchus lumen, by its depth along the phantom's own centreline."""
    ct, labels, lumen = phantom
    tree = phantom_tree_default
    _check_tree_consistency(tree)
    for name, path in PHANTOM_BRONCHI_MM.items():
        along = np.concatenate([np.linspace(a, b, 20)
                                for a, b in zip(path[:-1], path[1:], strict=True)])
        on_path = np.rint(ct.world_to_index(along[along[:, 2] < 190.0])).astype(int)
        assert (labels.array[tuple(on_path.T)] == labels.labels.id_of(name)).all()
        voxels = np.argwhere(lumen[name])
        depth_mm = _depth_along_mm(ct.index_to_world(voxels), path)
        in_trachea = tree.trachea[tuple(voxels.T)]
        in_bronchus = getattr(tree, name)[tuple(voxels.T)]
        # 40 mm of centreline below the branch point, which lies up to 10 mm above the
        # phantom's carina (where its centrelines meet).
        assert in_trachea[depth_mm <= 30.0].all()
        assert in_bronchus[depth_mm >= 45.0].mean() >= 0.99
        assert in_trachea[depth_mm >= 45.0].sum() == 0


def test_label_convention_leaves_the_tree_as_it_is(phantom_tree, phantom_tree_default):
    at_carina, default = phantom_tree, phantom_tree_default
    assert np.array_equal(default.mask, at_carina.mask)
    assert np.array_equal(default.skeleton, at_carina.skeleton)
    assert np.allclose(default.carina_mm, at_carina.carina_mm)
    assert [(b.parent, b.generation, b.side) for b in default.branches] == [
        (b.parent, b.generation, b.side) for b in at_carina.branches]
    assert not (at_carina.trachea & ~default.trachea).any()
    for side in ("bronchus_left", "bronchus_right"):
        assert not (getattr(default, side) & ~getattr(at_carina, side)).any()
        assert getattr(default, side).sum() < getattr(at_carina, side).sum()


def _with_subglottic_cone(ct: Volume, labels: Volume, length_mm: float, top_radius_mm: float):
    """The phantom with its trachea's lumen narrowed, over the grid's top ``length_mm``, to a
    cone from the trachea's radius to ``top_radius_mm`` at the top slice (the larynx
    below the glottis); the narrowed part turns into airway wall (50 HU)."""
    k, j, i = np.indices(ct.shape)
    x_mm, y_mm, z_mm = np.moveaxis(ct.index_to_world(np.stack([k, j, i], axis=-1)), -1, 0)
    top_mm = z_mm.max()
    above_mm = np.clip(z_mm - (top_mm - length_mm), 0.0, None)
    radius_mm = PHANTOM_TRACHEA_RADIUS_MM - (PHANTOM_TRACHEA_RADIUS_MM - top_radius_mm) * (
        above_mm / length_mm)
    off_axis_mm = np.hypot(x_mm - PHANTOM_TRACHEA_AXIS_MM[0], y_mm - PHANTOM_TRACHEA_AXIS_MM[1])
    walled = (labels.array == labels.labels.id_of("trachea")) & (off_axis_mm > radius_mm)
    hu = ct.array.copy()
    hu[walled & (hu < -500.0)] = 50.0
    return ct.with_array(hu), radius_mm[:, 0, 0]


@pytest.mark.parametrize("length_mm", [30.0, 3.0])
def test_larynx_cone_is_taken_off_the_top(phantom, phantom_tree_default, length_mm):
    """A 30 mm cone; a 3 mm one: only the top slice, too narrow to seed the trachea."""
    ct, labels, _ = phantom
    coned, radius_mm = _with_subglottic_cone(ct, labels, length_mm, top_radius_mm=2.5)
    tree = segment_airways(coned)
    _check_tree_consistency(tree)
    # The trachea begins where the cone's cross-section reaches 0.8 of the trachea's.
    tracheal = radius_mm**2 >= 0.8 * PHANTOM_TRACHEA_RADIUS_MM**2
    expected_first = int(np.nonzero(tracheal)[0].max())  # slice index grows to the head
    slices = np.nonzero(tree.mask.any(axis=(1, 2)))[0]
    assert abs(slices.max() - expected_first) <= 1
    assert np.nonzero(tree.trachea.any(axis=(1, 2)))[0].max() == slices.max()
    assert radius_mm[slices.max() + 1] < PHANTOM_TRACHEA_RADIUS_MM  # the cone was cut off
    # Below the cone nothing changes: the same branches, the same carina.
    assert [(b.parent, b.generation, b.side) for b in tree.branches] == [
        (b.parent, b.generation, b.side) for b in phantom_tree_default.branches]
    assert np.allclose(tree.carina_mm, phantom_tree_default.carina_mm, atol=1.0)
    below = np.arange(ct.shape[0]) < expected_first - 1
    assert np.array_equal(tree.mask[below], phantom_tree_default.mask[below])


def test_given_body_mask_gives_the_same_tree(phantom, phantom_tree):
    ct, _, _ = phantom
    tree = segment_airways(ct, body=segment_body(ct), trachea_includes_bronchi_mm=0.0)
    assert np.array_equal(tree.mask, phantom_tree.mask)
    assert np.array_equal(tree.bronchus_left, phantom_tree.bronchus_left)


def test_summary_is_json_and_matches_the_masks(phantom, phantom_tree):
    ct, _, _ = phantom
    summary = json.loads(json.dumps(phantom_tree.to_dict()))
    assert summary["found"] is True
    assert summary["volume_ml"] == pytest.approx(phantom_tree.mask.sum() * ct.voxel_volume_ml,
                                                 abs=1e-3)
    assert len(summary["branches"]) == len(phantom_tree.branches)
    assert summary["max_generation"] == phantom_tree.max_generation
    assert summary["branch_points_mm"][0] == pytest.approx(
        phantom_tree.branch_points_mm[0].tolist(), abs=0.01)


# -- leak control ----------------------------------------------------------------------------


def _tube_beside_emphysema(channel: bool = True, noise_hu: float = 10.0):
    """A soft-tissue cylinder with an air tube (a trachea) down its middle and a 55 ml block
    of -920 HU (emphysematous lung) beside it; a 2 × 2 voxel air channel joins them."""
    shape = (60, 96, 96)
    k, j, i = np.indices(shape)
    hu = np.full(shape, -1000.0, dtype=np.float32)
    hu[(j - 48) ** 2 + (i - 48) ** 2 <= 44**2] = 40.0
    tube = ((j - 48) ** 2 + (i - 48) ** 2 <= 8**2) & (k >= 20)
    region = (k >= 5) & (k < 40) & (j >= 30) & (j < 66) & (i >= 62) & (i < 84)
    hu[region] = -920.0
    hu[tube] = -1000.0
    if channel:
        hu[(k >= 24) & (k < 26) & (j >= 47) & (j < 49) & (i >= 55) & (i < 62)] = -1000.0
    hu += np.random.default_rng(3).normal(0.0, noise_hu, shape).astype(np.float32)
    return Volume(hu, spacing_mm=(2.0, 1.0, 1.0)), tube, region


def test_growing_backs_off_before_the_leak_into_emphysema():
    ct, tube, region = _tube_beside_emphysema()
    # The region is reachable: at -900 HU tube and region are one component.
    components, _ = ndimage.label(ct.array < -900.0)
    assert components[region & (components > 0)].max() == components[tube].max()
    tree = segment_airways(ct)
    assert tree.threshold_hu < -920.0
    assert (tree.mask & tube).sum() >= 0.99 * tube.sum()
    assert (tree.mask & region).sum() <= 0.001 * region.sum()
    assert tree.mask.sum() <= 1.02 * tube.sum()


def test_tube_that_never_leaks_is_not_an_airway():
    """Bowel gas: the tube without the channel never opens into aerated lung."""
    ct, _, _ = _tube_beside_emphysema(channel=False)
    with pytest.warns(HounsfieldWarning, match="never opens into aerated lung"):
        tree = segment_airways(ct)
    assert not tree.mask.any() and tree.branches == ()


# -- nothing to find ---------------------------------------------------------------------


def test_abdomen_crop_of_phantom_has_no_airway(phantom):
    ct, labels, _ = phantom
    first_lung_slice = np.nonzero(_label(labels, "lung_left").any(axis=(1, 2)))[0].min()
    abdomen = ct.crop((0, 0, 0), (first_lung_slice - 2, *ct.shape[1:]))
    with pytest.warns(HounsfieldWarning, match="no trachea found"):
        tree = segment_airways(abdomen)
    assert tree.mask.shape == abdomen.shape and not tree.mask.any()
    assert tree.to_dict()["found"] is False and tree.max_generation == {"left": 0, "right": 0}


def test_phantom_without_air_has_no_airway():
    ct, _ = thorax_phantom(shape=(48, 64, 64), spacing_mm=(6.0, 5.0, 5.0),
                           tissue_hu={"air": 40.0})
    with pytest.warns(HounsfieldWarning, match="no air tube"):
        tree = segment_airways(ct)
    assert not (tree.mask.any() or tree.skeleton.any()) and len(tree.branch_points_mm) == 0


# -- input checks ------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"step_hu": 0.0}, "step_hu must be"),
    ({"start_hu": -400.0}, "start_hu must be below"),
    ({"leak_factor": 1.0}, "leak_factor must be"),
    ({"max_volume_ml": float("nan")}, "max_volume_ml must be"),
    ({"min_branch_length_mm": -1.0}, "min_branch_length_mm must be"),
    ({"trachea_includes_bronchi_mm": -1.0}, "trachea_includes_bronchi_mm must be"),
    ({"body": np.ones((2, 2, 2), bool)}, "body must be a bool mask"),
])
def test_invalid_options_are_rejected(kwargs, message):
    ct = Volume(np.zeros((4, 8, 8), np.float32))
    with pytest.raises(ValueError, match=message):
        segment_airways(ct, **kwargs)


def test_non_volume_is_rejected():
    with pytest.raises(TypeError, match="ct must be a Volume"):
        segment_airways(np.zeros((4, 8, 8)))


# -- real chest CT -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def chest_tree(chest_ct):
    return segment_airways(chest_ct[0])


def _first_divided_slice(mask: np.ndarray, order, spacing_mm) -> int:
    """The first axial slice, from the head down, where the mask shows two tubes (≥ 30 mm²)."""
    for k in order:
        components, count = ndimage.label(mask[k])
        areas_mm2 = np.bincount(components.ravel())[1:] * spacing_mm[1] * spacing_mm[2]
        if np.count_nonzero(areas_mm2 >= 30.0) >= 2:
            return k
    raise AssertionError("the mask never divides")


@pytest.mark.real
def test_chest_trachea_matches_reference(chest_ct, chest_tree):
    ct, labels = chest_ct
    reference = _label(labels, "trachea")
    # The issue asks for 0.85 against the whole label. Reached: 0.890 (0.764 with the
    # trachea split at the carina and the larynx kept).
    assert dice(chest_tree.trachea, reference) >= 0.87
    assert ct.direction[2, 0] > 0  # slice index grows towards the head (LAS)
    ours = np.nonzero(chest_tree.trachea.any(axis=(1, 2)))[0]
    theirs = np.nonzero(reference.any(axis=(1, 2)))[0]
    # It begins below the larynx and ends in the main bronchi where the reference does,
    # within a slice (reached: 1 slice higher, the same slice).
    assert abs(ours.max() - theirs.max()) <= 1 and abs(ours.min() - theirs.min()) <= 1
    assert not chest_tree.mask[ours.max() + 1:].any()
    # It divides at the carina: within one slice of where the reference divides.
    superior_first = np.arange(ct.shape[0])[::-1]
    assert abs(_first_divided_slice(chest_tree.trachea, superior_first, ct.spacing_mm)
               - _first_divided_slice(reference, superior_first, ct.spacing_mm)) <= 1
    # What the reference labels trachea of our lumen is ours, and the bronchi are beyond it.
    # Reached: 0.957 and 0.10.
    found = reference & chest_tree.mask
    assert (found & chest_tree.trachea).sum() >= 0.93 * found.sum()
    bronchi = chest_tree.bronchus_left | chest_tree.bronchus_right
    assert (bronchi & reference).sum() <= 0.15 * bronchi.sum()


@pytest.mark.real
def test_chest_tree_reaches_lobar_bronchi_of_distinct_lobes(chest_ct, chest_tree):
    ct, labels = chest_ct
    tree = chest_tree
    _check_tree_consistency(tree)
    assert tree.max_generation["left"] >= 2 and tree.max_generation["right"] >= 2
    for side, lobes in (("left", LEFT_LOBES), ("right", RIGHT_LOBES)):
        lobar = [b for b in tree.branches if b.generation == 2 and b.side == side]
        reached = {_lobe_of_subtree(tree, b, ct, labels, lobes) for b in lobar}
        # Each lobar bronchus leads into a single lobe, and they lead into different ones.
        assert None not in reached and len(reached) == len(lobar) >= 2


def _lobe_of_subtree(tree, branch, ct, labels, lobes):
    """The one lobe (of ``lobes``) that the ends of a branch's subtree lie in, else None."""
    found = set()
    stack = [branch.id]
    while stack:
        current = tree.branches[stack.pop()]
        stack.extend(current.children)
        if not current.children:
            found.add(_lobe_near(ct.world_to_index(current.points_mm[-1]), labels, lobes))
    return found.pop() if len(found) == 1 else None


def _lobe_near(index, labels, lobes, half_size=(4, 14, 14)):
    """The most common lobe label in a box reaching about 10 mm around a voxel index."""
    centre = np.rint(index).astype(int)
    box = tuple(slice(max(c - h, 0), c + h + 1) for c, h in zip(centre, half_size, strict=True))
    counts = {name: int((labels.array[box] == labels.labels.id_of(name)).sum())
              for name in lobes}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else None


@pytest.mark.real
def test_chest_tree_does_not_leak(chest_ct, chest_tree):
    ct, labels = chest_ct
    tree = chest_tree
    reference_ml = _label(labels, "trachea").sum() * ct.voxel_volume_ml
    volume_ml = tree.mask.sum() * ct.voxel_volume_ml
    # Weibel's lung model: generations 2 to 6 hold about 0.4 times the volume of the
    # trachea and main bronchi, which the reference label covers. Reached: 33.2 ml
    # against 24.7 ml (1.35 times).
    assert volume_ml <= 1.5 * reference_ml
    lobes = np.isin(labels.array, [labels.labels.id_of(n) for n in LEFT_LOBES + RIGHT_LOBES])
    inside_ml = (tree.mask & lobes).sum() * ct.voxel_volume_ml
    # Only the intrapulmonary bronchi lie in the lobes. Reached: 3.4 ml (10 %).
    assert inside_ml <= 0.15 * volume_ml and inside_ml <= 0.002 * lobes.sum() * ct.voxel_volume_ml


@pytest.mark.real
def test_chest_sides_lie_at_their_world_x(chest_ct, chest_tree):
    ct, _ = chest_ct
    assert _centre_x_mm(ct, chest_tree.bronchus_left) > 0 > _centre_x_mm(
        ct, chest_tree.bronchus_right)


@pytest.mark.real
def test_chest_abdomen_crop_has_no_airway(chest_ct):
    ct, labels = chest_ct
    lungs = np.isin(labels.array, [labels.labels.id_of(n) for n in LEFT_LOBES + RIGHT_LOBES])
    first_lung_slice = np.nonzero(lungs.any(axis=(1, 2)))[0].min()
    abdomen = ct.crop((0, 0, 0), (first_lung_slice - 2, *ct.shape[1:]))
    with pytest.warns(HounsfieldWarning, match="no trachea found"):
        tree = segment_airways(abdomen)
    assert not tree.mask.any()


@pytest.mark.real
def test_chest_scan_starting_below_the_carina_has_no_trachea(chest_ct, chest_tree):
    ct, _ = chest_ct
    superior_first = np.arange(ct.shape[0])[::-1]
    divided = _first_divided_slice(chest_tree.trachea, superior_first, ct.spacing_mm)
    lower = ct.crop((0, 0, 0), (divided - 3, *ct.shape[1:]))
    with pytest.warns(HounsfieldWarning, match="one side of the body"):
        tree = segment_airways(lower)
    assert not tree.mask.any()
