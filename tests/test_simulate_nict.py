"""Non-ideal scans: noise vs dose, sparse-view and limited-angle artifacts, beam hardening,
cone beam with scatter and truncation, reproducibility, and low dose of the real chest CT."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from hounsfield.data.anatomy import thorax_phantom
from hounsfield.metrics import psnr_db
from hounsfield.simulate import nict
from hounsfield.simulate.nict import (
    ScanSettings,
    cbct,
    limited_angle,
    low_dose,
    scan_geometry,
    simulate_scan,
    sparse_view,
)
from hounsfield.simulate.physics import attenuation_per_mm
from hounsfield.volume import Volume


def disc_ct(radius_mm: float, n: int = 128, pixel_mm: float = 1.6, slices: int = 2,
            rods_hu: float | None = None):
    """Axial slices of a water cylinder in air (optionally two bone rods); radius map in mm."""
    centres = (np.arange(n) - (n - 1) / 2) * pixel_mm
    y, x = np.meshgrid(centres, centres, indexing="ij")
    image = np.where(np.hypot(y, x) < radius_mm, 0.0, -1000.0).astype(np.float32)
    if rods_hu is not None:
        for x0 in (-radius_mm / 2, radius_mm / 2):
            image[np.hypot(y, x - x0) < radius_mm / 6] = rods_hu
    ct = Volume(np.stack([image] * slices), spacing_mm=(5.0, pixel_mm, pixel_mm),
                origin_mm=(40.0, -30.0, 250.0))  # off-centre: scanned about its own centre
    return ct, np.hypot(y, x), (y, x)


@pytest.fixture(scope="module")
def water():
    return disc_ct(100.0)


@pytest.fixture(scope="module")
def thorax():
    ct, _ = thorax_phantom((2, 96, 96), (5.0, 3.6, 3.6), center_mm=(0.0, 10.0, 100.0))
    return ct


def psnr(scan) -> float:
    return psnr_db(scan.degraded.array, scan.reference.array)


# -- noise -----------------------------------------------------------------------------------


def test_noise_scales_as_one_over_sqrt_dose_and_the_mean_stays(water):
    ct, radius, _ = water
    inside = radius < 60.0
    clean = simulate_scan(ct, ScanSettings(n_views=360)).degraded.array[:, inside]
    sd = {}
    for dose in (1.0, 0.25, 0.1):
        image = low_dose(ct, dose, n_views=360, seed=4).degraded.array[:, inside]
        sd[dose] = float(image.std())
        assert abs(float(image.mean()) - float(clean.mean())) < 5.0  # HU
    print(f"water SD HU: {sd}")
    for dose in (0.25, 0.1):
        assert sd[dose] / sd[1.0] == pytest.approx(np.sqrt(1.0 / dose), rel=0.10)
    assert float(clean.std()) < 0.25 * sd[1.0]  # the noise-free image is nearly flat


def test_same_seed_same_scan_other_seed_other_noise(water):
    ct = water[0]
    settings = ScanSettings(n_views=90, dose_fraction=0.2, seed=7)
    first = simulate_scan(ct, settings, keep_sinogram=True)
    second = simulate_scan(ct, settings, keep_sinogram=True)
    assert np.array_equal(first.degraded.array, second.degraded.array)
    assert np.array_equal(first.sinogram, second.sinogram)
    other = simulate_scan(ct, settings.replace(seed=8))
    assert not np.array_equal(first.degraded.array, other.degraded.array)


def test_noise_does_not_depend_on_how_slices_are_chunked(water, monkeypatch):
    ct = disc_ct(100.0, n=64, pixel_mm=3.2, slices=3)[0]
    settings = ScanSettings(n_views=60, dose_fraction=0.5, seed=2)
    whole = simulate_scan(ct, settings).degraded.array
    monkeypatch.setattr(nict, "_CHUNK_SAMPLES", 1)  # one slice at a time
    assert np.array_equal(simulate_scan(ct, settings).degraded.array, whole)


def test_settings_json_round_trips_every_field():
    settings = ScanSettings(geometry="cone", n_views=123, arc_deg=200.5, dose_fraction=0.3,
                            i0_photons_per_pixel=2e5, electronic_noise_sd=3.5,
                            polychromatic=True, kvp=100.0, filtration_mm_al=2.5,
                            water_correction=True, energy_kev=65.0, detector_blur_mm=0.4,
                            scatter_to_primary=0.7, fov_mm=250.0, sod_mm=900.0, sdd_mm=1400.0,
                            detector_pitch_mm=0.8, method="cgls", filter="ramp",
                            iterations=12, seed=99)
    text = settings.to_json()
    assert ScanSettings.from_json(text) == settings
    assert json.loads(text)["dose_fraction"] == 0.3
    assert ScanSettings.from_json(ScanSettings().to_json()) == ScanSettings()
    numpy_numbers = ScanSettings(n_views=np.int64(90), dose_fraction=np.float32(0.5))
    assert json.loads(numpy_numbers.to_json())["n_views"] == 90


@pytest.mark.parametrize("changes, match", [
    ({"geometry": "helical"}, "geometry"), ({"n_views": 1}, "n_views"),
    ({"n_views": 10.5}, "n_views"), ({"arc_deg": 400.0}, "arc_deg"),
    ({"arc_deg": 0.5, "n_views": 60}, "arc_deg"), ({"dose_fraction": 0.0}, "dose_fraction"),
    ({"i0_photons_per_pixel": -1.0}, "i0_photons_per_pixel"),
    ({"scatter_to_primary": -0.1}, "scatter_to_primary"), ({"kvp": 500.0}, "kvp"),
    ({"polychromatic": 1}, "polychromatic"), ({"water_correction": True}, "water_correction"),
    ({"energy_kev": 300.0}, "energy_kev"), ({"sod_mm": 2000.0}, "sdd_mm"),
    ({"method": "art"}, "method"), ({"filter": "butterworth"}, "filter"),
    ({"iterations": 0}, "iterations"), ({"seed": -1}, "seed"),
    ({"geometry": "parallel", "arc_deg": 270.0}, "arc_deg"),
])
def test_bad_settings_name_the_parameter(changes, match):
    with pytest.raises(ValueError, match=match):
        ScanSettings(**changes)


def test_unknown_settings_in_json_are_refused():
    with pytest.raises(ValueError, match="unknown scan settings: dose"):
        ScanSettings.from_dict({"dose": 0.5})


def test_bad_inputs_are_refused(water):
    with pytest.raises(TypeError, match="ct must be a hounsfield Volume"):
        simulate_scan(water[0].array)
    with pytest.raises(TypeError, match="settings must be ScanSettings"):
        simulate_scan(water[0], {"n_views": 60})
    labels = water[0].with_array((water[0].array > -500).astype(np.uint8))
    with pytest.raises(ValueError, match="label map"):
        simulate_scan(labels)
    with pytest.raises(ValueError, match="source orbit"):
        simulate_scan(water[0], ScanSettings(sod_mm=100.0, sdd_mm=200.0))


# -- geometry and sinogram --------------------------------------------------------------------


def test_sinogram_holds_the_line_integrals_of_the_disc():
    ct, _, _ = disc_ct(60.0, n=96, pixel_mm=1.5, slices=1)
    scan = simulate_scan(ct, ScanSettings(geometry="parallel", n_views=90), keep_sinogram=True)
    geometry = scan.geometry
    assert scan.sinogram.shape == (1, *geometry.projection_shape)
    centre = geometry.det_shape[0] // 2
    offset_mm = (centre - (geometry.det_shape[0] - 1) / 2) * np.linalg.norm(geometry.u[0])
    mu_water = attenuation_per_mm("water", 70.0)
    chord = 2 * np.sqrt(60.0**2 - offset_mm**2)
    assert np.allclose(scan.sinogram[0, :, centre], chord * mu_water, rtol=0.01)
    assert scan.degraded.same_grid(ct) and scan.reference.same_grid(ct)


def test_detector_covers_the_ct_or_the_field_of_view():
    ct = Volume(np.zeros((2, 100, 100), np.float32), spacing_mm=(5.0, 2.0, 2.0))
    half_diagonal = np.hypot(100.0, 100.0)
    geometry = scan_geometry(ct, ScanSettings(geometry="parallel", n_views=10))
    width = geometry.det_shape[0] * np.linalg.norm(geometry.u[0])
    assert 2 * half_diagonal <= width < 2 * half_diagonal + 3 * 2.0
    fan = scan_geometry(ct, ScanSettings(n_views=10, fov_mm=100.0))
    half_fan = fan.det_shape[0] / 2 * np.linalg.norm(fan.u[0]) / fan.sdd_mm
    assert 50.0 <= np.sin(half_fan) * fan.sod_mm < 50.0 + 1.5 * 2.0  # 1.5 pixels of margin


# -- artifacts ---------------------------------------------------------------------------------


def test_sparse_view_artifacts_shrink_as_views_grow(thorax):
    scores = [psnr(sparse_view(thorax, views)) for views in (15, 30, 60, 120)]
    print(f"sparse-view PSNR dB (15, 30, 60, 120 views): {np.round(scores, 2).tolist()}")
    assert np.all(np.diff(scores) > 0.5)


def test_limited_angle_artifacts_shrink_as_the_arc_grows(thorax):
    arcs = (60, 90, 120, 150, 180, 240)  # zero-filled arcs, then a short scan (Parker)
    scores = [psnr(limited_angle(thorax, arc, n_views=360)) for arc in arcs]
    print(f"limited-angle PSNR dB {arcs}: {np.round(scores, 2).tolist()}")
    assert np.all(np.diff(scores) > 0.5)
    full = psnr(simulate_scan(thorax, ScanSettings(n_views=360)))
    assert abs(scores[-1] - full) < 0.5  # a short scan is complete


def test_parallel_limited_angle_is_reconstructed_from_the_measured_arc(thorax):
    scores = [psnr(limited_angle(thorax, arc, geometry="parallel", n_views=180))
              for arc in (45, 90, 135, 180)]
    assert np.all(np.diff(scores) > 1.0)


def test_beam_hardening_cups_water_where_monochromatic_does_not():
    ct, radius, _ = disc_ct(100.0, slices=1)
    centre, rim = radius < 15, (radius > 80) & (radius < 90)
    cupping = {}
    for name, settings in {"mono": ScanSettings(n_views=360),
                           "poly": ScanSettings(n_views=360, polychromatic=True),
                           "corrected": ScanSettings(n_views=360, polychromatic=True,
                                                     water_correction=True)}.items():
        image = simulate_scan(ct, settings).degraded.array[0]
        cupping[name] = float(image[rim].mean() - image[centre].mean())
    print(f"cupping (rim - centre) HU: {cupping}")
    assert cupping["poly"] > 20.0
    assert abs(cupping["mono"]) < 3.0 and abs(cupping["corrected"]) < 3.0


def test_beam_hardening_streaks_between_bones():
    ct, _, (y, x) = disc_ct(90.0, slices=1, rods_hu=1500.0)
    between = (np.abs(y) < 4) & (np.abs(x) < 20)
    beside = (np.abs(y - 40) < 4) & (np.abs(x) < 20)  # water away from the line of the rods
    dark = {}
    for name, poly in (("mono", False), ("poly", True)):
        settings = ScanSettings(n_views=360, polychromatic=poly, water_correction=poly)
        image = simulate_scan(ct, settings).degraded.array[0]
        dark[name] = float(image[beside].mean() - image[between].mean())
    print(f"streak between rods (beside - between) HU: {dark}")
    assert dark["poly"] > 20.0 and abs(dark["mono"]) < 3.0


def test_iterative_reconstruction_of_sparse_views(thorax):
    fbp_score = psnr(sparse_view(thorax, 60))
    cgls = sparse_view(thorax, 60, method="cgls", iterations=20)
    assert cgls.degraded.array.dtype == np.float32
    assert psnr(cgls) > fbp_score


# -- cone beam -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cylinder_3d():
    ct, radius, _ = disc_ct(100.0, n=80, pixel_mm=3.0, slices=8)
    return ct.with_array(ct.array), radius


def test_cbct_truncates_the_field_of_view(cylinder_3d):
    ct, radius = cylinder_3d
    scan = cbct(ct, 120, fov_mm=150.0, scatter_to_primary=0.0)
    assert scan.geometry.kind == "cone" and scan.geometry.n_views == 120
    image = scan.degraded.array
    assert np.all(image[:, radius > 75.0 + 3.0] == -1000.0)
    middle = image[4]
    rim, centre = (radius > 60) & (radius < 70), radius < 20
    assert middle[rim].mean() > middle[centre].mean() + 50.0  # the truncation's bright rim


def test_cbct_scatter_lowers_and_cups_the_values(cylinder_3d):
    ct, radius = cylinder_3d
    clean = cbct(ct, 120, fov_mm=None, scatter_to_primary=0.0).degraded.array[4]
    scattered = cbct(ct, 120, fov_mm=None, scatter_to_primary=0.5).degraded.array[4]
    centre, rim = radius < 20, (radius > 75) & (radius < 85)
    assert abs(clean[centre].mean()) < 10.0
    assert scattered[centre].mean() < clean[centre].mean() - 50.0
    assert scattered[rim].mean() - scattered[centre].mean() > 20.0


# -- the real chest CT ---------------------------------------------------------------------


def eroded(mask: np.ndarray, radius_voxels: int = 3) -> np.ndarray:
    size = 2 * radius_voxels + 1
    return ndimage.binary_erosion(mask, np.ones((1, size, size), bool))


@pytest.mark.real
@pytest.mark.slow
def test_low_dose_of_the_chest_ct_raises_noise_by_about_sqrt_10(chest_ct):
    ct, labels = chest_ct
    lower, upper = (40, 0, 0), (43, *ct.shape[1:])  # descending aorta beside the liver
    crop = ct.crop(lower, upper)
    regions = {name: eroded(labels.crop(lower, upper).array == labels.labels.id_of(name))
               for name in ("aorta", "liver")}
    clean = simulate_scan(crop, ScanSettings(n_views=360)).degraded.array
    images = {dose: low_dose(crop, dose, n_views=360, seed=0).degraded.array
              for dose in (1.0, 0.1)}
    for name, region in regions.items():
        assert region.sum() > 500
        total = {dose: float(image[region].std()) for dose, image in images.items()}
        added = {dose: float((image - clean)[region].std()) for dose, image in images.items()}
        print(f"{name}: SD HU {total} (input {float(crop.array[region].std()):.1f}), "
              f"added {added}, ratios {total[0.1] / total[1.0]:.2f} and "
              f"{added[0.1] / added[1.0]:.2f} (sqrt 10 = 3.16)")
        assert total[0.1] / total[1.0] == pytest.approx(np.sqrt(10), rel=0.25)
        # Electronic noise and photon starvation of the lateral rays add to the
        # Poisson noise at low dose: the added noise grows a little faster.
        assert np.sqrt(10) * 0.95 < added[0.1] / added[1.0] < np.sqrt(10) * 1.35


def test_zero_filled_arc_weights_give_every_measured_line_weight_one():
    from hounsfield.tomo._fbp_geometry import circular_scan

    ct = Volume(np.zeros((1, 100, 100), np.float32), spacing_mm=(5.0, 2.0, 2.0))
    settings = ScanSettings(n_views=360, arc_deg=190.0)  # fan angle 27°: some lines twice
    scan = circular_scan(scan_geometry(ct, settings), ndim=2)
    n_measured = len(settings.measured_views())
    weights = nict._zero_fill_weights(scan, n_measured) / 2  # FBP's full turn applies 1/2
    step = 2 * np.pi / 360
    n_cols = weights.shape[1]
    conjugate_view = np.rint(np.mod(scan.angles_rad[:n_measured, None] - scan.angles_rad[0]
                                    + np.pi + 2 * scan.fan_angles_rad[:n_measured], 2 * np.pi)
                             / step).astype(int) % 360
    views, cols = np.nonzero(conjugate_view < n_measured)
    pair_sums = weights[views, cols] + weights[conjugate_view[views, cols], n_cols - 1 - cols]
    assert len(pair_sums) > 1000 and np.mean(np.isclose(pair_sums, 1.0)) > 0.99
    alone = conjugate_view >= n_measured
    assert alone.any() and np.all(weights[alone] == 1.0)


def test_a_later_start_angle_measures_the_same_turn_from_another_view():
    yy, xx = np.mgrid[-15.5:16, -15.5:16]
    hu = np.where((yy - 4) ** 2 + xx**2 < 8**2, 300.0, -1000.0).astype(np.float32)
    ct = Volume(hu[None], spacing_mm=(5.0, 2.0, 2.0))
    first = simulate_scan(ct, ScanSettings(n_views=36), keep_sinogram=True)
    later = simulate_scan(ct, ScanSettings(n_views=36, start_deg=30.0), keep_sinogram=True)
    np.testing.assert_allclose(later.sinogram[0], np.roll(first.sinogram[0], -3, axis=0),
                               atol=1e-4)
    assert later.geometry.angles_rad[0] == pytest.approx(np.radians(30.0))
    with pytest.raises(ValueError, match="start_deg"):
        ScanSettings(start_deg=float("nan"))
