"""Reading a real DICOM series: hounsfield vs SimpleITK's series reader vs dcm2niix.

The example chest CT (512×512×133) is written as a 133-file DICOM series in
shuffled file order; each reader turns it into voxels with geometry. Prints
min and median of several runs, the ratio to each peer, and the agreement
(max |ΔHU| and max affine difference in mm).

    .venv/bin/python benchmarks/bench_io.py [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

import hounsfield as hf
from hounsfield.data import example_chest_ct
from hounsfield.io.dicom import write_dicom_series
from hounsfield.volume import Volume


def timed(function, runs: int):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def read_sitk(folder: Path) -> Volume:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return Volume.from_sitk(sitk.Cast(reader.Execute(), sitk.sitkFloat32))


def read_dcm2niix(folder: Path, binary: str) -> Volume:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([binary, "-z", "n", "-b", "n", "-o", out, "-f", "ct", str(folder)],
                       check=True, capture_output=True)
        return hf.read(Path(out) / "ct.nii")


def agreement(ours: Volume, peer: Volume) -> tuple[float, float]:
    peer = peer.reorient(ours.orientation)
    return (float(np.abs(ours.array - peer.array).max()),
            float(np.abs(ours.affine - peer.affine).max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    ct, _ = example_chest_ct()
    binary = shutil.which("dcm2niix", path=str(Path(sys.executable).parent)) or "dcm2niix"
    with tempfile.TemporaryDirectory() as tmp:
        names = [f"{n:05d}.dcm" for n in random.Random(0).sample(range(ct.shape[0]), ct.shape[0])]
        folder = Path(tmp) / "series"
        write_dicom_series(ct, folder, filenames=names)
        ours = timed(lambda: hf.read(folder), runs)
        peers = {"SimpleITK ImageSeriesReader": timed(lambda: read_sitk(folder), runs),
                 "dcm2niix (to NIfTI, then load)":
                     timed(lambda: read_dcm2niix(folder, binary), runs)}
    print(f"DICOM series of {ct.shape[0]} files, {ct.shape[1]}×{ct.shape[2]}, {runs} runs")
    print(f"{'reader':34s} {'min s':>7s} {'median s':>9s} {'peer/ours':>9s} "
          f"{'max|ΔHU|':>9s} {'max Δaffine mm':>15s}")
    print(f"{'hounsfield.read':34s} {ours[0]:7.3f} {ours[1]:9.3f}")
    for name, (best, median, volume) in peers.items():
        dhu, daffine = agreement(ours[2], volume)
        print(f"{name:34s} {best:7.3f} {median:9.3f} {best / ours[0]:9.2f} {dhu:9.3g} "
              f"{daffine:15.3g}")


if __name__ == "__main__":
    main()
