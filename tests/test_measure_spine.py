"""Vertebral body heights, height loss and Genant grade (hounsfield.measure.spine)."""

from __future__ import annotations

import json
import math
import time
from typing import NamedTuple

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hounsfield.labels import LabelTable
from hounsfield.measure.spine import (
    GENANT_GRADES,
    VERTEBRA_NAMES,
    VertebraHeights,
    genant_grade,
    vertebral_heights,
)
from hounsfield.volume import AXIAL_LPS, Volume

# -- synthetic spine ---------------------------------------------------------------------
#
# Vertebrae are elliptic-cylinder bodies (32 mm wide, 24 mm deep, 20 mm high) on a
# straight, tilted or curved (kyphotic) column, each with a posterior arch ring round a
# 14 mm canal, transverse processes and a spinous process sloping down past the body's
# lower endplate: in the mid-sagittal plane only the canal separates body and process.

NAMES = ("vertebrae_T10", "vertebrae_T11", "vertebrae_T12", "vertebrae_L1", "vertebrae_L2")
SPACING_MM = (2.0, 0.8, 0.8)
HEIGHT_MM, DISC_MM = 20.0, 6.0
SEMI_WIDTH_MM, SEMI_DEPTH_MM = 16.0, 12.0
CANAL_MM, RING_MM = 7.0, 11.0
WALL_FRACTION = 0.15
WEDGE = "vertebrae_T12"


class Frame(NamedTuple):
    """A vertebra's centre and local axes (LPS): cranial tangent and anterior direction."""

    centre: np.ndarray
    axis: np.ndarray
    anterior: np.ndarray


def column(tilt_deg: float = 0.0, radius_mm: float = math.inf) -> list[Frame]:
    """Frames of the vertebrae, cranial first, on a circle of radius_mm bent round an
    anterior centre (kyphosis), tilted by tilt_deg in the sagittal plane at the middle."""
    pitch = HEIGHT_MM + DISC_MM
    frames = []
    for k in range(len(NAMES)):
        arc = ((len(NAMES) - 1) / 2 - k) * pitch
        phi = math.radians(tilt_deg) + (0.0 if math.isinf(radius_mm) else arc / radius_mm)
        axis = np.array([0.0, -math.sin(phi), math.cos(phi)])
        anterior = np.array([0.0, -math.cos(phi), -math.sin(phi)])
        if math.isinf(radius_mm):
            centre = arc * axis
        else:
            phi0 = math.radians(tilt_deg)
            centre = radius_mm * np.array([0.0, math.cos(phi) - math.cos(phi0),
                                           math.sin(phi) - math.sin(phi0)])
        frames.append(Frame(centre + np.array([3.1, -7.3, 120.3]), axis, anterior))
    return frames


def wedge_height_mm(anterior_mm, loss: float):
    """Height (mm) of the wedge body at anterior coordinate anterior_mm from its centre."""
    return HEIGHT_MM * (1 - loss * (np.asarray(anterior_mm) + SEMI_DEPTH_MM) / (2 * SEMI_DEPTH_MM))


def inside_vertebra(t, a, lat, wedge_loss: float) -> np.ndarray:
    """Points of one vertebra, in its local coordinates (mm): axial, anterior, lateral."""
    top = HEIGHT_MM / 2 - (HEIGHT_MM - wedge_height_mm(a, wedge_loss))
    body = ((lat / SEMI_WIDTH_MM) ** 2 + (a / SEMI_DEPTH_MM) ** 2 <= 1) & (t >= -HEIGHT_MM / 2) \
        & (t <= top)
    canal_a = -SEMI_DEPTH_MM - CANAL_MM
    radius = np.hypot(lat, a - canal_a)
    arch_levels = (t >= -0.35 * HEIGHT_MM) & (t <= 0.45 * HEIGHT_MM)
    ring = (radius >= CANAL_MM) & (radius <= RING_MM) & arch_levels
    transverse = (np.abs(lat) <= 26) & (np.abs(a - canal_a) <= 3) & arch_levels
    behind = canal_a - CANAL_MM - a  # depth (mm) behind the ring's inner wall
    spinous = (np.abs(lat) <= 2.5) & (behind >= 0) & (behind <= 28) \
        & (t <= 0.2 * HEIGHT_MM - 0.6 * behind) & (t >= -0.3 * HEIGHT_MM - 0.6 * behind)
    return body | ring | transverse | spinous


#: Local box (mm) that holds a whole vertebra: axial, anterior, lateral.
VERTEBRA_BOX_MM = ((-26.0, 12.0), (-56.0, 14.0), (-28.0, 28.0))


