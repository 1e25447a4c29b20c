"""DRRs: pose and pinhole geometry, agreement with the shared projector and with exact line
integrals, named views, and label projection."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hounsfield.data.phantoms import Ellipsoid, EllipsoidPhantom, body_mask, thorax_phantom
from hounsfield.labels import LabelTable
from hounsfield.simulate.drr import (
    detector_volume,
    display_image,
    drr_geometry,
    overlay_labels,
    project_labels,
    project_points,
    render_drr,
)
from hounsfield.tomo.geometry import cone_beam
from hounsfield.tomo.project import project
from hounsfield.volume import Volume

MU_WATER = 0.0194
SMALL = {"detector_shape": (96, 112), "pixel_spacing_mm": 4.0}


@pytest.fixture(scope="module")
def phantom():
    """The thorax phantom (CT in HU, labels) on a 64 × 80 × 96 grid of 4.5 × 4 × 3.5 mm."""
    return thorax_phantom((64, 80, 96), (4.5, 4.0, 3.5))


def mu_volume(ct: Volume, mu_water: float = MU_WATER) -> Volume:
    return ct.with_array(np.clip(mu_water * (1 + ct.array / 1000.0), 0, None).astype(np.float32))


def mask_as_hu(labels: Volume, mask: np.ndarray) -> Volume:
    """A binary mask as HU that μ_water = 1 / mm turns into μ = 1 inside, 0 outside."""
    return labels.with_array(np.where(mask, 0.0, -1000.0).astype(np.float32), labels=None)


# -- pose and the pinhole formula -----------------------------------------------------------------


def pinhole(point, centre, view_beam, rotate_deg, translate_mm, sdd, sod, shape, pixel):
    """(row, col) of a point: the perspective division, from the pose's parameters alone."""
    rotation = Rotation.from_euler("xyz", rotate_deg, degrees=True).as_matrix()  # Rz Ry Rx
    beam = rotation @ np.asarray(view_beam, float)
    up = rotation @ np.array([0.0, 0.0, 1.0])
    right = np.cross(beam, up)
    source = np.asarray(centre) - sod * beam + np.asarray(translate_mm)
    relative = np.asarray(point) - source
    scale = sdd / (relative @ beam) / pixel
    return np.array([(shape[0] - 1) / 2 - scale * (relative @ up),
                     (shape[1] - 1) / 2 + scale * (relative @ right)])


def marker_centroid(ct: Volume, corner_index, geometry) -> tuple[np.ndarray, np.ndarray]:
    """Detector centroid of a 2×2×2-voxel bone marker, and its centre in LPS mm."""
    with_marker = ct.array.copy()
    k, j, i = corner_index
    with_marker[k:k + 2, j:j + 2, i:i + 2] += 3000.0
    difference = render_drr(ct.with_array(with_marker), geometry) - render_drr(ct, geometry)
    peak = np.unravel_index(np.argmax(difference), difference.shape)
    window = tuple(slice(max(p - 5, 0), p + 6) for p in peak)
    weights = difference[window]
    rows, cols = np.mgrid[window]
    centroid = np.array([(weights * rows).sum(), (weights * cols).sum()]) / weights.sum()
    return centroid, ct.index_to_world(np.asarray(corner_index) + 0.5)


@pytest.mark.parametrize("view, rotate_deg, translate_mm, beam", [
    ("ap", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0, 1, 0)),
    ("ap", (12.0, -8.0, 30.0), (15.0, -10.0, 20.0), (0, 1, 0)),
    ("lateral-left", (0.0, 0.0, 0.0), (0.0, 0.0, -25.0), (1, 0, 0)),
    ("pa", (-10.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0, -1, 0)),
])
def test_marker_lands_where_the_pinhole_formula_says(phantom, view, rotate_deg, translate_mm,
                                                     beam):
    ct, _ = phantom
    geometry = drr_geometry(ct, view, rotate_deg=rotate_deg, translate_mm=translate_mm,
                            sdd_mm=1020.0, sod_mm=850.0, **SMALL)
    centroid, point = marker_centroid(ct, (40, 30, 58), geometry)  # left of, above the centre
    centre = ct.index_to_world((np.asarray(ct.shape) - 1) / 2)
    expected = pinhole(point, centre, beam, rotate_deg, translate_mm, 1020.0, 850.0,
                       SMALL["detector_shape"], SMALL["pixel_spacing_mm"])
    assert np.all(np.abs(centroid - expected) < 0.5), (centroid, expected)
    np.testing.assert_allclose(project_points(geometry, point), expected, atol=1e-9)


