"""Time hounsfield's DRR renderer against DiffDRR's two CPU renderers on the real chest CT.

Case: the example chest CT (512 × 512 × 133 voxels of 0.70 × 0.70 × 2.5 mm),
one AP view, 512 × 512 detector of 0.78 mm pixels, source–detector 1020 mm,
source–isocentre 850 mm, isocentre at the CT's centre. Printed for each tool:
min and median wall time, median process CPU time (all threads), the
peer/ours ratio, peak memory while rendering, and Pearson r of each DiffDRR
image against hounsfield's. Then the time of projecting all labels of the
117-class label map in one pass, against the plain DRR.

Matching DiffDRR's conventions (its drr.py, detector.py, renderers.py,
data.py, pose.py):

* Pose: DiffDRR reads the CT into RAS with its centre (the centre of the
  voxel centres, as hounsfield's isocentre) at the origin; with
  ``orientation="AP"``, zero Euler angles (``convention="ZXY"``) and the
  translation (0, sod, 0) its source sits at RAS (0, +sod, 0) — anterior —
  and its detector plane at RAS y = sod - sdd. Its default
  ``reverse_x_axis=True`` puts the patient's right on the image's left and
  superior at the top: pixel (i, j) lies at LPS x = (j - 255.5)·0.78 mm,
  z = (255.5 - i)·0.78 mm on the detector, as in hounsfield's ``ap`` view.
  No flip or shift is needed.
* Attenuation: DiffDRR's own HU→density map sets HU ≤ -800 to the lowest
  soft-tissue HU and rescales to [0, 1], a different contrast from
  μ = μ_water (1 + HU/1000). For the comparison it is given hounsfield's μ
  (1/mm) as its density, so that both render ∫ μ dl. (Pearson r against its
  own density is printed too, for information.)
* Renderers: ``trilinear`` (500 samples per ray, its default) and
  ``siddon`` (exact voxel intersections, nearest-voxel lookup).

DiffDRR needs torchvision, which does not import beside the project's
torch wheel, so it runs in its own environment, ``benchmarks/.venv-diffdrr``
(created on first use: ``pip install torch==2.14.1 torchvision==0.29.1
diffdrr==0.6.1``, about 7 GB), in a subprocess of this script that reads the
CT file and the pose from a JSON job file and writes its image as .npy.
Both tools run on the same number of threads.

    python benchmarks/bench_drr.py                 # 5 runs of ours, 2 of each peer renderer
    python benchmarks/bench_drr.py --peer-repeats 1 --renderers trilinear

Memory is the peak resident set size while rendering (the high-water mark
is reset just before), for DiffDRR in its own process; ours is measured in
this process after the CT is loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_ENV = Path(__file__).resolve().parent / ".venv-diffdrr"
PEER_PACKAGES = ("torch==2.14.1", "torchvision==0.29.1", "diffdrr==0.6.1")
POSE = {"sdd_mm": 1020.0, "sod_mm": 850.0, "rows": 512, "pixel_mm": 0.78}


# -- memory ------------------------------------------------------------------------------------


def reset_peak_memory() -> bool:
    """Reset this process's peak RSS (Linux clear_refs); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_memory_mb() -> float:
    """This process's peak RSS (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(function, repeats: int) -> tuple[object, list[float], list[float], float]:
    """(last result, wall times s, CPU times s, peak RSS MB over the runs)."""
    walls, cpus = [], []
    reset_peak_memory()
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, walls, cpus, peak_memory_mb()


# -- DiffDRR, inside its own environment ---------------------------------------------------


def diffdrr_worker(job_path: str) -> None:
    """Render the job's view with DiffDRR; write the image (.npy) and timings (.json)."""
    import torch
    from diffdrr.data import read
    from diffdrr.drr import DRR

    job = json.loads(Path(job_path).read_text())
    torch.set_num_threads(job["threads"])
    subject = read(job["ct"], orientation="AP")
    if job["density"] == "mu":
        hu = subject.volume.data.to(torch.float32)
        subject.density.set_data(torch.clamp(job["mu_water"] * (1.0 + hu / 1000.0), min=0.0))
    kwargs = {"patch_size": job["patch_size"]} if job["patch_size"] else {}
    drr = DRR(subject, sdd=job["sdd_mm"], height=job["rows"], delx=job["pixel_mm"],
              renderer=job["renderer"], **kwargs)
    rotations = torch.zeros(1, 3)
    translations = torch.tensor([[0.0, job["sod_mm"], 0.0]])
    rss_before = peak_memory_mb() if reset_peak_memory() else float("nan")

    def render():
        with torch.no_grad():
            return drr(rotations, translations, parameterization="euler_angles",
                       convention="ZXY")

    image, walls, cpus, peak = timed(render, job["repeats"])
    np.save(job["image"], image[0, 0].numpy().astype(np.float32))
    Path(job["timings"]).write_text(json.dumps({"wall": walls, "cpu": cpus, "peak_mb": peak,
                                                "before_mb": rss_before}))


