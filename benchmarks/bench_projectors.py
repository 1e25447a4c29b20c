"""Time hounsfield's Joseph projector against ASTRA's CPU projectors and scikit-image.

Cases (same input for every tool, runs interleaved round-robin so that a busy
machine slows every tool alike). Printed: min and median wall time, the
peer/ours ratio of medians, the median process CPU time (all threads) with
its ratio — the fairer figure on a shared machine, and one that does not
credit hounsfield for using more than one core — and the relative L2 error of
each forward projection against the phantom's exact line integrals:

* ``parallel``: Shepp–Logan (modified) rasterised at 512² pixels of 1 mm with
  4×4 supersampling, 720 views over 180°, 729 detector pixels of 1 mm.
  Forward projection (FP) and backprojection (BP). Peers: ASTRA's CPU
  ``line`` and ``linear`` projectors (``create_sino`` /
  ``create_backprojection``) and scikit-image's ``radon`` (FP) and
  ``iradon(filter_name=None)`` (an unfiltered BP, timed for scale).
  ASTRA's image rows run along -y, so it is given the image flipped
  top-down. scikit-image rotates about pixel (256, 256), half a pixel off the
  image centre, and counts angles the other way: its error is taken against
  the exact sinogram of the phantom seen in that frame, on its own detector.
* ``fan``: the same image, 720 views over 360°, 736 flat-detector pixels of
  1.5 mm, source–axis 1000 mm, source–detector 1500 mm. Peer: ASTRA's CPU
  ``line_fanflat`` projector.
* ``cone``: FP of the 3D Shepp–Logan at 256³ voxels of 1 mm from 360 views of
  256 × 256 pixels of 2 mm, source–axis 500 mm, source–detector 1000 mm.
  ASTRA has no CPU cone-beam projector; printed are voxel-views and Joseph
  ray samples per second, and the error on every 30th view.

    python benchmarks/bench_projectors.py                  # all cases, 5 runs each
    python benchmarks/bench_projectors.py --cases parallel --repeats 7
    python benchmarks/bench_projectors.py --cases cone --repeats 3

numba kernels compile (or load from numba's cache) in an untimed warm-up run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from numba import get_num_threads, njit

from hounsfield.data.shepp_logan import shepp_logan_2d, shepp_logan_3d
from hounsfield.tomo import Projector, _joseph, cone_beam, fan_beam, parallel_beam

N_PIXELS = 512


def relative_error(estimate, truth) -> float:
    return float(np.linalg.norm(np.asarray(estimate, float) - truth) / np.linalg.norm(truth))


def race(contestants: dict, repeats: int) -> dict:
    """{name: (last result, min s, median s, median CPU s)}, calls interleaved round-robin.

    CPU seconds are the process's (all threads'); on a shared machine they
    show the work each tool does when wall time mostly shows the neighbours.
    """
    seconds = {name: [] for name in contestants}
    cpu_seconds = {name: [] for name in contestants}
    results = {}
    for _ in range(max(repeats, 1)):
        for name, call in contestants.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            results[name] = call()
            seconds[name].append(time.perf_counter() - start)
            cpu_seconds[name].append(time.process_time() - cpu_start)
    return {name: (results[name], min(s), statistics.median(s),
                   statistics.median(cpu_seconds[name])) for name, s in seconds.items()}


def report(title: str, timings: dict, errors: dict, reference: str = "hounsfield") -> None:
    print(f"\n{title}")
    print(f"  {'tool':<34}{'min s':>8}{'median s':>10}{'÷ ours':>8}{'CPU s':>8}{'÷ ours':>8}"
          f"{'rel. L2 error':>15}")
    _, _, ours, ours_cpu = timings[reference]
    for name, (_, fastest, median, cpu) in timings.items():
        ratio = "" if name == reference else f"{median / ours:.1f}×"
        cpu_ratio = "" if name == reference else f"{cpu / ours_cpu:.1f}×"
        error = f"{100 * errors[name]:.3f} %" if name in errors else "—"
        print(f"  {name:<34}{fastest:>8.3f}{median:>10.3f}{ratio:>8}{cpu:>8.3f}{cpu_ratio:>8}"
              f"{error:>15}")


# -- peers ------------------------------------------------------------------------------


def astra_projector(kind: str, geometry):
    """An ASTRA CPU projector for a hounsfield 2D geometry (image given flipped top-down)."""
    import astra

    volume = astra.create_vol_geom(N_PIXELS, N_PIXELS)
    n_det = geometry.det_shape[0]
    spacing = float(np.linalg.norm(geometry.u[0]))
    if geometry.is_fan:
        projection = astra.create_proj_geom("fanflat", spacing, n_det, geometry.angles_rad,
                                            geometry.sod_mm, geometry.sdd_mm - geometry.sod_mm)
    else:
        projection = astra.create_proj_geom("parallel", spacing, n_det, geometry.angles_rad)
    return astra.create_projector(kind, projection, volume)


def astra_forward(projector, image):
    import astra

    data_id, sinogram = astra.create_sino(np.ascontiguousarray(image[::-1]), projector)
    astra.data2d.delete(data_id)
    return sinogram


def astra_backward(projector, sinogram):
    import astra

    data_id, image = astra.create_backprojection(sinogram, projector)
    astra.data2d.delete(data_id)
    return image[::-1]


def skimage_case(phantom, image, geometry):
    """(forward, backward, exact sinogram in scikit-image's frame) for ``radon``/``iradon``."""
    from skimage.transform import iradon, radon

    theta_deg = np.rad2deg(geometry.angles_rad)
    n_det = int(np.ceil(N_PIXELS * np.sqrt(2)))
    offset = (N_PIXELS - 1) / 2 - N_PIXELS // 2  # the image centre in scikit-image's frame
    exact = phantom.translated((offset, offset)).parallel_sinogram(
        -geometry.angles_rad, np.arange(n_det) - n_det // 2)

    def forward():
        return radon(image, theta=theta_deg, circle=False).T

    def backward(sinogram):
        return iradon(sinogram.T, theta=theta_deg, filter_name=None, circle=False,
                      output_size=N_PIXELS)

    return forward, backward, exact


# -- cases ------------------------------------------------------------------------------


def shepp_logan_image():
    phantom = shepp_logan_2d("modified", fov_mm=float(N_PIXELS))
    return phantom, phantom.rasterize((N_PIXELS, N_PIXELS), 1.0, supersample=4)


def parallel_case(repeats: int) -> None:
    phantom, image = shepp_logan_image()
    geometry = parallel_beam(720, 729, 1.0)
    exact = phantom.line_integrals(*geometry.rays())
    ours = Projector(geometry, image.shape)
    sinogram = ours(image)
    ours.adjoint(sinogram)  # warm-up: compile or load the kernels
    line, linear = astra_projector("line", geometry), astra_projector("linear", geometry)
    sk_forward, sk_backward, sk_exact = skimage_case(phantom, image, geometry)

    forward = race({"hounsfield": lambda: ours(image),
                    "astra line (CPU)": lambda: astra_forward(line, image),
                    "astra linear (CPU)": lambda: astra_forward(linear, image),
                    "skimage radon": sk_forward}, repeats)
    errors = {name: relative_error(result[0], exact) for name, result in forward.items()
              if name != "skimage radon"}
    errors["skimage radon"] = relative_error(forward["skimage radon"][0], sk_exact)
    report("parallel 512², 720 views / 180°, 729 detectors: forward projection", forward, errors)

    sk_sinogram = forward["skimage radon"][0]
    backward = race({"hounsfield": lambda: ours.adjoint(sinogram),
                     "astra line (CPU)": lambda: astra_backward(line, sinogram),
                     "astra linear (CPU)": lambda: astra_backward(linear, sinogram),
                     "skimage iradon(filter_name=None)": lambda: sk_backward(sk_sinogram)},
                    repeats)
    report("parallel 512², 720 views / 180°, 729 detectors: backprojection", backward, {})
    ours_bp, linear_bp = backward["hounsfield"][0], backward["astra linear (CPU)"][0]
    print(f"  hounsfield BP vs astra linear BP of the same sinogram: relative L2 difference "
          f"{100 * relative_error(ours_bp, linear_bp):.3f} %")
    samples = count_samples(ours)
    print(f"  Joseph samples per projection: {samples:.3g} "
          f"({samples / forward['hounsfield'][2]:.3g} per second forward)")


def fan_case(repeats: int) -> None:
    phantom, image = shepp_logan_image()
    geometry = fan_beam(720, 736, 1.5, sod_mm=1000.0, sdd_mm=1500.0, arc_deg=360.0)
    exact = phantom.line_integrals(*geometry.rays())
    ours = Projector(geometry, image.shape)
    sinogram = ours(image)
    ours.adjoint(sinogram)
    line = astra_projector("line_fanflat", geometry)
    forward = race({"hounsfield": lambda: ours(image),
                    "astra line_fanflat (CPU)": lambda: astra_forward(line, image)}, repeats)
    errors = {name: relative_error(result[0], exact) for name, result in forward.items()}
    report("fan (flat) 512², 720 views / 360°, 736 detectors: forward projection", forward,
           errors)
    backward = race({"hounsfield": lambda: ours.adjoint(sinogram),
                     "astra line_fanflat (CPU)": lambda: astra_backward(line, sinogram)},
                    repeats)
    report("fan (flat) 512², 720 views / 360°, 736 detectors: backprojection", backward, {})


def cone_case(repeats: int) -> None:
    phantom = shepp_logan_3d("modified", fov_mm=256.0)
    volume = phantom.rasterize((256, 256, 256), 1.0, supersample=2)
    geometry = cone_beam(360, (256, 256), 2.0, sod_mm=500.0, sdd_mm=1000.0)
    ours = Projector(geometry, volume)
    ours(volume)
    timings = race({"hounsfield": lambda: ours(volume)}, repeats)
    projections, _, median, _ = timings["hounsfield"]
    every_30th = np.arange(0, 360, 30)
    exact = phantom.line_integrals(*ours.subset(every_30th).geometry.rays())
    report("cone (flat) 256³ from 360 views of 256², forward projection", timings,
           {"hounsfield": relative_error(projections[every_30th], exact)})
    samples = count_samples(ours)
    print(f"  {256**3 * 360 / median:.3g} voxel-views per second; {samples:.3g} Joseph ray "
          f"samples, {samples / median:.3g} per second")


@njit(cache=True)
def _count_2d(vectors, gamma_step, metric, is_cone, curved, n_views, n_cols, n0, n1):
    total = 0
    for view in range(n_views):
        for col in range(n_cols):
            s0, s1, e0, e1, t_min, t_max = _joseph.ray_2d(vectors, gamma_step, view, col,
                                                          n_cols, is_cone, curved)
            setup = _joseph.setup_2d(s0, s1, e0, e1, t_min, t_max, n0, n1, metric)
            total += max(setup[5] - setup[4] + 1, 0)
    return total


@njit(cache=True)
def _count_3d(vectors, gamma_step, metric, is_cone, curved, det_shape, sizes):
    total = 0
    n_views, n_rows, n_cols = det_shape
    for view in range(n_views):
        for row in range(n_rows):
            for col in range(n_cols):
                start, e, t_min, t_max = _joseph.ray_3d(vectors, gamma_step, view, row, col,
                                                        n_rows, n_cols, is_cone, curved)
                setup = _joseph.setup_3d(start, e, t_min, t_max, sizes, metric)
                total += max(setup[9] - setup[8] + 1, 0)
    return total


def count_samples(projector: Projector) -> int:
    """Number of Joseph samples (interpolations) in one forward projection."""
    args = projector._kernel_args()
    shape = projector.geometry.projection_shape
    if projector.geometry.ndim == 2:
        return _count_2d(*args, *shape, *projector.domain_shape)
    return _count_3d(*args, shape, projector.domain_shape)


def astra_sirt(projector, sinogram, n_iter: int):
    """ASTRA's CPU SIRT (the 'SIRT' algorithm on a CPU projector), image back in our frame."""
    import astra

    volume_geometry = astra.projector.volume_geometry(projector)
    projection_geometry = astra.projector.projection_geometry(projector)
    sinogram_id = astra.data2d.create("-sino", projection_geometry, sinogram)
    image_id = astra.data2d.create("-vol", volume_geometry, 0.0)
    config = astra.astra_dict("SIRT")
    config.update(ProjectorId=projector, ProjectionDataId=sinogram_id,
                  ReconstructionDataId=image_id)
    algorithm = astra.algorithm.create(config)
    astra.algorithm.run(algorithm, n_iter)
    image = astra.data2d.get(image_id)
    astra.algorithm.delete(algorithm)
    astra.data2d.delete([sinogram_id, image_id])
    return image[::-1]


def sirt_case(repeats: int, n_iter: int = 100) -> None:
    """100 SIRT iterations on the exact parallel sinogram: ours vs ASTRA's CPU SIRT."""
    from hounsfield.tomo import sirt

    phantom, image = shepp_logan_image()
    geometry = parallel_beam(720, 729, 1.0)
    exact = phantom.line_integrals(*geometry.rays()).astype(np.float32)
    ours = Projector(geometry, image.shape)
    sirt(ours, exact, n_iter=1)  # warm-up
    linear = astra_projector("linear", geometry)
    timings = race({"hounsfield": lambda: sirt(ours, exact, n_iter=n_iter).image,
                    "astra SIRT, linear (CPU)": lambda: astra_sirt(linear, exact, n_iter)},
                   max(1, min(repeats, 2)))
    errors = {name: relative_error(result[0], image) for name, result in timings.items()}
    report(f"parallel 512², 720 views, {n_iter} SIRT iterations (error: against the phantom)",
           timings, errors)


CASES = {"parallel": parallel_case, "fan": fan_case, "cone": cone_case, "sirt": sirt_case}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"numba threads: {get_num_threads()}, CPUs: {os.cpu_count()}, "
          f"load average: {load:.1f} (timings on a shared machine are noisy)")
    for case in args.cases:
        CASES[case](args.repeats)


if __name__ == "__main__":
    main()