def test_named_views_show_the_patient_the_radiographic_way(phantom):
    """AP: the patient's left on the image's right, superior at the top; PA mirrors it;
    left lateral: anterior on the right; right lateral mirrors it."""
    ct, _ = phantom
    left_upper_anterior = ct.index_to_world((np.asarray(ct.shape) - 1) / 2) + [60.0, -40.0, 80.0]
    centre = (np.asarray(SMALL["detector_shape"]) - 1) / 2
    position = {view: project_points(drr_geometry(ct, view, **SMALL), left_upper_anterior)
                for view in ("ap", "pa", "lateral-left", "lateral-right")}
    assert position["ap"][0] < centre[0] and position["ap"][1] > centre[1]
    assert position["pa"][0] < centre[0] and position["pa"][1] < centre[1]
    assert position["lateral-left"][1] > centre[1] > position["lateral-right"][1]


@pytest.mark.parametrize("first, second", [("ap", "pa"), ("lateral-left", "lateral-right")])
def test_opposite_views_are_mirror_images(phantom, first, second):
    """Far from the source the cone is nearly parallel: opposite views differ by a left–right
    flip only; at radiographic distances the flip still explains them best."""
    ct, _ = phantom
    far = {"sdd_mm": 100_000.0, "sod_mm": 99_000.0, **SMALL}
    a, b = (render_drr(ct, drr_geometry(ct, view, **far)) for view in (first, second))
    assert np.linalg.norm(a - b[:, ::-1]) < 0.01 * np.linalg.norm(a)
    a, b = (render_drr(ct, drr_geometry(ct, view, **SMALL)) for view in (first, second))
    mirrored = np.corrcoef(a.ravel(), b[:, ::-1].ravel())[0, 1]
    assert mirrored > 0.97
    assert mirrored > np.corrcoef(a.ravel(), b.ravel())[0, 1] + 0.02


def test_rotation_about_z_turns_ap_into_lateral(phantom):
    ct, _ = phantom
    turned = drr_geometry(ct, "ap", rotate_deg=(0, 0, 90), **SMALL)
    lateral = drr_geometry(ct, "lateral-right", **SMALL)
    for name in ("source", "detector", "u", "v"):
        np.testing.assert_allclose(getattr(turned, name), getattr(lateral, name), atol=1e-9)


# -- agreement with the shared projector and with exact line integrals ----------------------------


@pytest.mark.parametrize("view, rotate_deg", [("ap", (0, 0, 0)), ("lateral-left", (20, 35, 50))])
def test_agrees_with_the_shared_projector(phantom, view, rotate_deg):
    ct, _ = phantom
    geometry = drr_geometry(ct, view, rotate_deg=rotate_deg, **SMALL)
    ours = render_drr(ct, geometry, mu_water_per_mm=MU_WATER)
    shared = project(mu_volume(ct), geometry)[0]
    assert np.linalg.norm(ours - shared) <= 1e-5 * np.linalg.norm(shared)


def test_agrees_with_the_shared_projector_on_an_oblique_volume():
    """A volume whose axes are not the world's (coronal slices, anisotropic voxels)."""
    rng = np.random.default_rng(3)
    direction = Rotation.from_euler("zyx", [20, -35, 60], degrees=True).as_matrix()
    ct = Volume(rng.uniform(-1000, 1500, (20, 26, 22)).astype(np.float32),
                spacing_mm=(3.0, 1.5, 2.0), origin_mm=(-10.0, 5.0, 30.0), direction=direction)
    geometry = drr_geometry(ct, "pa", rotate_deg=(5, 10, 15), sdd_mm=600.0, sod_mm=400.0,
                            detector_shape=(40, 36), pixel_spacing_mm=1.5)
    ours = render_drr(ct, geometry)
    shared = project(mu_volume(ct), geometry)[0]
    assert np.linalg.norm(ours - shared) <= 1e-5 * np.linalg.norm(shared)