def ensure_bench_env() -> Path:
    """The DiffDRR environment's Python, creating the environment on first use."""
    python = BENCH_ENV / "bin" / "python"
    if python.exists():
        return python
    print(f"creating {BENCH_ENV} ({' '.join(PEER_PACKAGES)}; about 7 GB) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_ENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


def run_diffdrr(python: Path, ct_path: Path, renderer: str, density: str, repeats: int,
                patch_size: int | None, mu_water: float, threads: int, folder: Path) -> dict:
    stem = folder / f"{renderer}-{density}"
    job = {"ct": str(ct_path), "renderer": renderer, "density": density, "repeats": repeats,
           "patch_size": patch_size, "mu_water": mu_water, "threads": threads,
           "image": f"{stem}.npy", "timings": f"{stem}.json", **POSE}
    job_path = Path(f"{stem}-job.json")
    job_path.write_text(json.dumps(job))
    subprocess.run([str(python), __file__, "--diffdrr-worker", str(job_path)], check=True)
    result = json.loads(Path(job["timings"]).read_text())
    result["image"] = np.load(job["image"])
    return result


def available_memory_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


# -- hounsfield -----------------------------------------------------------------------------------


def run_ours(repeats: int) -> dict:
    from hounsfield.data import example_chest_ct
    from hounsfield.data.shepp_logan import MU_WATER_PER_MM
    from hounsfield.simulate.drr import drr_geometry, project_labels, render_drr

    ct, labels = example_chest_ct()
    geometry = drr_geometry(ct, "ap", sdd_mm=POSE["sdd_mm"], sod_mm=POSE["sod_mm"],
                            detector_shape=(POSE["rows"], POSE["rows"]),
                            pixel_spacing_mm=POSE["pixel_mm"])
    render_drr(ct, geometry)  # compiles (or loads numba's cache): not timed
    project_labels(labels, geometry)
    before = peak_memory_mb() if reset_peak_memory() else float("nan")
    image, walls, cpus, peak = timed(lambda: render_drr(ct, geometry), repeats)
    projection, label_walls, label_cpus, label_peak = timed(
        lambda: project_labels(labels, geometry), repeats)
    return {"image": image, "wall": walls, "cpu": cpus, "peak_mb": peak, "before_mb": before,
            "label_wall": label_walls, "label_cpu": label_cpus, "label_peak_mb": label_peak,
            "n_labels": len(projection.names), "mu_water": MU_WATER_PER_MM,
            "ct_path": None}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def summary(name: str, result: dict) -> str:
    wall, cpu = result["wall"], result["cpu"]
    return (f"{name:<26} wall min {min(wall):7.3f} s  median {statistics.median(wall):7.3f} s  "
            f"CPU {statistics.median(cpu):7.3f} s  peak {result['peak_mb']:6.0f} MB "
            f"(+{result['peak_mb'] - result['before_mb']:.0f} MB while rendering)")


def ratios(peer: dict, ours: dict) -> str:
    """Peer/ours: min wall times, median wall times, median CPU times."""
    wall = min(peer["wall"]) / min(ours["wall"])
    median = statistics.median(peer["wall"]) / statistics.median(ours["wall"])
    cpu = statistics.median(peer["cpu"]) / statistics.median(ours["cpu"])
    return (f"slower than ours: {wall:.1f}× (min wall), {median:.1f}× (median wall), "
            f"{cpu:.1f}× (CPU)")


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of hounsfield")
    parser.add_argument("--peer-repeats", type=int, default=2, help="runs of each DiffDRR renderer")
    parser.add_argument("--renderers", nargs="+", default=["trilinear", "siddon"],
                        choices=["trilinear", "siddon"])
    parser.add_argument("--siddon-patch-size", type=int, default=None,
                        help="render DiffDRR's Siddon in patches of this size (less memory); by "
                             "default whole unless less than 20 GB of memory is available")
    parser.add_argument("--diffdrr-worker", metavar="JOB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.diffdrr_worker:
        diffdrr_worker(args.diffdrr_worker)
        return

    from numba import get_num_threads

    from hounsfield.data.example import example_chest_ct_paths

    threads = get_num_threads()
    print(f"AP view of the example chest CT, {POSE['rows']}² pixels of {POSE['pixel_mm']} mm, "
          f"SDD {POSE['sdd_mm']:g} mm, SOD {POSE['sod_mm']:g} mm, {threads} threads "
          f"(load average {load_average()}: on a busy machine compare CPU times)")
    ours = run_ours(args.repeats)
    print(summary("hounsfield render_drr", ours))
    label_ratio = statistics.median(ours["label_wall"]) / statistics.median(ours["wall"])
    label_cpu_ratio = statistics.median(ours["label_cpu"]) / statistics.median(ours["cpu"])
    print(summary(f"hounsfield {ours['n_labels']} labels", {
        "wall": ours["label_wall"], "cpu": ours["label_cpu"], "peak_mb": ours["label_peak_mb"],
        "before_mb": ours["before_mb"]}))
    print(f"{'':<26} all labels in one pass: {label_ratio:.2f}× the plain DRR's wall time, "
          f"{label_cpu_ratio:.2f}× its CPU time")

    python = ensure_bench_env()
    ct_path = example_chest_ct_paths()["ct"]
    with tempfile.TemporaryDirectory(prefix="bench-drr-") as tmp:
        for renderer in args.renderers:
            patch = args.siddon_patch_size if renderer == "siddon" else None
            if renderer == "siddon" and patch is None and available_memory_mb() < 20_000:
                patch = 128
                print(f"(less than 20 GB available: DiffDRR's siddon renders {patch}² patches)")
            peer = run_diffdrr(python, ct_path, renderer, "mu", args.peer_repeats, patch,
                               ours["mu_water"], threads, Path(tmp))
            print(summary(f"DiffDRR {renderer}" + (f" (patches {patch})" if patch else ""), peer))
            print(f"{'':<26} {ratios(peer, ours)}")
            print(f"{'':<26} Pearson r against hounsfield "
                  f"{pearson(peer['image'], ours['image']):.6f} (same μ)")
        if "trilinear" in args.renderers:
            native = run_diffdrr(python, ct_path, "trilinear", "native", 1, None,
                                 ours["mu_water"], threads, Path(tmp))
            print(f"{'':<26} (DiffDRR trilinear with its own HU→density map: Pearson r "
                  f"{pearson(native['image'], ours['image']):.5f})")
    print(f"load average {load_average()}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
