"""Learned NICT enhancement scored against its baselines: FBP and TV-regularised reconstruction.

:func:`evaluate_enhancement` scans axial slices of a clean CT as a
:class:`~hounsfield.simulate.ScanSettings` describes (a 2D fan or parallel
beam, monochromatic), and scores three reconstructions of each simulated
scan against the CT itself:

``fbp``
    The simulation's own filtered back-projection (the enhancer's input).
``tv``
    Total-variation regularised least squares of the same sinogram, same
    geometry, same 2D grid (:func:`~hounsfield.tomo.iterative.tv_pdhg`,
    ``x ≥ 0``, a 2D TV per slice, started from zero): the classical
    iterative answer to sparse-view and low-dose scans.
``network``
    ``enhancer(FBP)``: any callable from a float32 array ``(n, H, W)`` of
    FBP slices in HU to enhanced slices in HU of the same shape (a trained
    network wrapped in a function; this module needs no deep-learning
    library). It is called on a few slices at a time so that it can batch.
    With ``with_sinograms`` it is called as ``enhancer(FBP, sinograms,
    projector)`` and also gets the scans' line integrals ``(n, views,
    columns)`` and the projector of one slice — what TV gets.

Scores per slice and method, inside the body (:func:`~hounsfield.segment.segment_body`
of the CT unless the caller passes a mask): PSNR (dB) and SSIM over the
clip range −1024…3000 HU, and MAE (HU) — the functions of
:mod:`hounsfield.metrics.image` with their defaults.

Every slice is scanned on its own, its noise drawn from a seed made of the
settings' seed and the slice index, so a slice's scan does not depend on
which other slices are evaluated nor on how they are batched.

A fair comparison gives TV its best weight, tuned on slices that are not
scored: :func:`tune_tv_weight` picks, from a log grid around
:func:`~hounsfield.tomo.iterative.suggest_tv_weight`, the weight of best mean
PSNR on the slices it is given. Without ``tv_weight``,
:func:`evaluate_enhancement` tunes it on three slices spread over the test
slices themselves, which favours TV slightly.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.paths import atomic_write_text
from ..metrics.aggregate import json_safe
from ..metrics.image import mae_hu, psnr_db, ssim
from ..progress import progress_bar
from ..report.figures import axial_for_display
from ..report.plots import save_figure
from ..segment.body import segment_body
from ..simulate import physics
from ..simulate.nict import (
    ScanSettings,
    SimulatedScan,
    blank_outside_fov,
    centred_grid,
    scan_geometry,
    simulate_scan,
)
from ..tomo.iterative import suggest_tv_weight, tv_pdhg
from ..tomo.project import Projector
from ..volume import Volume
from ..window import apply_window

__all__ = ["EnhancementEvaluation", "SliceImages", "evaluate_enhancement", "tune_tv_weight",
           "METHODS", "METRICS", "FIGURE_WINDOW"]

#: The reconstructions compared, in table order.
METHODS = ("fbp", "tv", "network")
#: The scores of each slice and method.
METRICS = ("psnr_db", "ssim", "mae_hu")
#: Display window of the example row of :meth:`EnhancementEvaluation.figure`:
#: (level, width) HU, i.e. −1000…400 HU (lungs and soft tissue in one view).
FIGURE_WINDOW = (-300.0, 1400.0)
#: Default TV weights of :func:`tune_tv_weight`: these factors times suggest_tv_weight.
TV_WEIGHT_FACTORS = tuple(10.0 ** np.linspace(-1.0, 1.0, 5))
#: Slices that evaluate_enhancement tunes the TV weight on when given none.
_TUNING_SLICES = 3

Enhancer = Callable[[np.ndarray], np.ndarray]


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SliceImages:
    """One evaluated slice's images, HU (H, W) float32: the reference and each method's.

    ``images`` maps each of :data:`METHODS` to its reconstruction.
    """

    slice_index: int
    reference: np.ndarray
    images: dict[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class EnhancementEvaluation:
    """Per-slice scores of FBP, TV and the network, and one example slice.

    Attributes
    ----------
    rows : list of dict
        One row per slice and method: ``slice`` (axial index), ``method``,
        ``psnr_db`` (dB), ``ssim``, ``mae_hu`` (HU).
    settings : ScanSettings
        The simulated scan.
    tv_weight : float
        The TV weight used (units of :func:`~hounsfield.tomo.iterative.tv_pdhg`, μ in 1/mm).
    tv_iterations : int
        PDHG iterations of each TV reconstruction.
    example : SliceImages
        The slice of median network PSNR (the lower median), scanned and
        reconstructed once more after scoring so that no other slice's images
        are held; the scans and TV are deterministic, and the enhancer sees
        that slice alone.
    """

    rows: list[dict]
    settings: ScanSettings
    tv_weight: float
    tv_iterations: int
    example: SliceImages = field(repr=False)

    @property
    def slices(self) -> list[int]:
        """The evaluated axial indices, in evaluation order."""
        return list(dict.fromkeys(row["slice"] for row in self.rows))

    def values(self, method: str, metric: str) -> np.ndarray:
        """One method's scores of one metric, per slice (float64)."""
        if method not in METHODS or metric not in METRICS:
            raise ValueError(f"method must be one of {METHODS} and metric one of {METRICS}, "
                             f"got {method!r}, {metric!r}")
        return np.array([row[metric] for row in self.rows if row["method"] == method], float)

    def summary(self) -> dict:
        """``{method: {metric: mean}}``; the network's entry adds its mean PSNR gain (dB).

        ``psnr_gain_over_fbp_db`` and ``psnr_gain_over_tv_db`` are the mean
        per-slice differences of PSNR. NaN scores are skipped; an infinite
        PSNR (an exact image) keeps the mean infinite.
        """
        result = {method: {metric: _mean_sd(self.values(method, metric))[0]
                           for metric in METRICS} for method in METHODS}
        network = self.values("network", "psnr_db")
        for baseline in ("fbp", "tv"):
            gain = network - self.values(baseline, "psnr_db")
            result["network"][f"psnr_gain_over_{baseline}_db"] = _mean_sd(gain)[0]
        return result

    def table(self):
        """A rich Table: one row per method, mean ± sd of each metric over the slices."""
        from rich.table import Table

        table = Table(title=f"NICT enhancement, {self.settings.summary()}, "
                            f"{len(self.slices)} slices, inside the body", title_justify="left")
        table.add_column("method")
        for header in ("PSNR (dB)", "SSIM", "MAE (HU)"):
            table.add_column(header, justify="right")
        formats = {"psnr_db": ".2f", "ssim": ".4f", "mae_hu": ".1f"}
        for method in METHODS:
            cells = [_mean_sd_text(self.values(method, m), formats[m]) for m in METRICS]
            table.add_row(method, *cells)
        gains = self.summary()["network"]
        table.caption = (f"network PSNR gain: {gains['psnr_gain_over_fbp_db']:+.2f} dB over FBP, "
                         f"{gains['psnr_gain_over_tv_db']:+.2f} dB over TV "
                         f"(weight {self.tv_weight:.3g}, {self.tv_iterations} iterations)")
        return table

    def to_csv(self, path) -> Path:
        """Write the per-slice rows as CSV (atomically); return the path."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=["slice", "method", *METRICS],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(path, text.getvalue())
        return Path(path)

    def to_json(self, path) -> Path:
        """Write settings, TV weight, rows and summary as JSON (NaN, inf: null); return the path."""
        document = {"settings": self.settings.to_dict(), "tv_weight": self.tv_weight,
                    "tv_iterations": self.tv_iterations, "example_slice": self.example.slice_index,
                    "rows": self.rows, "summary": self.summary()}
        atomic_write_text(path, json.dumps(json_safe(document), indent=1, allow_nan=False))
        return Path(path)

    def figure(self, path) -> Path:
        """A PNG: PSNR per method (box plot) and the example slice in the window −1000…400 HU.

        Infinite PSNRs (exact images) are left out of the box plot.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(12, 6.5))
        grid = figure.add_gridspec(2, 4, height_ratios=(1, 1.3))
        _psnr_boxes(figure.add_subplot(grid[0, :]), self)
        images = {"reference": self.example.reference, **self.example.images}
        for column, (name, image) in enumerate(images.items()):
            axis = figure.add_subplot(grid[1, column])
            axis.imshow(apply_window(image, FIGURE_WINDOW), cmap="gray", vmin=0, vmax=1)
            axis.set_title(_image_title(self, name), fontsize=9)
            axis.set_axis_off()
        figure.suptitle(f"{self.settings.summary()}: slice {self.example.slice_index}, "
                        "window −1000…400 HU", fontsize=10)
        return save_figure(figure, path)


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample sd of the non-NaN values (NaN when none; sd NaN for one value)."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return math.nan, math.nan
    sd = float(np.std(kept, ddof=1)) if kept.size > 1 and np.all(np.isfinite(kept)) else math.nan
    return float(np.mean(kept)), sd