def test_line_integrals_of_an_ellipsoid_are_exact_within_a_few_percent():
    ellipsoid = EllipsoidPhantom([Ellipsoid((5.0, -8.0, 12.0), (70.0, 50.0, 60.0),
                                            angles_rad=(0.4, 0.3, -0.2), value=MU_WATER)])
    mu = ellipsoid.rasterize((96, 96, 96), spacing_mm=1.75, supersample=4)
    ct = mu.with_array(1000.0 * (mu.array / MU_WATER - 1.0))  # μ = μ_water (1 + HU/1000)
    for view, rotate_deg in (("ap", (0, 0, 0)), ("lateral-right", (25, -15, 40))):
        geometry = drr_geometry(ct, view, rotate_deg=rotate_deg, detector_shape=(64, 64),
                                pixel_spacing_mm=3.0)
        drr = render_drr(ct, geometry, mu_water_per_mm=MU_WATER)
        exact = ellipsoid.line_integrals(geometry.source[0],
                                         targets_mm=geometry.pixel_centers(0))
        # Near the rim the chord changes steeply, and voxels there are partial: a
        # voxel's blur moves the values there most. Away from it the error is < 1.2 %.
        inside = exact > 0.5 * exact.max()
        assert np.linalg.norm(drr - exact) <= 0.02 * np.linalg.norm(exact)
        assert np.max(np.abs(drr - exact)[inside] / exact[inside]) < 0.02
        np.testing.assert_allclose(render_drr(ct, geometry, output="intensity",
                                              mu_water_per_mm=MU_WATER), np.exp(-drr), rtol=1e-6)


@pytest.mark.real
def test_agrees_with_the_shared_projector_on_the_chest_ct(chest_ct):
    ct = chest_ct[0].crop((40, 0, 0), (80, 512, 512))
    geometry = drr_geometry(ct, "ap", detector_shape=(96, 256), pixel_spacing_mm=1.56)
    ours = render_drr(ct, geometry)
    shared = project(mu_volume(ct), geometry)[0]
    assert np.linalg.norm(ours - shared) <= 1e-5 * np.linalg.norm(shared)
    assert 3.0 < ours.max() < 15.0  # a chest is 3–15 attenuation lengths thick at 70 keV


# -- labels ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def label_projection(phantom):
    _, labels = phantom
    geometry = drr_geometry(labels, "ap", rotate_deg=(0, 10, 20), **SMALL)
    return geometry, project_labels(labels, geometry, threshold_mm=1.0)


def test_label_thickness_is_the_drr_of_the_label_alone(phantom, label_projection):
    _, labels = phantom
    geometry, projection = label_projection
    assert projection.names == tuple(labels.labels.names)
    for name in ("lung_left", "heart", "liver", "sternum", "trachea"):
        mask = labels.array == labels.labels.id_of(name)
        drr = render_drr(mask_as_hu(labels, mask), geometry, mu_water_per_mm=1.0)
        shared = project(labels.with_array(mask.astype(np.float32), labels=None), geometry)[0]
        assert drr.max() > 10.0, name
        np.testing.assert_allclose(projection[name], drr, atol=1e-4 * drr.max(), err_msg=name)
        np.testing.assert_allclose(projection[name], shared, atol=1e-4 * drr.max(), err_msg=name)


def test_label_thicknesses_add_up_to_the_labelled_region(phantom, label_projection):
    _, labels = phantom
    geometry, projection = label_projection
    everything = render_drr(mask_as_hu(labels, labels.array > 0), geometry, mu_water_per_mm=1.0)
    np.testing.assert_allclose(projection.thickness_mm.sum(axis=0), everything,
                               atol=1e-4 * everything.max())


def test_projected_labels_lie_inside_the_body_silhouette(phantom, label_projection):
    _, labels = phantom
    geometry, projection = label_projection
    silhouette = render_drr(mask_as_hu(labels, body_mask(labels)), geometry,
                            mu_water_per_mm=1.0) > 0
    inside = [name for name in projection.names if name != "table"]
    masks = projection.masks
    for name in inside:
        mask = masks[projection.names.index(name)]
        assert not np.any(mask & ~silhouette), name
    assert masks[projection.names.index("lung_right")].sum() > 200
    assert np.any(masks[projection.names.index("table")] & ~silhouette)  # the table is outside


