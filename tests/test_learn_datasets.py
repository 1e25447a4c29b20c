"""Paired NICT slices: deterministic draws, shapes, HU round trip, real degradation, splits."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the learn extra (torch) is not installed")

from hounsfield import Volume  # noqa: E402
from hounsfield.data.anatomy import thorax_phantom  # noqa: E402
from hounsfield.learn.datasets import (  # noqa: E402
    HU_WINDOW,
    PairedSlices,
    denormalise_hu,
    normalise_hu,
    train_validation_split,
)
from hounsfield.metrics.image import psnr_db  # noqa: E402
from hounsfield.simulate import ScanSettings, simulate_scan  # noqa: E402


@pytest.fixture(scope="module")
def phantom():
    ct, _ = thorax_phantom(shape=(8, 64, 64), spacing_mm=(5, 5, 5))
    return ct


def _hu(tensor) -> np.ndarray:
    return denormalise_hu(tensor.numpy().astype(np.float64))


@pytest.mark.parametrize("task", ["sparse-view", "limited-angle", "low-dose"])
def test_items_are_deterministic_by_seed_and_index(phantom, task):
    pairs = PairedSlices(phantom, task, slab=3, seed=4)
    again = PairedSlices(phantom, task, slab=3, seed=4)
    first, second = pairs[5], again[5]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(pairs[-3], pairs[5], strict=True))
    other_seed = PairedSlices(phantom, task, slab=3, seed=5)
    assert other_seed.pair(5).settings != pairs.pair(5).settings
    assert not torch.equal(other_seed[5][0], first[0])


def test_draws_cover_the_volumes_and_the_parameter_ranges():
    small = [Volume(np.zeros((n, 8, 8), np.float32), spacing_mm=5.0) for n in (2, 6)]
    pairs = PairedSlices(small, "sparse-view", views=(30, 40), seed=0, length=200)
    drawn = [pairs.pair(i) for i in range(len(pairs))]
    slices = {(p.volume_index, p.slice_index) for p in drawn}
    assert slices == {(0, 0), (0, 1)} | {(1, z) for z in range(6)}
    views = [p.settings.n_views for p in drawn]
    assert min(views) == 30 and max(views) == 40
    assert len({p.settings.seed for p in drawn}) == len(drawn)
    dose = PairedSlices(small, "low-dose", dose=(0.1, 0.2), length=100)
    fractions = [dose.pair(i).settings.dose_fraction for i in range(100)]
    assert 0.1 <= min(fractions) < 0.12 and 0.18 < max(fractions) <= 0.2
    arc = PairedSlices(small, "limited-angle", arc_deg=120, length=5)
    assert {arc.pair(i).settings.arc_deg for i in range(5)} == {120.0}


def test_shapes_dtype_and_slab_neighbours(phantom):
    pairs = PairedSlices(phantom, "sparse-view", views=60, slab=5, seed=2)
    assert len(pairs) == phantom.shape[0]
    degraded, clean = pairs[0]
    assert degraded.shape == (5, 64, 64) and clean.shape == (1, 64, 64)
    assert degraded.dtype == clean.dtype == torch.float32
    pair = pairs.pair(0)
    z = pair.slice_index
    assert pair.slice_indices == tuple(int(i) for i in np.clip(np.arange(z - 2, z + 3), 0, 7))
    reference = np.maximum(phantom.array[z], -1000.0)
    np.testing.assert_allclose(_hu(clean[0]), reference, atol=1e-3)


def test_hu_round_trip_and_the_affine_map():
    hu = np.array([-1024.0, -1000.0, 0.0, 512.0, 2048.0, 3000.0])
    values = normalise_hu(hu)
    np.testing.assert_allclose(values[[0, 3, 4]], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(denormalise_hu(values), hu)
    tensor = torch.tensor(hu, dtype=torch.float64)
    assert torch.allclose(denormalise_hu(normalise_hu(tensor, (-500, 500)), (-500, 500)), tensor)
    assert HU_WINDOW == (-1024.0, 2048.0)
    with pytest.raises(ValueError, match="hu_window"):
        normalise_hu(hu, (100, -100))


def test_fewer_views_degrade_more(phantom):
    def psnr(views):
        degraded, clean = PairedSlices(phantom, "sparse-view", views=views, seed=1)[3]
        return psnr_db(_hu(degraded[0]), _hu(clean[0]))

    sparse, milder = psnr(30), psnr(90)
    assert sparse < milder - 2.0
    assert milder < 60.0  # still degraded compared with the reference


def test_shorter_arc_degrades_more(phantom):
    def psnr(arc_deg):
        degraded, clean = PairedSlices(phantom, "limited-angle", arc_deg=arc_deg, seed=1)[2]
        return psnr_db(_hu(degraded[0]), _hu(clean[0]))

    assert psnr(90.0) < psnr(300.0) - 2.0


def test_low_dose_noise_grows_as_the_dose_falls(phantom):
    """Poisson noise: SD ∝ 1/√dose (electronic noise adds more at low dose), so ≥ √25 = 5×."""
    def noise_sd(dose):
        pairs = PairedSlices(phantom, "low-dose", dose=dose, seed=1)
        degraded, _ = pairs[2]
        pair = pairs.pair(2)
        slab = Volume(phantom.array[list(pair.slice_indices)], spacing_mm=phantom.spacing_mm)
        noise_free = simulate_scan(slab, pair.settings.replace(dose_fraction=None))
        return float(np.std(_hu(degraded[0]) - noise_free.degraded.array[0]))

    low, high = noise_sd(0.02), noise_sd(0.5)
    assert high > 0.5
    assert low > 4.5 * high


def test_base_settings_are_kept(phantom):
    pairs = PairedSlices(phantom, "low-dose", dose=0.25,
                         settings=ScanSettings(geometry="parallel", n_views=90))
    settings = pairs.pair(0).settings
    assert (settings.geometry, settings.n_views, settings.dose_fraction) == ("parallel", 90, 0.25)


@pytest.mark.parametrize(("arguments", "options", "error", "message"), [
    (([],), {}, ValueError, "volumes"),
    (("ct",), {}, ValueError, "volumes"),
    (([np.zeros((2, 4, 4))],), {}, TypeError, r"volumes\[0\]"),
    ((Volume(np.zeros((2, 4, 4), np.uint8)),), {}, ValueError, "label map"),
    ((None, "denoise"), {}, ValueError, "task"),
    ((None,), {"views": 1}, ValueError, "views"),
    ((None,), {"views": (40, 30)}, ValueError, "views"),
    ((None,), {"views": 30.5}, ValueError, "views"),
    ((None, "limited-angle"), {"arc_deg": 400}, ValueError, "arc_deg"),
    ((None, "low-dose"), {"dose": (0, 0.1)}, ValueError, "dose"),
    ((None,), {"slab": 2}, ValueError, "slab"),
    ((None,), {"seed": -1}, ValueError, "seed"),
    ((None,), {"length": 0}, ValueError, "length"),
    ((None,), {"hu_window": (0, 0)}, ValueError, "hu_window"),
    ((None,), {"settings": {"n_views": 30}}, TypeError, "settings"),
])
def test_invalid_arguments_are_refused(phantom, arguments, options, error, message):
    if arguments and arguments[0] is None:
        arguments = (phantom, *arguments[1:])
    with pytest.raises(error, match=message):
        PairedSlices(*arguments, **options)


def test_out_of_range_index(phantom):
    pairs = PairedSlices(phantom, length=3)
    with pytest.raises(IndexError, match="out of range"):
        pairs[3]
    with pytest.raises(TypeError, match="index"):
        pairs.pair(1.0)


def test_split_never_shares_a_volume():
    volumes = [Volume(np.full((3, 4, 4), float(i), np.float32)) for i in range(10)]
    train, validation = train_validation_split(volumes, 0.3, seed=7)
    assert len(train) == 7 and len(validation) == 3
    assert not {id(v) for v in train} & {id(v) for v in validation}
    assert {id(v) for v in train} | {id(v) for v in validation} == {id(v) for v in volumes}
    again = train_validation_split(volumes, 0.3, seed=7)
    assert [id(v) for v in again[1]] == [id(v) for v in validation]
    two = train_validation_split(volumes[:2], 0.01)
    assert len(two[0]) == len(two[1]) == 1


def test_split_of_one_volume_by_contiguous_slices(phantom):
    train, validation = train_validation_split(phantom, 0.3)
    (upper,), (lower,) = train, validation
    assert (upper.shape[0], lower.shape[0]) == (6, 2)
    np.testing.assert_array_equal(np.concatenate([upper.array, lower.array]), phantom.array)
    np.testing.assert_allclose(lower.origin_mm, phantom.index_to_world((6, 0, 0)))
    with pytest.raises(ValueError, match="at least 2"):
        train_validation_split(phantom.crop((0, 0, 0), (1, 64, 64)))
    with pytest.raises(ValueError, match="validation_fraction"):
        train_validation_split(phantom, 1.0)


@pytest.mark.slow
def test_dataloader_workers_give_the_same_items(phantom):
    """Workers start by forkserver: numba's OpenMP threads in this process do not survive fork."""
    pairs = PairedSlices(phantom, "sparse-view", views=(30, 60), seed=3, length=4)
    loader = torch.utils.data.DataLoader(pairs, batch_size=2, num_workers=2,
                                         multiprocessing_context="forkserver")
    degraded = torch.cat([batch[0] for batch in loader])
    expected = torch.stack([pairs[i][0] for i in range(4)])
    # Equal up to the summation order of parallel kernels, which depends on the thread pool
    # of the process (a fork server started by another test may use another one).
    torch.testing.assert_close(degraded, expected, rtol=1e-5, atol=1e-6)


def test_start_angles_are_drawn_per_item(phantom):
    pairs = PairedSlices(phantom, "sparse-view", views=30, start_deg=(0, 360), length=50)
    angles = [pairs.pair(i).settings.start_deg for i in range(50)]
    assert 0 <= min(angles) < 40 and 320 < max(angles) <= 360
    fixed = PairedSlices(phantom, "sparse-view", views=30)
    assert fixed.pair(3).settings.start_deg == 0.0
    with pytest.raises(ValueError, match="start_deg"):
        PairedSlices(phantom, start_deg=(10, 5))