def paint(frames: list[Frame], *, wedge_loss: float = 0.35, direction=AXIAL_LPS,
          cut_mm: float = 0.0) -> Volume:
    """Label map of the column on a grid with the given direction; ``cut_mm`` removes that
    much of the grid's top (along its slice axis), cutting the cranial vertebra."""
    direction = np.asarray(direction, dtype=float)
    spacing = np.asarray(SPACING_MM)
    in_grid = np.array([f.centre for f in frames]) @ direction  # grid-axis coordinates
    lower = np.floor((in_grid.min(axis=0) - 48.0) / spacing) * spacing
    upper = in_grid.max(axis=0) + 48.0
    upper[0] -= cut_mm
    shape = tuple(int(n) for n in np.floor((upper - lower) / spacing).astype(int) + 1)
    table = LabelTable.from_names({i + 1: name for i, name in enumerate(NAMES)})
    labels = Volume(np.zeros(shape, np.uint8), spacing_mm=SPACING_MM,
                    origin_mm=direction @ lower, direction=direction, labels=table)
    for label_id, (name, frame) in enumerate(zip(NAMES, frames, strict=True), start=1):
        box = _index_box(labels, frame)
        local = _local_coordinates(labels, frame, box)
        inside = inside_vertebra(*local, wedge_loss if name == WEDGE else 0.0)
        labels.array[box][inside] = label_id
    return labels


def _index_box(labels: Volume, frame: Frame) -> tuple[slice, ...]:
    """Array slices that hold the vertebra's local box."""
    corners = np.array(np.meshgrid(*VERTEBRA_BOX_MM)).reshape(3, -1).T
    world = frame.centre + corners @ np.array([frame.axis, frame.anterior,
                                               np.cross(frame.axis, frame.anterior)])
    index = labels.world_to_index(world)
    low = np.clip(np.floor(index.min(axis=0)).astype(int), 0, labels.shape)
    high = np.clip(np.ceil(index.max(axis=0)).astype(int) + 1, 0, labels.shape)
    return tuple(slice(a, b) for a, b in zip(low, high, strict=True))


def _local_coordinates(labels: Volume, frame: Frame, box) -> np.ndarray:
    """Axial, anterior and lateral coordinates (mm) of the voxels of ``box``; (3, *shape)."""
    to_local = np.array([frame.axis, frame.anterior, np.cross(frame.axis, frame.anterior)])
    start = np.array([b.indices(n)[0] for b, n in zip(box, labels.shape, strict=True)])
    step = to_local @ labels.direction * np.asarray(labels.spacing_mm)  # local mm per index
    offset = to_local @ (labels.index_to_world(start) - frame.centre)
    grids = np.ogrid[tuple(slice(0, len(range(*b.indices(n))))
                           for b, n in zip(box, labels.shape, strict=True))]
    return np.array([offset[r] + sum(step[r, k] * grids[k] for k in range(3))
                     for r in range(3)])


def voxel_extent_mm(labels: Volume, axis) -> float:
    """Width (mm) of one voxel along a world direction."""
    return float(np.sum(np.abs(np.asarray(axis) @ labels.direction) * labels.spacing_mm))


def true_heights(name: str, loss: float) -> tuple[float, float, float]:
    """Anterior, middle and posterior heights (mm) where they are measured."""
    depth = 2 * SEMI_DEPTH_MM
    positions = (SEMI_DEPTH_MM - WALL_FRACTION * depth, 0.0,
                 -SEMI_DEPTH_MM + WALL_FRACTION * depth)
    if name != WEDGE:
        return (HEIGHT_MM,) * 3
    return tuple(float(wedge_height_mm(p, loss)) for p in positions)


def oblique_direction() -> np.ndarray:
    """AXIAL_LPS rotated by 25° about an oblique axis: no grid axis lies along the spine."""
    return Rotation.from_rotvec(np.radians(25) * np.array([0.6, 0.8, 0.0])).as_matrix() \
        @ AXIAL_LPS


CASES = {
    "straight": (column(), AXIAL_LPS),
    "tilted 20°": (column(tilt_deg=20.0), AXIAL_LPS),
    "kyphotic arc, oblique grid": (column(tilt_deg=-10.0, radius_mm=250.0), oblique_direction()),
}


@pytest.fixture(scope="module", params=list(CASES))
def measured(request):
    frames, direction = CASES[request.param]
    labels = paint(frames, direction=direction)
    return labels, frames, vertebral_heights(labels, wall_fraction=WALL_FRACTION)


# -- synthetic spines --------------------------------------------------------------------


def test_heights_are_within_one_voxel_along_the_spine(measured):
    labels, frames, results = measured
    assert [r.name for r in results] == list(NAMES)
    for result, frame in zip(results, frames, strict=True):
        tolerance = voxel_extent_mm(labels, frame.axis)
        truth = true_heights(result.name, 0.35)
        np.testing.assert_allclose(result.heights_mm, truth, atol=tolerance,
                                   err_msg=result.name)


