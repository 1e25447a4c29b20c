"""Time hounsfield's FBP and FDK against ASTRA (CPU), scikit-image and RTK on exact phantom data.

Cases (same input for every tool; min and median wall time of the runs, the
ratio of medians, and each result's RMSE against the supersampled phantom):

* ``parallel``: 2D FBP, Shepp–Logan (modified, 256 mm field), 512² pixels of
  0.5 mm, 720 views over 180°, 729 detector pixels of 0.5 mm. Peers: ASTRA's
  CPU ``FBP`` (linear projector, Ram-Lak) and scikit-image's ``iradon``
  (linear interpolation, ramp). scikit-image centres its image half a pixel
  away and zeroes it outside the inscribed circle: its RMSE is taken on its
  own grid, and every RMSE is given over the whole image and inside that circle.
* ``fan``: 2D FBP, 512², 720 views over 360°, 736 pixels of 1 mm,
  source–axis 500 mm, source–detector 1000 mm, flat and curved detectors.
  ASTRA has no CPU fan-beam FBP; its CPU fan-beam *backprojection* (BP,
  line_fanflat projector) of the same sinogram is timed for scale.
* ``cone``: FDK of a 256³ volume (1 mm voxels) from 360 projections of
  256 × 256 pixels of 1.8 mm, source–axis 750 mm, source–detector 1200 mm,
  3D Shepp–Logan. Peer: RTK's CPU FDK (itk-rtk), given the same projections
  with the geometry mapped to its frame (see :func:`rtk_fdk`). The exact
  projections (≈ 1 minute to compute) and the reference volume are cached as
  .npy files in the temporary directory. Also printed: voxel updates per
  second and the machine's streaming memory bandwidth, for a bound.

    python benchmarks/bench_fbp.py                    # all cases, 5 runs each
    python benchmarks/bench_fbp.py --cases parallel fan --repeats 7
    python benchmarks/bench_fbp.py --cases cone --peer-repeats 1

Kernels compile (or load from numba's cache) in an untimed warm-up run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hounsfield.data.phantoms import shepp_logan_2d, shepp_logan_3d
from hounsfield.tomo import cone_beam, fan_beam, parallel_beam
from hounsfield.tomo.fbp import fbp, fdk
from hounsfield.tomo.grid import ImageGrid

FOV_MM = 256.0
CACHE = Path(tempfile.gettempdir()) / "hounsfield-bench-fbp"


def timed(function, repeats: int, *args, **kwargs):
    """(last result, min seconds, median seconds) of ``repeats`` calls."""
    seconds, result = [], None
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
    return result, min(seconds), statistics.median(seconds)


def rmse(image, reference, mask=None) -> float:
    difference = np.asarray(image, float) - np.asarray(reference, float)
    return float(np.sqrt(np.mean(difference[mask] ** 2 if mask is not None else difference**2)))


def circle(n: int) -> np.ndarray:
    offsets = np.arange(n) - (n - 1) / 2
    return np.hypot(*np.meshgrid(offsets, offsets, indexing="ij")) <= n / 2 - 1


def report(rows, error_names=("RMSE", "RMSE in circle")):
    """Print rows (name, min s, median s, *errors); ratios are the peer's time over ours."""
    ours_min, ours_median = rows[0][1], rows[0][2]
    header = ("tool", "min s", "median s", "min ratio", "median ratio", *error_names)
    print("  " + " | ".join(f"{h:>14}" for h in header))
    for name, low, median, *errors in rows:
        ratios = [f"{low / ours_min:.2f}×", f"{median / ours_median:.2f}×"] if median else ["-"] * 2
        cells = [name, f"{low:.3f}" if low else "-", f"{median:.3f}" if median else "-",
                 *ratios, *("-" if e is None else f"{e:.5f}" for e in errors)]
        print("  " + " | ".join(f"{c:>14}" for c in cells))


# -- parallel beam -----------------------------------------------------------------------


