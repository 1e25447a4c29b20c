"""HD95 and NSD on the example chest CT: hounsfield against surface-distance, MONAI and medpy.

Run: ``.venv/bin/python benchmarks/bench_surface.py [--repeats N]``

Masks: the five lung lobes of the example chest CT (512×512×133, spacing
2.5×0.703×0.703 mm) as the reference, the same dilated by one voxel (the
connectivity-1 cross) as the prediction. Each row times HD95 + NSD at 1 mm
under one convention and with the matching peer, in the same run, and prints
the minimum and median of ``--repeats`` runs, the ratio of the minima, both
values and their difference. medpy has no NSD, so its row times ``hd95`` alone
(and so does ours). The last rows time Dice + HD95 + NSD for every label of the
label map against the same map dilated (grey dilation by the cross) and eroded.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import ndimage

from hounsfield.data import example_chest_ct
from hounsfield.metrics import multilabel_surface_metrics, surface_distances

LOBES = ("lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right",
         "lung_middle_lobe_right", "lung_lower_lobe_right")
TOLERANCE_MM = 1.0


def timed(function, repeats: int):
    """(result, min seconds, median seconds) of ``repeats`` calls."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return result, min(times), float(np.median(times))


def ours(pred, ref, spacing, convention, with_nsd=True):
    def run():
        distances = surface_distances(pred, ref, spacing, convention=convention)
        hd95 = distances.hausdorff_mm(95)
        return (hd95, distances.nsd(TOLERANCE_MM)) if with_nsd else (hd95,)
    return run


def deepmind_peer(pred, ref, spacing):
    import surface_distance

    def run():
        distances = surface_distance.compute_surface_distances(ref, pred, spacing)
        return (surface_distance.compute_robust_hausdorff(distances, 95),
                surface_distance.compute_surface_dice_at_tolerance(distances, TOLERANCE_MM))
    return run


def monai_peer(pred, ref, spacing):
    import torch
    from monai.metrics import compute_hausdorff_distance, compute_surface_dice

    y_pred, y = (torch.from_numpy(m)[None, None] for m in (pred, ref))

    def run():
        hd95 = compute_hausdorff_distance(y_pred, y, include_background=True, percentile=95,
                                          spacing=spacing)
        nsd = compute_surface_dice(y_pred, y, [TOLERANCE_MM], include_background=True,
                                   spacing=spacing)
        return float(hd95), float(nsd)
    return run


def medpy_peer(pred, ref, spacing):
    from medpy.metric.binary import hd95

    return lambda: (hd95(pred, ref, voxelspacing=spacing),)


def row(label, peer_run, our_run, repeats):
    peer_values, peer_min, peer_median = timed(peer_run, repeats)
    our_values, our_min, our_median = timed(our_run, repeats)
    difference = max(abs(a - b) for a, b in zip(peer_values, our_values, strict=True))
    values = lambda v: "/".join(f"{x:.6f}" for x in v)  # noqa: E731
    print(f"{label:<28} {peer_min:7.3f} {peer_median:7.3f}   {our_min:7.3f} {our_median:7.3f}"
          f"   {peer_min / our_min:6.1f}x   {values(peer_values):>20} {values(our_values):>20}"
          f"   {difference:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing (default 5)")
    repeats = parser.parse_args().repeats

    ct, labels = example_chest_ct()
    spacing = labels.spacing_mm
    ref = np.isin(labels.array, [labels.labels.id_of(name) for name in LOBES])
    pred = ndimage.binary_dilation(ref)
    print(f"lungs {ref.shape} spacing {spacing} mm: {ref.sum()} voxels, dilated {pred.sum()}")
    for convention in ("deepmind", "monai", "medpy"):  # compile the numba kernels first
        ours(pred, ref, spacing, convention)()

    print(f"\nHD95 + NSD@{TOLERANCE_MM:g}mm, seconds (min, median of {repeats}); "
          "values HD95 mm / NSD")
    print(f"{'peer':<28} {'peer':>7} {'':>7}   {'ours':>7} {'':>7}   {'ratio':>7}"
          f"   {'peer values':>20} {'our values':>20}   max |diff|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the peers' deprecation notices
        row("surface-distance (deepmind)", deepmind_peer(pred, ref, spacing),
            ours(pred, ref, spacing, "deepmind"), repeats)
        row("MONAI (monai)", monai_peer(pred, ref, spacing),
            ours(pred, ref, spacing, "monai"), repeats)
        row("medpy hd95 (medpy)", medpy_peer(pred, ref, spacing),
            ours(pred, ref, spacing, "medpy", with_nsd=False), repeats)

    label_map = labels.array
    cross = ndimage.generate_binary_structure(3, 1)
    print(f"\nAll labels: Dice + HD95 + NSD@{TOLERANCE_MM:g}mm, seconds (min, median of "
          f"{repeats})")
    for how, other in (("dilated", ndimage.grey_dilation(label_map, footprint=cross)),
                       ("eroded", ndimage.grey_erosion(label_map, footprint=cross))):
        for convention in ("deepmind", "monai"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result, fastest, median = timed(lambda c=convention, o=other: (
                    multilabel_surface_metrics(o, label_map, spacing, convention=c)), repeats)
            mean_dice = np.nanmean([r["dice"] for r in result.values()])
            print(f"labels vs {how:<8} {convention:<9} {len(result):3d} labels   "
                  f"{fastest:6.2f} {median:6.2f}   mean Dice {mean_dice:.4f}")


if __name__ == "__main__":
    main()