def test_local_frame_follows_the_spine(measured):
    _, frames, results = measured
    for result, frame in zip(results, frames, strict=True):
        assert np.degrees(np.arccos(np.dot(result.axis, frame.axis))) < 3.0, result.name
        assert np.degrees(np.arccos(np.dot(result.anterior_direction, frame.anterior))) < 5.0
        assert abs(np.dot(result.axis, result.anterior_direction)) < 1e-9


def test_wedge_loss_and_grade(measured):
    _, _, results = measured
    by_name = {r.name: r for r in results}
    expected_loss = 1 - true_heights(WEDGE, 0.35)[0] / HEIGHT_MM  # 0.2975 at the anterior spot
    assert by_name[WEDGE].height_loss_fraction == pytest.approx(expected_loss, abs=0.04)
    assert by_name[WEDGE].grade == "moderate"
    for name in set(NAMES) - {WEDGE}:
        assert by_name[name].height_loss_fraction < 0.1, name
        assert by_name[name].grade == "normal"
        assert by_name[name].reason is None


@pytest.mark.parametrize(("loss", "grade"), [(0.1, "normal"), (0.55, "severe")])
def test_grade_follows_the_wedge(loss, grade):
    labels = paint(column(tilt_deg=20.0), wedge_loss=loss)
    wedge = vertebral_heights(labels, names=WEDGE, wall_fraction=WALL_FRACTION)[0]
    expected = 1 - true_heights(WEDGE, loss)[0] / HEIGHT_MM
    assert wedge.height_loss_fraction == pytest.approx(expected, abs=0.05)
    assert wedge.grade == grade


def test_names_selects_without_changing_the_measurement(measured):
    labels, _, results = measured
    selected = vertebral_heights(labels, names=[NAMES[-1], NAMES[1]],
                                 wall_fraction=WALL_FRACTION)
    assert [r.name for r in selected] == [NAMES[1], NAMES[-1]]
    assert selected == [results[1], results[-1]]


def test_body_cut_by_the_field_of_view_gets_no_heights():
    labels = paint(column(), cut_mm=45.0)  # the grid ends 3 mm above T10's body centre
    results = {r.name: r for r in vertebral_heights(labels)}
    cut = results["vertebrae_T10"]
    assert cut.heights_mm is None and cut.grade is None and cut.height_loss_fraction is None
    assert "field of view" in cut.reason
    below = results["vertebrae_T11"]  # graded against the lower wedge T12 alone
    assert below.height_loss_fraction == 0.0 and below.grade == "normal"
    assert below.reason is None


def test_anterior_osteophyte_does_not_move_the_anterior_wall():
    labels = paint(column(tilt_deg=20.0))
    frame = column(tilt_deg=20.0)[1]  # T11: a 6 mm lip off its upper anterior corner
    t, a, lat = _local_coordinates(labels, frame, (slice(None),) * 3)
    lip = (a > SEMI_DEPTH_MM - 1) & (a < SEMI_DEPTH_MM + 6) & (t > 6) & (t < 10) \
        & (np.abs(lat) < 8)
    labels.array[lip] = 2
    result = vertebral_heights(labels, names="vertebrae_T11", wall_fraction=WALL_FRACTION)[0]
    np.testing.assert_allclose(result.heights_mm, HEIGHT_MM, atol=voxel_extent_mm(labels,
                                                                                  frame.axis))
    assert result.grade == "normal"


def test_incomplete_label_is_measured_but_not_graded():
    labels = paint(column())
    frame = column()[3]  # L1: keep only a 12 mm wide sagittal slab of it
    world = labels.index_to_world(np.argwhere(labels.array == 4))
    lateral = (world - frame.centre) @ np.cross(frame.axis, frame.anterior)
    voxels = np.argwhere(labels.array == 4)[np.abs(lateral) > 6.0]
    labels.array[tuple(voxels.T)] = 0
    results = {r.name: r for r in vertebral_heights(labels)}
    slab = results["vertebrae_L1"]
    np.testing.assert_allclose(slab.heights_mm, HEIGHT_MM, atol=SPACING_MM[0])
    assert slab.grade is None and "incomplete" in slab.reason
    # L2 is compared with L1 alone, which is not a reference: nothing to compare with.
    assert results["vertebrae_L2"].grade is None
    assert "adjacent" in results["vertebrae_L2"].reason


def test_lone_vertebra_has_heights_but_no_grade():
    labels = paint(column())
    labels.array[labels.array != 2] = 0
    (result,) = vertebral_heights(labels)
    assert result.name == "vertebrae_T11"
    np.testing.assert_allclose(result.heights_mm, HEIGHT_MM, atol=SPACING_MM[0])
    assert result.axis == (0.0, 0.0, 1.0)  # no neighbours: the patient's superior axis
    assert result.grade is None and "adjacent" in result.reason