def astra_parallel_fbp(sinogram, angles, n, pixel_mm):
    """ASTRA CPU FBP on unit pixels; the sinogram is rescaled to pixel units."""
    import astra

    volume = astra.create_vol_geom(n, n)
    projections = astra.create_proj_geom("parallel", 1.0, sinogram.shape[1], angles)
    projector = astra.create_projector("linear", projections, volume)
    sinogram_id = astra.data2d.create("-sino", projections, sinogram / pixel_mm)
    image_id = astra.data2d.create("-vol", volume)
    config = astra.astra_dict("FBP")
    config.update(ReconstructionDataId=image_id, ProjectionDataId=sinogram_id,
                  ProjectorId=projector, option={"FilterType": "ram-lak"})
    algorithm = astra.algorithm.create(config)
    astra.algorithm.run(algorithm)
    image = astra.data2d.get(image_id)[::-1]  # ASTRA's row 0 is at the top (+y)
    astra.algorithm.delete(algorithm)
    astra.data2d.delete([sinogram_id, image_id])
    astra.projector.delete(projector)
    return image


def skimage_iradon(sinogram, angles, n, pixel_mm):
    from skimage.transform import iradon

    return iradon(sinogram.T / pixel_mm, np.rad2deg(angles), output_size=n, filter_name="ramp",
                  interpolation="linear")[::-1]