def _mean_sd_text(values: np.ndarray, spec: str) -> str:
    mean, sd = _mean_sd(values)
    return f"{mean:{spec}}" if math.isnan(sd) else f"{mean:{spec}} ± {sd:{spec}}"


def _psnr_boxes(axis, evaluation: EnhancementEvaluation) -> None:
    data = [evaluation.values(m, "psnr_db") for m in METHODS]
    axis.boxplot([d[np.isfinite(d)] for d in data], tick_labels=list(METHODS))
    axis.set_ylabel("PSNR inside the body (dB)")


def _image_title(evaluation: EnhancementEvaluation, name: str) -> str:
    if name == "reference":
        return "reference"
    row = next(r for r in evaluation.rows
               if r["slice"] == evaluation.example.slice_index and r["method"] == name)
    return f"{name}: {row['psnr_db']:.2f} dB, SSIM {row['ssim']:.3f}"


# -- the bench: scans, reconstructions and scores of single slices ---------------------------


@dataclass(frozen=True, eq=False)
class _Bench:
    """What every slice of one evaluation shares: the CT, settings, body and TV projector."""

    ct: Volume
    settings: ScanSettings
    body: np.ndarray
    projector: Projector
    with_sinograms: bool = False

    @classmethod
    def of(cls, ct: Volume, settings: ScanSettings, body, with_sinograms: bool = False
           ) -> _Bench:
        _check_ct_and_settings(ct, settings)
        body = segment_body(ct) if body is None else _checked_body(body, ct)
        geometry = scan_geometry(ct, settings).select_views(settings.measured_views())
        return cls(ct, settings, body, Projector(geometry, centred_grid(ct).axial_slice()),
                   bool(with_sinograms))

    def enhanced(self, enhancer: Enhancer, scans: list[SimulatedScan]) -> np.ndarray:
        """The enhancer's output for the scans' FBP slices, checked: float32, same shape, finite."""
        fbp = np.stack([scan.degraded.array[0] for scan in scans])
        arguments = (fbp.copy(),)
        if self.with_sinograms:
            arguments += (np.stack([scan.sinogram[0] for scan in scans]), self.projector)
        output = np.asarray(enhancer(*arguments), dtype=np.float32)
        if output.shape != fbp.shape:
            raise ValueError(f"enhancer must return an array of its input's shape {fbp.shape}, "
                             f"got shape {output.shape}")
        if not np.all(np.isfinite(output)):
            raise ValueError(f"enhancer returned {np.count_nonzero(~np.isfinite(output))} NaN "
                             f"or infinite values; it must return finite HU")
        return output

    def scan(self, z: int) -> SimulatedScan:
        """The simulated scan of axial slice ``z`` alone, its noise seeded by (seed, z)."""
        seed = int(np.random.SeedSequence([self.settings.seed, z]).generate_state(1)[0])
        one_slice = self.ct.crop((z, 0, 0), (z + 1, *self.ct.shape[1:]))
        return simulate_scan(one_slice, self.settings.replace(seed=seed), keep_sinogram=True)

    def tv_hu(self, scan: SimulatedScan, weight: float, iterations: int) -> np.ndarray:
        """TV-PDHG of the scan's sinogram on the slice's grid, in HU (H, W)."""
        mu = tv_pdhg(self.projector, scan.sinogram[0], weight, iterations).image
        hu = physics.mu_to_hu(mu, self.settings.energy_kev)[None]
        blank_outside_fov(hu, centred_grid(scan.degraded), self.settings)
        return hu[0]

    def scores(self, z: int, image: np.ndarray, reference: np.ndarray) -> dict:
        inside = self.body[z]
        return {"psnr_db": psnr_db(image, reference, inside),
                "ssim": ssim(image, reference, inside),
                "mae_hu": mae_hu(image, reference, inside)}