def test_label_selection_and_a_map_without_table(phantom):
    _, labels = phantom
    geometry = drr_geometry(labels, "pa", **SMALL)
    chosen = project_labels(labels, geometry, names=["liver", "lung_left"], threshold_mm=5.0)
    assert chosen.names == ("liver", "lung_left")
    assert chosen.label_ids == (labels.labels.id_of("liver"), labels.labels.id_of("lung_left"))
    everything = project_labels(labels, geometry)
    np.testing.assert_array_equal(chosen["liver"], everything["liver"])
    np.testing.assert_array_equal(chosen.masks[0], everything["liver"] > 5.0)
    bare = project_labels(labels.with_array(labels.array.astype(np.uint8), labels=None), geometry)
    assert bare.label_ids == tuple(sorted(int(i) for i in np.unique(labels.array) if i > 0))
    np.testing.assert_array_equal(bare[f"label_{chosen.label_ids[0]}"], chosen["liver"])


def test_labels_on_another_grid_project_in_world_coordinates():
    """A label map and a CT of the same box on different grids give the same silhouette."""
    ids = np.zeros((30, 30, 30), np.uint8)
    z, y, x = np.mgrid[:30, :30, :30]
    ids[(z - 14.5) ** 2 + (y - 14.5) ** 2 + (x - 14.5) ** 2 < 100] = 1
    fine = Volume(ids, spacing_mm=2.0, labels=LabelTable.from_names({1: "ball"}))
    coarse = Volume(ids[::2, ::2, ::2], spacing_mm=4.0, origin_mm=(1.0, 1.0, 1.0),
                    labels=fine.labels)
    geometry = drr_geometry(fine, "ap", detector_shape=(40, 40), pixel_spacing_mm=2.0)
    a, b = (project_labels(v, geometry)["ball"] for v in (fine, coarse))
    assert abs(a.sum() - b.sum()) < 0.05 * a.sum()
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.97


# -- display and output helpers -------------------------------------------------------------------


def test_overlay_colours_label_pixels_only(phantom, label_projection):
    ct, _ = phantom
    geometry, projection = label_projection
    grey = display_image(render_drr(ct, geometry))
    picture = overlay_labels(grey, projection)
    outside = ~projection.masks.any(axis=0)
    assert picture.shape == (*grey.shape, 3) and picture.dtype == np.uint8
    np.testing.assert_array_equal(picture[outside][:, 0], np.round(grey[outside] * 255))
    assert np.any(picture[~outside][:, 0] != picture[~outside][:, 1])


def test_display_log_and_inversion():
    intensity = np.exp(-np.linspace(0.0, 4.0, 20, dtype=np.float32)).reshape(4, 5)
    grey = display_image(intensity, log=True, invert=True, percentiles=(0, 100))
    np.testing.assert_allclose(grey.ravel(), np.linspace(0.0, 1.0, 20), atol=1e-6)


def test_detector_volume_lies_on_the_detector(phantom):
    ct, _ = phantom
    geometry = drr_geometry(ct, "lateral-left", rotate_deg=(0, 0, 30), **SMALL)
    volume = detector_volume(np.zeros(geometry.det_shape, np.float32), geometry)
    np.testing.assert_allclose(volume.index_to_world([0, 7, 9]), geometry.pixel_centers(0)[7, 9],
                               atol=1e-9)


@pytest.mark.parametrize("kwargs, message", [
    ({"view": "oblique"}, "view must be one of"),
    ({"sod_mm": 1100.0}, "sod_mm must be below sdd_mm"),
    ({"detector_shape": (0, 10)}, "detector_shape must be two positive integers"),
    ({"pixel_spacing_mm": -1.0}, "pixel_spacing_mm must be"),
    ({"rotate_deg": (1, 2)}, "rotate_deg must be three finite numbers"),
])
def test_pose_errors_name_the_parameter(phantom, kwargs, message):
    ct, _ = phantom
    with pytest.raises(ValueError, match=message):
        drr_geometry(ct, **kwargs)


def test_render_errors(phantom):
    ct, labels = phantom
    geometry = drr_geometry(ct, **SMALL)
    with pytest.raises(ValueError, match="one-view 3D cone beam"):
        render_drr(ct, cone_beam(2, (8, 8), 1.0, sod_mm=500, sdd_mm=1000))
    with pytest.raises(ValueError, match="output must be one of"):
        render_drr(ct, geometry, output="log")
    with pytest.raises(ValueError, match="mu_water_per_mm"):
        render_drr(ct, geometry, mu_water_per_mm=0.0)
    with pytest.raises(TypeError, match="labels must hold integer ids"):
        project_labels(ct, geometry)
    with pytest.raises(ValueError, match="not in the label map"):
        project_labels(labels, geometry, names=["spleen", "unicorn"])
