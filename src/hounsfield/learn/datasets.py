"""Paired (degraded, clean) CT slices for learning to enhance non-ideal CT (NICT).

:class:`PairedSlices` is a :class:`torch.utils.data.Dataset` over CT volumes
in HU. Item ``i`` draws a slice and the degradation's strength from a
generator seeded by ``(seed, i)``, scans the slab of ``slab`` neighbouring
slices around it with :func:`hounsfield.simulate.simulate_scan` (a few
slices, never the whole volume), and returns

* ``degraded``: float32 tensor ``(slab, H, W)``, the reconstructed slab, its
  slices as channels (2.5D input, the centre slice in the middle);
* ``clean``: float32 tensor ``(1, H, W)``, the centre slice of the CT itself
  (values below −1000 HU raised to −1000, as the simulation's reference).

An item depends on nothing but ``(seed, i)`` and the volumes, so it is the
same in every epoch and in whichever DataLoader worker computes it. Start
workers with ``multiprocessing_context="forkserver"`` (or ``"spawn"``): a
worker forked from a process that has already run the projectors' parallel
(OpenMP) kernels is terminated by the OpenMP runtime.

Intensities are mapped from HU by the affine map of :func:`normalise_hu`,
``(hu − low) / (high − low)`` with ``hu_window = (low, high)`` (by default
−1024 → 0 and 2048 → 1), without clipping so that :func:`denormalise_hu`
inverts it exactly.

:func:`train_validation_split` splits volumes for training and validation
without putting slices of one volume on both sides.

Importing this module needs PyTorch: ``pip install "hounsfield[learn]"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError('hounsfield.learn.datasets needs PyTorch; install it with '
                      'pip install "hounsfield[learn]"') from error

from ..simulate.nict import ScanSettings, SimulatedScan, simulate_scan
from ..volume import Volume

__all__ = ["PairedSlices", "SlicePair", "TASKS", "HU_WINDOW", "normalise_hu", "denormalise_hu",
           "train_validation_split"]

#: The degradations that :class:`PairedSlices` simulates.
TASKS = ("sparse-view", "limited-angle", "low-dose")
#: Default HU window mapped onto [0, 1] by :func:`normalise_hu`.
HU_WINDOW = (-1024.0, 2048.0)


# -- intensities ---------------------------------------------------------------------------


def _checked_window(hu_window) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in hu_window)
    except (TypeError, ValueError):
        raise ValueError(f"hu_window must be two numbers (low, high) in HU, "
                         f"got {hu_window!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise ValueError(f"hu_window must be finite with high > low, got {hu_window!r}")
    return low, high


def normalise_hu(hu, hu_window=HU_WINDOW):
    """Map HU onto network intensities: ``(hu − low) / (high − low)``, not clipped.

    Parameters
    ----------
    hu : ndarray or Tensor
        CT numbers in HU.
    hu_window : (float, float)
        HU mapped to 0 and to 1.

    Returns
    -------
    ndarray or Tensor
        Same type and shape as ``hu``.

    Examples
    --------
    >>> normalise_hu(np.array([-1024.0, 512.0, 2048.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    low, high = _checked_window(hu_window)
    return (hu - low) / (high - low)


def denormalise_hu(values, hu_window=HU_WINDOW):
    """Map network intensities back to HU: the inverse of :func:`normalise_hu`.

    >>> denormalise_hu(np.array([0.0, 0.25, 1.0])).tolist()
    [-1024.0, -256.0, 2048.0]
    """
    low, high = _checked_window(hu_window)
    return values * (high - low) + low


# -- parameters ----------------------------------------------------------------------------


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool) and math.isfinite(value)


def _checked_range(value, name: str, integer: bool, low: float, high: float) -> tuple:
    """A fixed value or an inclusive (low, high) range, as a (low, high) pair of numbers."""
    kind = "integers" if integer else "numbers"
    expected = f"a number or a (low, high) pair of {kind} in [{low:g}, {high:g}]"
    pair = (value, value) if _is_number(value) else value
    if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    good = all(_is_number(v) and low <= v <= high and (not integer or float(v).is_integer())
               for v in pair)
    if not good or pair[0] > pair[1]:
        raise ValueError(f"{name} must be {expected} with low <= high, got {value!r}")
    cast = int if integer else float
    return cast(pair[0]), cast(pair[1])


def _checked_volumes(volumes) -> list[Volume]:
    listed = [volumes] if isinstance(volumes, Volume) else volumes
    if isinstance(listed, str | bytes) or not isinstance(listed, Sequence) or not listed:
        raise ValueError(f"volumes must be a Volume or a non-empty sequence of Volumes, "
                         f"got {type(volumes).__name__}")
    for index, volume in enumerate(listed):
        if not isinstance(volume, Volume):
            raise TypeError(f"volumes[{index}] must be a Volume, got {type(volume).__name__}")
        if volume.is_label_map or not np.issubdtype(volume.array.dtype, np.floating):
            raise ValueError(f"volumes[{index}] must be a CT in HU (a float Volume), "
                             f"got a {volume.array.dtype} label map")
    return list(listed)


def _checked_count(value, name: str, minimum: int, odd: bool = False) -> int:
    valid = isinstance(value, int | np.integer) and not isinstance(value, bool) \
        and value >= minimum and (not odd or value % 2 == 1)
    if not valid:
        raise ValueError(f"{name} must be {'an odd' if odd else 'an'} integer >= {minimum}, "
                         f"got {value!r}")
    return int(value)


# -- the dataset ---------------------------------------------------------------------------


def draw_slice(rng: np.random.Generator, slice_counts: np.ndarray) -> tuple[int, int]:
    """(volume index, slice index) of one slice drawn uniformly from all volumes' slices.

    >>> draw_slice(np.random.default_rng(0), np.array([2, 3]))  # flat slice 4 of 5
    (1, 2)
    """
    flat = int(rng.integers(slice_counts.sum()))
    volume_index = int(np.searchsorted(np.cumsum(slice_counts), flat, side="right"))
    return volume_index, flat - int(slice_counts[:volume_index].sum())



@dataclass(frozen=True)
class SlicePair:
    """What item ``index`` of a :class:`PairedSlices` holds, before any simulation.

    Attributes
    ----------
    volume_index : int
        Which volume.
    slice_index : int
        The centre slice (array axis 0).
    slice_indices : tuple of int
        The slab's slices, the centre in the middle; repeated at the volume's ends.
    settings : ScanSettings
        The simulated scan, its seed included.
    """

    volume_index: int
    slice_index: int
    slice_indices: tuple[int, ...]
    settings: ScanSettings


class PairedSlices(torch.utils.data.Dataset):
    """(degraded, clean) slice pairs simulated on the fly from CT volumes (see the module).

    Parameters
    ----------
    volumes : Volume or sequence of Volume
        CTs in HU. A DataLoader batch stacks items: give volumes of one
        in-plane size, or a batch size of 1.
    task : {'sparse-view', 'limited-angle', 'low-dose'}
        The degradation: few views (``views``), a short arc (``arc_deg``) of
        the base scan's views, or few photons (``dose``) with all views.
    views : int or (int, int)
        Sparse-view: views per turn, or an inclusive range drawn uniformly.
    arc_deg : float or (float, float)
        Limited-angle: the measured arc in degrees, or a range drawn uniformly.
    dose : float or (float, float)
        Low-dose: the dose fraction (see :class:`ScanSettings`), or a range
        drawn uniformly.
    start_deg : float or (float, float)
        Angle of the scan's first view in degrees, or a range drawn
        uniformly: a range shows the network one slice with its streaks in
        many orientations.
    slab : int
        Odd number of neighbouring slices returned as input channels (1: 2D).
    seed : int
        Seed of every draw: item ``i`` comes from a generator seeded by ``(seed, i)``.
    length : int, optional
        Number of items; default the number of slices of all volumes.
    hu_window : (float, float)
        HU mapped to 0 and 1 (:func:`normalise_hu`).
    settings : ScanSettings, optional
        The base scan (geometry, filter, distances, ...); the task's parameter
        and the seed are set per item. Default: ``ScanSettings()``.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(4, 32, 32), spacing_mm=(5.0, 10.0, 10.0))
    >>> pairs = PairedSlices(ct, "sparse-view", views=(20, 40), slab=3, seed=1)
    >>> degraded, clean = pairs[0]
    >>> tuple(degraded.shape), tuple(clean.shape), len(pairs)
    ((3, 32, 32), (1, 32, 32), 4)
    >>> 20 <= pairs.pair(0).settings.n_views <= 40
    True
    """

    def __init__(self, volumes, task: str = "sparse-view", *, views=(30, 90), arc_deg=(90, 150),
                 dose=(0.05, 0.25), start_deg=0.0, slab: int = 1, seed: int = 0,
                 length: int | None = None,
                 hu_window=HU_WINDOW, settings: ScanSettings | None = None):
        self.volumes = _checked_volumes(volumes)
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.task = task
        self.views = _checked_range(views, "views", True, 2, math.inf)
        self.arc_deg = _checked_range(arc_deg, "arc_deg", False, 0, 360)
        self.dose = _checked_range(dose, "dose", False, 0, math.inf)
        self.start_deg = _checked_range(start_deg, "start_deg", False, -360, 360)
        if self.arc_deg[0] == 0 or self.dose[0] == 0:
            raise ValueError(f"arc_deg and dose must be positive, got arc_deg={arc_deg!r}, "
                             f"dose={dose!r}")
        self.slab = _checked_count(slab, "slab", 1, odd=True)
        self.seed = _checked_count(seed, "seed", 0)
        self._slice_counts = np.array([v.shape[0] for v in self.volumes])
        self.length = int(self._slice_counts.sum()) if length is None \
            else _checked_count(length, "length", 1)
        self.hu_window = _checked_window(hu_window)
        if settings is not None and not isinstance(settings, ScanSettings):
            raise TypeError(f"settings must be ScanSettings or None, got "
                            f"{type(settings).__name__}")
        self.settings = ScanSettings() if settings is None else settings
        for bound in (0, 1):  # the scan settings validate the ranges' ends
            self._scan_settings(self.views[bound], self.arc_deg[bound], self.dose[bound], 0)

    def __len__(self) -> int:
        return self.length

    def pair(self, index: int) -> SlicePair:
        """The slice and scan settings of item ``index``, drawn from ``(seed, index)``."""
        index = self._checked_index(index)
        rng = np.random.default_rng([self.seed, index])
        volume_index, slice_index = draw_slice(rng, self._slice_counts)
        views = int(rng.integers(self.views[0], self.views[1] + 1))
        arc_deg = float(rng.uniform(*self.arc_deg))
        dose = float(rng.uniform(*self.dose))
        scan_seed = int(rng.integers(2**31))
        start_deg = float(rng.uniform(*self.start_deg)) if self.start_deg[1] > self.start_deg[0] \
            else self.start_deg[0]
        half = self.slab // 2
        n_slices = int(self._slice_counts[volume_index])
        neighbours = np.clip(np.arange(slice_index - half, slice_index + half + 1), 0,
                             n_slices - 1)
        settings = self._scan_settings(views, arc_deg, dose, scan_seed)
        return SlicePair(volume_index, slice_index, tuple(int(z) for z in neighbours),
                         settings.replace(start_deg=start_deg))

    def scan(self, index: int, *, keep_sinogram: bool = False) -> SimulatedScan:
        """The simulated scan of item ``index``'s slab (its slices centred on the grid)."""
        pair = self.pair(index)
        volume = self.volumes[pair.volume_index]
        slab = Volume(volume.array[list(pair.slice_indices)].astype(np.float32),
                      spacing_mm=volume.spacing_mm)
        return simulate_scan(slab, pair.settings, keep_sinogram=keep_sinogram)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        scan = self.scan(index)
        centre = self.slab // 2
        degraded = normalise_hu(scan.degraded.array, self.hu_window)
        clean = normalise_hu(scan.reference.array[centre:centre + 1], self.hu_window)
        return (torch.from_numpy(np.ascontiguousarray(degraded, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)))

    def _checked_index(self, index) -> int:
        if not isinstance(index, int | np.integer) or isinstance(index, bool):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} is out of range for {self.length} items")
        return int(index) % self.length

    def _scan_settings(self, views: int, arc_deg: float, dose: float, seed: int) -> ScanSettings:
        change = {"sparse-view": {"n_views": views}, "limited-angle": {"arc_deg": arc_deg},
                  "low-dose": {"dose_fraction": dose}}[self.task]
        return self.settings.replace(seed=seed, **change)

    def __repr__(self) -> str:
        parameter = {"sparse-view": f"views={self.views}", "limited-angle":
                     f"arc_deg={self.arc_deg}", "low-dose": f"dose={self.dose}"}[self.task]
        return (f"PairedSlices({len(self.volumes)} volumes, {self.task!r}, {parameter}, "
                f"slab={self.slab}, seed={self.seed}, length={self.length})")


# -- splitting -----------------------------------------------------------------------------


def train_validation_split(volumes, validation_fraction: float = 0.3, *,
                           seed: int = 0) -> tuple[list[Volume], list[Volume]]:
    """Split CT volumes into training and validation volumes, never sharing a volume.

    Several volumes: a seeded shuffle puts ``round(fraction · n)`` of them
    (at least one, and at least one left for training) into validation.
    One volume: it is cut into contiguous slice ranges, the first
    ``1 − fraction`` of its slices (array order) for training and the rest
    for validation, so that no slab of neighbouring slices crosses the cut.

    Parameters
    ----------
    volumes : Volume or sequence of Volume
        CTs in HU.
    validation_fraction : float
        Share of volumes (or of slices, for one volume) in (0, 1).
    seed : int
        Seed of the shuffle of several volumes.

    Returns
    -------
    train, validation : list of Volume
        The volumes themselves (several), or two crops of the one volume.

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(10, 16, 16), spacing_mm=(5.0, 20.0, 20.0))
    >>> train, validation = train_validation_split(ct, 0.3)
    >>> train[0].shape[0], validation[0].shape[0]
    (7, 3)
    """
    volumes = _checked_volumes(volumes)
    if not (_is_number(validation_fraction) and 0 < validation_fraction < 1):
        raise ValueError(f"validation_fraction must be a number in (0, 1), "
                         f"got {validation_fraction!r}")
    seed = _checked_count(seed, "seed", 0)
    if len(volumes) == 1:
        return _split_slices(volumes[0], validation_fraction)
    n_validation = min(max(round(validation_fraction * len(volumes)), 1), len(volumes) - 1)
    order = np.random.default_rng(seed).permutation(len(volumes))
    validation = sorted(int(i) for i in order[:n_validation])
    train = [v for i, v in enumerate(volumes) if i not in validation]
    return train, [volumes[i] for i in validation]


def _split_slices(volume: Volume, validation_fraction: float) -> tuple[list, list]:
    n_slices = volume.shape[0]
    if n_slices < 2:
        raise ValueError(f"one volume splits by slices and needs at least 2, got {n_slices}")
    n_train = min(max(round((1 - validation_fraction) * n_slices), 1), n_slices - 1)
    ny, nx = volume.shape[1:]
    return ([volume.crop((0, 0, 0), (n_train, ny, nx))],
            [volume.crop((n_train, 0, 0), (n_slices, ny, nx))])