def _check_ct_and_settings(ct: Volume, settings: ScanSettings) -> None:
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a hounsfield Volume, got {type(ct).__name__}")
    if not isinstance(settings, ScanSettings):
        raise TypeError(f"settings must be ScanSettings, got {type(settings).__name__}")
    if ct.is_label_map or not np.issubdtype(ct.array.dtype, np.floating):
        raise ValueError("ct must be a CT in HU (a float Volume), not a label map")
    if settings.geometry not in ("fan", "parallel"):
        raise ValueError(f"settings.geometry must be 'fan' or 'parallel' (2D scans of axial "
                         f"slices), got {settings.geometry!r}")
    if settings.polychromatic:
        raise ValueError("settings.polychromatic must be False: TV reconstructs attenuation at "
                         "one energy, got a polychromatic scan")
    if settings.method != "fbp":
        raise ValueError(f"settings.method must be 'fbp' (the enhancer's input), "
                         f"got {settings.method!r}")


def _checked_body(body, ct: Volume) -> np.ndarray:
    body = np.asarray(body)
    if body.shape != ct.shape:
        raise ValueError(f"body must be a mask of the CT's shape {ct.shape}, "
                         f"got shape {body.shape}")
    return body > 0


def _checked_slices(slices, ct: Volume, body: np.ndarray) -> list[int]:
    n_slices = ct.shape[0]
    chosen = list(range(n_slices)) if slices is None else list(np.atleast_1d(slices))
    if not chosen:
        raise ValueError("slices must name at least one axial index, got an empty sequence")
    for z in chosen:
        if not (isinstance(z, int | np.integer) and not isinstance(z, bool)
                and 0 <= z < n_slices):
            raise ValueError(f"slices must hold axial indices in [0, {n_slices}), got {z!r}")
        if not body[z].any():
            raise ValueError(f"body selects no voxel in slice {z}: nothing to score there")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"slices must name each index once, got {chosen}")
    return [int(z) for z in chosen]