def test_to_dict_names_units_and_is_json_ready(measured):
    _, _, results = measured
    record = results[2].to_dict()
    assert {"anterior_height_mm", "middle_height_mm", "posterior_height_mm", "centroid_mm",
            "height_loss_fraction", "grade", "reason"} <= set(record)
    assert json.loads(json.dumps(record)) == record


def test_map_without_vertebrae_gives_an_empty_list():
    table = LabelTable.from_names({1: "lung_left", 2: "vertebrae_T4"})
    assert vertebral_heights(Volume(np.ones((4, 4, 4), np.uint8), labels=table)) == []


def test_invalid_inputs_are_rejected():
    labels = paint(column())
    with pytest.raises(TypeError, match="LabelTable"):
        vertebral_heights(Volume(labels.array))
    with pytest.raises(TypeError, match="integer"):
        vertebral_heights(labels.with_array(labels.array.astype(np.float32)))
    with pytest.raises(ValueError, match="vertebra labels"):
        vertebral_heights(labels, names=["vertebrae_T13"])
    with pytest.raises(ValueError, match="not in the label map"):
        vertebral_heights(labels, names="vertebrae_L5")
    with pytest.raises(ValueError, match="band_mm"):
        vertebral_heights(labels, band_mm=-1.0)
    with pytest.raises(ValueError, match="wall_fraction"):
        vertebral_heights(labels, wall_fraction=0.5)


# -- Genant grade --------------------------------------------------------------------------


@pytest.mark.parametrize(("loss", "grade"), [
    (0.0, "normal"), (0.19, "normal"), (0.1999, "normal"), (0.20, "mild"), (0.2499, "mild"),
    (0.25, "moderate"), (0.40, "moderate"), (0.4001, "severe"), (0.41, "severe"),
    (1.0, "severe")])
def test_genant_grade_boundaries(loss, grade):
    assert genant_grade(loss) == grade
    assert grade in GENANT_GRADES


@pytest.mark.parametrize("loss", [math.nan, -0.01, 1.01, math.inf])
def test_genant_grade_rejects_values_outside_zero_to_one(loss):
    with pytest.raises(ValueError, match="height_loss_fraction"):
        genant_grade(loss)


@pytest.mark.parametrize("loss", [None, "0.3"])
def test_genant_grade_rejects_non_numbers(loss):
    with pytest.raises(TypeError, match="height_loss_fraction"):
        genant_grade(loss)


def test_vertebra_names_run_head_to_sacrum():
    assert VERTEBRA_NAMES[0] == "vertebrae_C1" and VERTEBRA_NAMES[-1] == "vertebrae_S1"
    assert len(VERTEBRA_NAMES) == 25 and VERTEBRA_NAMES.index("vertebrae_T1") == 7


# -- real chest CT -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chest_spine(chest_ct):
    labels = chest_ct[1]
    start = time.perf_counter()
    results = vertebral_heights(labels)
    return {r.name: r for r in results}, time.perf_counter() - start


@pytest.mark.real
def test_chest_ct_thoracic_heights_are_plausible(chest_spine):
    results, _ = chest_spine
    levels = [f"vertebrae_T{n}" for n in range(1, 13)] + ["vertebrae_L1", "vertebrae_L2"]
    heights = np.array([results[name].heights_mm for name in levels])
    assert np.all((heights > 12.0) & (heights < 32.0))
    thoracic = heights[:12]
    assert np.all((thoracic > 13.0) & (thoracic < 30.0))
    middle = heights[:, 1]
    assert np.polyfit(np.arange(len(levels)), middle, 1)[0] > 0.4  # mm per level, caudally
    assert middle[-4:].mean() > middle[:4].mean() + 5.0


@pytest.mark.real
def test_chest_ct_vertebrae_cut_by_the_scan_are_not_graded(chest_spine):
    results, _ = chest_spine
    for name in ("vertebrae_C5", "vertebrae_C6", "vertebrae_L3"):
        assert results[name].heights_mm is None and results[name].grade is None
        assert "field of view" in results[name].reason
    graded = [r for r in results.values() if r.grade is not None]
    assert {r.name for r in graded} >= {f"vertebrae_T{n}" for n in range(2, 13)}
    # No vertebral deformity in this scan: no moderate or severe grade.
    assert all(r.grade in ("normal", "mild") for r in graded)
    assert all(isinstance(r, VertebraHeights) for r in results.values())


@pytest.mark.real
def test_chest_ct_runtime(chest_spine):
    _, seconds = chest_spine
    assert seconds < 10.0  # about 0.6 s on one core; generous for shared machines