def bench_parallel(repeats: int, peer_repeats: int) -> None:
    n, n_det, n_views, pixel = 512, 729, 720, 0.5
    print(f"\nparallel FBP: {n}² pixels of {pixel} mm, {n_views} views over 180°, "
          f"{n_det} detector pixels")
    head = shepp_logan_2d(fov_mm=FOV_MM)
    geometry = parallel_beam(n_views, n_det, pixel)
    positions = (np.arange(n_det) - (n_det - 1) / 2) * pixel
    sinogram = head.parallel_sinogram(geometry.angles_rad, positions).astype(np.float32)
    reference = head.rasterize((n, n), pixel, supersample=8)
    fbp(sinogram[::8], parallel_beam(n_views // 8, n_det, pixel), (64, 64), 4 * pixel)  # warm-up
    image, low, median = timed(fbp, repeats, sinogram, geometry, (n, n), pixel)
    inside = circle(n)
    rows = [("hounsfield", low, median, rmse(image, reference), rmse(image, reference, inside))]
    try:
        image, low, median = timed(astra_parallel_fbp, peer_repeats, sinogram,
                                   geometry.angles_rad, n, pixel)
        rows.append(("ASTRA CPU FBP", low, median, rmse(image, reference),
                     rmse(image, reference, inside)))
    except ImportError as error:
        print(f"  ASTRA MISSING: {error}")
    # scikit-image's grid: pixel n // 2 on the axis, so half a pixel off ours when n is even.
    shift = (n // 2 - (n - 1) / 2) * pixel
    sk_reference = head.rasterize((n, n), pixel, supersample=8, center_mm=(-shift, shift))
    image, low, median = timed(skimage_iradon, peer_repeats, sinogram, geometry.angles_rad, n,
                               pixel)
    rows.append(("skimage iradon", low, median, rmse(image, sk_reference),
                 rmse(image, sk_reference, inside)))
    grid = ImageGrid.of((n, n), pixel)
    grid = ImageGrid(grid.shape, grid.spacing_mm, (grid.origin_mm[0] - shift,
                                                   grid.origin_mm[1] + shift), grid.direction)
    ours_there = fbp(sinogram, geometry, grid)
    rows.append(("ours, sk grid", 0.0, 0.0, rmse(ours_there, sk_reference),
                 rmse(ours_there, sk_reference, inside)))
    report(rows)


# -- fan beam ------------------------------------------------------------------------------


def astra_fan_backprojection(sinogram, angles, n, pixel_mm, det_mm, sod_mm, sdd_mm):
    import astra

    volume = astra.create_vol_geom(n, n)
    scale = 1.0 / pixel_mm  # ASTRA works in pixel units
    projections = astra.create_proj_geom("fanflat", det_mm * scale, sinogram.shape[1], angles,
                                         sod_mm * scale, (sdd_mm - sod_mm) * scale)
    projector = astra.create_projector("line_fanflat", projections, volume)
    sinogram_id = astra.data2d.create("-sino", projections, sinogram)
    image_id = astra.data2d.create("-vol", volume)
    config = astra.astra_dict("BP")
    config.update(ReconstructionDataId=image_id, ProjectionDataId=sinogram_id,
                  ProjectorId=projector)
    algorithm = astra.algorithm.create(config)
    astra.algorithm.run(algorithm)
    image = astra.data2d.get(image_id)
    astra.algorithm.delete(algorithm)
    astra.data2d.delete([sinogram_id, image_id])
    astra.projector.delete(projector)
    return image


def bench_fan(repeats: int, peer_repeats: int) -> None:
    n, n_det, n_views, pixel, det, sod, sdd = 512, 736, 720, 0.5, 1.0, 500.0, 1000.0
    print(f"\nfan FBP: {n}² pixels of {pixel} mm, {n_views} views over 360°, {n_det} detector "
          f"pixels of {det} mm, SOD {sod:g} mm, SDD {sdd:g} mm")
    head = shepp_logan_2d(fov_mm=FOV_MM)
    reference = head.rasterize((n, n), pixel, supersample=8)
    inside = circle(n)
    rows = []
    for curved in (False, True):
        geometry = fan_beam(n_views, n_det, det, sod, sdd, curved=curved)
        sinogram = head.line_integrals(*geometry.rays()).astype(np.float32)
        fbp(sinogram, geometry, (32, 32), 8.0)  # warm-up
        image, low, median = timed(fbp, repeats, sinogram, geometry, (n, n), pixel)
        name = "ours curved" if curved else "ours flat"
        rows.append((name, low, median, rmse(image, reference), rmse(image, reference, inside)))
        if not curved:
            flat_sinogram, flat_geometry = sinogram, geometry
    try:
        _, low, median = timed(astra_fan_backprojection, peer_repeats, flat_sinogram,
                               flat_geometry.angles_rad, n, pixel, det, sod, sdd)
        rows.append(("ASTRA fan BP", low, median, None, None))
    except ImportError as error:
        print(f"  ASTRA MISSING: {error}")
    report(rows)


# -- cone beam -----------------------------------------------------------------------------


CONE = {"n": 256, "voxel_mm": 1.0, "views": 360, "det": 256, "pitch_mm": 1.8, "sod_mm": 750.0,
        "sdd_mm": 1200.0}


def cone_case():
    """(geometry, projections, reference volume array), cached in the temporary directory."""
    c = CONE
    geometry = cone_beam(c["views"], (c["det"], c["det"]), c["pitch_mm"], c["sod_mm"], c["sdd_mm"])
    head = shepp_logan_3d(fov_mm=FOV_MM)
    CACHE.mkdir(parents=True, exist_ok=True)
    key = "_".join(str(v) for v in c.values())
    projections_file = CACHE / f"cone_projections_{key}.npy"
    reference_file = CACHE / f"cone_reference_{key}.npy"
    if not projections_file.exists():
        print(f"  computing exact projections (cached in {projections_file}) ...", flush=True)
        projections = np.empty(geometry.projection_shape, np.float32)
        for view in range(geometry.n_views):
            pixels = geometry.pixel_centers(view)
            source = np.broadcast_to(geometry.source[view], pixels.shape)
            projections[view] = head.line_integrals(source, targets_mm=pixels)
        np.save(projections_file, projections)
    if not reference_file.exists():
        shape = (c["n"],) * 3
        np.save(reference_file, head.rasterize(shape, c["voxel_mm"], supersample=4).array)
    return geometry, np.load(projections_file), np.load(reference_file)


def rtk_fdk(projections, geometry, n, voxel_mm):
    """RTK's CPU FDK of the same scan, returned in hounsfield's (z, y, x) array order.

    RTK rotates about its Y axis with the source at SID·(sin φ, 0, cos φ) at
    gantry angle φ (degrees), detector columns along +X and rows along +Y at
    φ = 0. hounsfield's source is at SOD·(sin θ, -cos θ, 0) with columns along
    +x and rows along +z at θ = 0. So φ = θ, and RTK's (X, Y, Z) is our
    (x, z, -y): an RTK array [Z, Y, X] is ours [z, y, x] after swapping the
    first two axes and reversing y.
    """
    import itk
    from itk import RTK as rtk

    rtk_geometry = rtk.ThreeDCircularProjectionGeometry.New()
    for angle in np.rad2deg(geometry.angles_rad):
        rtk_geometry.AddProjection(float(geometry.sod_mm), float(geometry.sdd_mm), float(angle),
                                   0.0, 0.0)
    n_rows, n_cols = geometry.det_shape
    pitch = float(np.linalg.norm(geometry.u[0]))
    stack = itk.image_from_array(np.ascontiguousarray(projections, dtype=np.float32))
    stack.SetSpacing([pitch, pitch, 1.0])
    stack.SetOrigin([-(n_cols - 1) / 2 * pitch, -(n_rows - 1) / 2 * pitch, 0.0])
    volume = itk.image_from_array(np.zeros((n, n, n), np.float32))
    volume.SetSpacing([voxel_mm] * 3)
    volume.SetOrigin([-(n - 1) / 2 * voxel_mm] * 3)
    image_type = itk.Image[itk.F, 3]
    fdk_filter = rtk.FDKConeBeamReconstructionFilter[image_type].New()
    fdk_filter.SetInput(0, volume)
    fdk_filter.SetInput(1, stack)
    fdk_filter.SetGeometry(rtk_geometry)
    fdk_filter.Update()
    result = itk.array_from_image(fdk_filter.GetOutput())  # [Z, Y, X] = [-y, z, x]
    return np.ascontiguousarray(result.transpose(1, 0, 2)[:, ::-1, :])


def streaming_bandwidth_gbs() -> float:
    """Best of 5 ``c = a + b`` over 3 × 128 MB float32 arrays, in GB/s (12 bytes per element)."""
    a = np.ones(32 << 20, np.float32)
    b, c = a.copy(), np.empty_like(a)
    _, low, _ = timed(np.add, 5, a, b, out=c)
    return 3 * a.nbytes / low / 1e9


def bench_cone(repeats: int, peer_repeats: int) -> None:
    c = CONE
    n, voxel = c["n"], c["voxel_mm"]
    print(f"\ncone FDK: {n}³ voxels of {voxel} mm from {c['views']} projections of "
          f"{c['det']}² pixels of {c['pitch_mm']} mm, SOD {c['sod_mm']:g}, SDD {c['sdd_mm']:g}")
    geometry, projections, reference = cone_case()
    fdk(projections[::30, ::8, ::8], cone_beam(12, (32, 32), 8 * c["pitch_mm"], c["sod_mm"],
                                               c["sdd_mm"]), (8, 8, 8), 8.0)  # warm-up
    volume, low, median = timed(fdk, repeats, projections, geometry, (n, n, n), voxel)
    centre = n // 2
    rows = [("hounsfield", low, median, rmse(volume, reference),
             rmse(volume[centre], reference[centre]))]
    updates = float(n) ** 3 * c["views"]
    try:
        result, rtk_low, rtk_median = timed(rtk_fdk, peer_repeats, projections, geometry, n, voxel)
        rows.append(("RTK CPU FDK", rtk_low, rtk_median, rmse(result, reference),
                     rmse(result[centre], reference[centre])))
        print(f"  |hounsfield - RTK| RMSE: {rmse(volume, result):.5f}")
    except ImportError as error:
        print(f"  RTK MISSING: {error}")
    report(rows, error_names=("RMSE", "RMSE slice z=0"))
    bandwidth = streaming_bandwidth_gbs()
    print(f"  voxel updates: {updates:.3g}, {updates / low / 1e9:.2f} G/s (best run)")
    print(f"  streaming memory bandwidth {bandwidth:.1f} GB/s; a backprojector that reads its "
          f"4 detector samples (16 B) and read-modify-writes its voxel (8 B) from memory for "
          f"every update would need {updates * 24 / bandwidth / 1e9:.1f} s")


CASES = {"parallel": bench_parallel, "fan": bench_fan, "cone": bench_cone}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of hounsfield")
    parser.add_argument("--peer-repeats", type=int, default=5, help="timed runs of each peer")
    args = parser.parse_args(argv)
    for case in args.cases:
        CASES[case](args.repeats, args.peer_repeats)


if __name__ == "__main__":
    main()