def _check_count(value, name: str) -> int:
    if not (isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


# -- TV weight -------------------------------------------------------------------------------


def tune_tv_weight(ct: Volume, settings: ScanSettings, slices: Sequence[int], *,
                   candidates: Sequence[float] | None = None, iterations: int = 100,
                   body=None) -> float:
    """The TV weight of best mean PSNR inside the body over some slices' simulated scans.

    Tune on slices that are not scored afterwards (e.g. a validation set),
    then pass the weight to :func:`evaluate_enhancement`.

    Parameters
    ----------
    ct : Volume
        The clean CT, HU.
    settings : ScanSettings
        The scan (2D fan or parallel beam, monochromatic, FBP).
    slices : sequence of int
        Axial indices to tune on.
    candidates : sequence of float, optional
        Weights to try (≥ 0, units of :func:`~hounsfield.tomo.iterative.tv_pdhg`).
        Default: 0.1, 0.32, 1, 3.2 and 10 times
        :func:`~hounsfield.tomo.iterative.suggest_tv_weight` of the first slice's sinogram.
    iterations : int
        PDHG iterations per reconstruction.
    body : ndarray, optional
        Mask of the CT's shape; default :func:`~hounsfield.segment.segment_body`.

    Returns
    -------
    float
        The best candidate (the first of equals).

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(2, 32, 32), spacing_mm=(20.0, 10.0, 10.0))
    >>> tune_tv_weight(ct, ScanSettings(n_views=20), [1], candidates=[0.0, 2.0], iterations=20)
    2.0
    """
    bench = _Bench.of(ct, settings, body)
    slices = _checked_slices(slices, ct, bench.body)
    return _tuned_weight(bench, slices, candidates, _check_count(iterations, "iterations"))


def _tuned_weight(bench: _Bench, slices: list[int], candidates, iterations: int) -> float:
    scans = [bench.scan(z) for z in slices]
    if candidates is None:
        suggested = suggest_tv_weight(bench.projector, scans[0].sinogram[0])
        candidates = [suggested * factor for factor in TV_WEIGHT_FACTORS]
    candidates = _checked_weights(candidates)
    mean_psnr = [np.mean([bench.scores(z, bench.tv_hu(scan, weight, iterations),
                                       scan.reference.array[0])["psnr_db"]
                          for z, scan in zip(slices, scans, strict=True)])
                 for weight in candidates]
    return candidates[int(np.argmax(mean_psnr))]


def _checked_weights(candidates, name: str = "candidates") -> list[float]:
    weights = [float(w) for w in np.atleast_1d(np.asarray(candidates, dtype=float))]
    if not weights or not all(math.isfinite(w) and w >= 0 for w in weights):
        raise ValueError(f"{name} must be finite TV weights >= 0, got {candidates!r}")
    return weights


# -- the evaluation --------------------------------------------------------------------------


def evaluate_enhancement(ct: Volume, enhancer: Enhancer, settings: ScanSettings, *,
                         slices: Sequence[int] | None = None, tv_weight: float | None = None,
                         tv_iterations: int = 100, body=None, batch_slices: int = 4,
                         with_sinograms: bool = False,
                         progress: bool = False) -> EnhancementEvaluation:
    """Score FBP, TV and ``enhancer(FBP)`` on simulated scans of a CT's axial slices.

    Parameters
    ----------
    ct : Volume
        The clean CT, HU: the reference of every score.
    enhancer : callable
        ``enhancer(fbp)`` with ``fbp`` a float32 array (n, H, W) of FBP slices
        in HU (whole slices of the CT's grid) returns the enhanced slices in
        HU, same shape (numpy or anything ``numpy.asarray`` takes).
    settings : ScanSettings
        The scan: a 2D fan or parallel beam, monochromatic, reconstructed by FBP.
    slices : sequence of int, optional
        Axial indices to score; default all.
    tv_weight : float, optional
        TV weight (≥ 0). None: :func:`tune_tv_weight` on three slices spread
        over ``slices`` (tuned on the test slices; pass a weight tuned on
        other slices for a strictly fair comparison).
    tv_iterations : int
        PDHG iterations of each TV reconstruction.
    body : ndarray, optional
        Scoring mask of the CT's shape; default :func:`~hounsfield.segment.segment_body`.
    batch_slices : int
        Slices per call of ``enhancer``.
    with_sinograms : bool
        Call ``enhancer(fbp, sinograms, projector)``: the line integrals of
        the slices (n, views, columns) and the projector of one slice.
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    EnhancementEvaluation

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(2, 32, 32), spacing_mm=(20.0, 10.0, 10.0))
    >>> result = evaluate_enhancement(ct, lambda fbp: fbp, ScanSettings(n_views=20),
    ...                               tv_weight=1.0, tv_iterations=5)
    >>> means = result.summary()
    >>> means["network"]["psnr_db"] == means["fbp"]["psnr_db"]
    True
    """
    if not callable(enhancer):
        raise TypeError(f"enhancer must be callable, got {type(enhancer).__name__}")
    bench = _Bench.of(ct, settings, body, with_sinograms)
    chosen = _checked_slices(slices, ct, bench.body)
    iterations = _check_count(tv_iterations, "tv_iterations")
    batch = _check_count(batch_slices, "batch_slices")
    if tv_weight is None:
        tuning = [chosen[i] for i in _spread(len(chosen), _TUNING_SLICES)]
        tv_weight = _tuned_weight(bench, tuning, None, iterations)
    weight = _checked_weights(tv_weight, "tv_weight")[0]
    chunks = [chosen[i:i + batch] for i in range(0, len(chosen), batch)]
    rows = []
    with progress_bar(progress, len(chosen), settings.summary()) as advance:
        for chunk in chunks:
            rows += _chunk_rows(bench, chunk, enhancer, weight, iterations)
            advance(len(chunk))
    example = _example(bench, rows, enhancer, weight, iterations)
    return EnhancementEvaluation(rows, settings, weight, iterations, example)


def _spread(n: int, count: int) -> list[int]:
    """Up to ``count`` distinct indices spread evenly over range(n)."""
    return sorted(set(np.linspace(0, n - 1, min(n, count)).round().astype(int).tolist()))


def _reconstructions(bench: _Bench, chunk: list[int], enhancer: Enhancer, weight: float,
                     iterations: int) -> list[SliceImages]:
    """Reference, FBP, TV and network images of each slice of a chunk."""
    scans = [bench.scan(z) for z in chunk]
    network = bench.enhanced(enhancer, scans)
    return [SliceImages(z, scan.reference.array[0],
                         {"fbp": scan.degraded.array[0],
                          "tv": bench.tv_hu(scan, weight, iterations), "network": network[i]})
            for i, (z, scan) in enumerate(zip(chunk, scans, strict=True))]


def _chunk_rows(bench: _Bench, chunk: list[int], enhancer: Enhancer, weight: float,
                iterations: int) -> list[dict]:
    return [{"slice": item.slice_index, "method": method,
             **bench.scores(item.slice_index, item.images[method], item.reference)}
            for item in _reconstructions(bench, chunk, enhancer, weight, iterations)
            for method in METHODS]


def _example(bench: _Bench, rows: list[dict], enhancer: Enhancer, weight: float,
             iterations: int) -> SliceImages:
    """The images of the slice of median network PSNR (the lower median), reconstructed again."""
    ranked = sorted((row for row in rows if row["method"] == "network"),
                    key=lambda row: (np.nan_to_num(row["psnr_db"], nan=-np.inf), row["slice"]))
    z = ranked[(len(ranked) - 1) // 2]["slice"]
    example = _reconstructions(bench, [z], enhancer, weight, iterations)[0]
    direction = bench.ct.direction
    return SliceImages(z, axial_for_display(example.reference, direction),
                       {name: axial_for_display(image, direction)
                        for name, image in example.images.items()})
