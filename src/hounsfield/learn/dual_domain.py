"""A dual-domain network for sparse-view parallel-beam CT: sinogram and image refined in turn.

:class:`DualDomainNet` reconstructs a slice from a sparse-view sinogram in
five stages, each differentiable, so that the whole chain trains end to end
(the idea of DuDoNet, Lin et al., CVPR 2019, and of Primal-Dual U-Nets for
sparse-view CT):

1. the measured views, every ``upsampling``-th view of a full 180° parallel
   scan, are interpolated linearly to the full scan's views (the view after
   the last one is the first view mirrored on the detector, as
   ``p(θ + π, s) = p(θ, −s)``);
2. a sinogram-domain :class:`~hounsfield.learn.models.ResidualUNet` refines
   the upsampled sinogram;
3. the differentiable parallel-beam
   :class:`~hounsfield.learn.torch_ops.FilteredBackProjection` of the full
   scan reconstructs μ (1/mm) on the image grid;
4. μ becomes normalised HU: :func:`~hounsfield.learn.datasets.normalise_hu`
   of ``1000 (μ − μ_water) / (μ_water − μ_air)`` at the scan's energy (the
   map of :func:`hounsfield.simulate.physics.mu_to_hu`, in torch operations);
5. an image-domain :class:`~hounsfield.learn.models.ResidualUNet` refines
   the image.

Both U-Nets start with a zero head, so an untrained network returns the
normalised FBP of the linearly upsampled sinogram.

:class:`PairedSinograms` simulates (sparse sinogram, clean slice) pairs from
CT volumes for training it, and :meth:`PairedSinograms.network` builds the
network that matches its scans.

Importing this module needs PyTorch: ``pip install "hounsfield[learn]"``.
"""

from __future__ import annotations

import math

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError('hounsfield.learn.dual_domain needs PyTorch; install it with '
                      'pip install "hounsfield[learn]"') from error

from ..simulate import physics
from ..simulate.nict import ScanSettings, centred_grid, scan_geometry, simulate_scan
from ..tomo.geometry import Geometry
from ..tomo.grid import ImageGrid
from ..volume import Volume
from .datasets import (
    HU_WINDOW,
    PairedSlices,
    _checked_count,
    _checked_range,
    _checked_volumes,
    _checked_window,
    _is_number,
    draw_slice,
    normalise_hu,
)
from .models import ResidualUNet
from .torch_ops import FilteredBackProjection

__all__ = ["DualDomainNet", "PairedSinograms", "view_upsampling_matrix"]

#: The name that :meth:`DualDomainNet.spec` records.
SPEC_NAME = "dual-domain"


# -- view upsampling -----------------------------------------------------------------------


def view_upsampling_matrix(n_sparse: int, upsampling: int) -> np.ndarray:
    """Weights ``(n_sparse · upsampling, n_sparse + 1)`` of linear interpolation between views.

    Full view ``j`` lies between sparse views ``i = j // k`` and ``i + 1``
    (``k = upsampling``) with weights ``1 − f`` and ``f``, ``f = (j mod k) / k``.
    Column ``n_sparse`` stands for the view 180° after the first one.

    Parameters
    ----------
    n_sparse : int
        Measured views, evenly spaced over 180°.
    upsampling : int
        Full views per measured view.

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> view_upsampling_matrix(2, 2).tolist()
    [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5]]
    """
    n_sparse = _checked_count(n_sparse, "n_sparse", 1)
    upsampling = _checked_count(upsampling, "upsampling", 1)
    full = np.arange(n_sparse * upsampling)
    left, fraction = full // upsampling, (full % upsampling) / upsampling
    matrix = np.zeros((full.size, n_sparse + 1))
    matrix[full, left] = 1 - fraction
    matrix[full, left + 1] += fraction
    return matrix


# -- geometry and grid checks and serialisation --------------------------------------------


def _checked_geometry(geometry, upsampling: int) -> Geometry:
    """A 2D parallel scan of evenly spaced views over 180°, centred detector, views dividing."""
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be a hounsfield Geometry, got {type(geometry).__name__}")
    if geometry.kind != "parallel" or geometry.ndim != 2:
        raise ValueError(f"geometry must be a 2D parallel beam (DualDomainNet backpropagates "
                         f"through a parallel-beam FBP), got {geometry!r}")
    n_views = geometry.n_views
    if n_views % upsampling:
        raise ValueError(f"the full scan's {n_views} views must be a multiple of upsampling "
                         f"{upsampling} (the measured views are every {upsampling}-th view)")
    angles = geometry.angles_rad
    if angles is None or not np.allclose(np.diff(angles), np.pi / n_views, atol=1e-9):
        raise ValueError(f"geometry must have {n_views} views evenly spaced over 180°, as "
                         f"parallel_beam(n_views, n_det) gives")
    if not np.allclose(geometry.detector, 0.0, atol=1e-6 * np.linalg.norm(geometry.u[0])):
        raise ValueError("geometry's detector must be centred on the rotation axis "
                         "(no det_offset_mm): the view after 180° is the first one mirrored")
    return geometry


def _checked_grid(grid, spacing_mm) -> ImageGrid:
    if isinstance(grid, ImageGrid):
        if spacing_mm is not None:
            raise ValueError("spacing_mm comes with the ImageGrid given as grid; "
                             "do not pass it as well")
    else:
        grid = ImageGrid.of(grid, spacing_mm)
    if grid.ndim != 2:
        raise ValueError(f"grid must be a 2D image grid (ny, nx), got shape {grid.shape}")
    return grid


def _grid_to_dict(grid: ImageGrid) -> dict:
    return {"shape": [int(n) for n in grid.shape],
            "spacing_mm": [float(s) for s in grid.spacing_mm],
            "origin_mm": [float(o) for o in grid.origin_mm],
            "direction": np.asarray(grid.direction, dtype=float).tolist()}


def _grid_from_dict(data: dict) -> ImageGrid:
    return ImageGrid(tuple(data["shape"]), tuple(data["spacing_mm"]), tuple(data["origin_mm"]),
                     np.asarray(data["direction"], dtype=float))


# -- the network ---------------------------------------------------------------------------


class DualDomainNet(nn.Module):
    """Sparse-view sinogram ``(B, 1, n_sparse, n_det)`` → slice ``(B, 1, ny, nx)``, normalised HU.

    See the module docstring for the five stages. The input holds line
    integrals (μ·mm) of the measured views, every ``upsampling``-th view of
    ``geometry``; the output is in the units of
    :class:`~hounsfield.learn.datasets.PairedSlices`' ``clean`` slices.

    Sinogram scaling: the sinogram U-Net sees the line integrals divided by
    ``μ_water · detector width`` (``sinogram_scale``), the line integral of
    water across the whole detector, so that its input is dimensionless and
    about 0 to 1 whatever the pixel size and energy (a 300 mm body on a
    450 mm detector reads at most about 0.7); its output is scaled back.

    Parameters
    ----------
    geometry : Geometry
        The full scan: a 2D parallel beam with views evenly spaced over 180°
        and the detector centred (:func:`~hounsfield.tomo.parallel_beam`);
        its view count must be a multiple of ``upsampling``.
    grid : (ny, nx) or ImageGrid
        The image grid; a shape is centred on the rotation axis.
    upsampling : int
        Full views per measured view.
    spacing_mm : float or (dy, dx), optional
        Pixel size for a shape ``grid``, mm (default 1 mm).
    energy_kev : float
        Photon energy at which μ maps to HU, keV.
    hu_window : (float, float)
        HU mapped to 0 and 1 (:func:`~hounsfield.learn.datasets.normalise_hu`).
    filter : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        Window of the FBP's ramp filter.
    sinogram_channels, sinogram_depth : int
        Base channels and levels of the sinogram U-Net.
    image_channels, image_depth : int
        Base channels and levels of the image U-Net.
    batch_norm : bool
        Batch normalisation in both U-Nets.

    Notes
    -----
    Parameter counts (:func:`~hounsfield.learn.models.parameter_count`) of the
    default configuration: 117,073 in the sinogram U-Net (16 channels,
    3 levels), 1,926,433 in the image U-Net (32 channels, 4 levels), 2,043,506
    in all; upsampling, FBP and the HU map have none.

    Examples
    --------
    >>> from hounsfield.tomo import parallel_beam
    >>> net = DualDomainNet(parallel_beam(32, 24), (16, 16), upsampling=4, sinogram_channels=4,
    ...                     sinogram_depth=2, image_channels=4, image_depth=2)
    >>> tuple(net(torch.zeros(2, 1, 8, 24)).shape), net.input_kind
    ((2, 1, 16, 16), 'sinogram')
    >>> rebuilt = DualDomainNet.from_spec(net.spec())
    >>> rebuilt.spec() == net.spec()
    True
    """

    #: What the network takes: measured sinograms (not reconstructed images).
    input_kind = "sinogram"

    def __init__(self, geometry: Geometry, grid, upsampling: int = 4, *, spacing_mm=None,
                 energy_kev: float = physics.DEFAULT_ENERGY_KEV, hu_window=HU_WINDOW,
                 filter: str = "ramp", sinogram_channels: int = 16, sinogram_depth: int = 3,
                 image_channels: int = 32, image_depth: int = 4, batch_norm: bool = True):
        super().__init__()
        self.upsampling = _checked_count(upsampling, "upsampling", 1)
        self.geometry = _checked_geometry(geometry, self.upsampling)
        self.grid = _checked_grid(grid, spacing_mm)
        if not _is_number(energy_kev):
            raise ValueError(f"energy_kev must be a number of keV, got {energy_kev!r}")
        self._mu_water = float(physics.attenuation_per_mm("water", energy_kev))  # validates
        self._mu_air = float(physics.attenuation_per_mm("air", energy_kev))
        self.energy_kev = float(energy_kev)
        self.hu_window = _checked_window(hu_window)
        self.filter = filter
        self.batch_norm = batch_norm
        self.sparse_geometry = self.geometry.select_views(slice(None, None, self.upsampling))
        self.register_buffer("view_weights", torch.from_numpy(view_upsampling_matrix(
            self.sparse_geometry.n_views, self.upsampling)), persistent=False)
        detector_width_mm = self.geometry.det_shape[0] * float(np.linalg.norm(geometry.u[0]))
        self.sinogram_scale = 1.0 / (self._mu_water * detector_width_mm)
        self.sinogram_unet = ResidualUNet(
            1, _checked_count(sinogram_channels, "sinogram_channels", 1),
            _checked_count(sinogram_depth, "sinogram_depth", 1), batch_norm=batch_norm)
        self.fbp = FilteredBackProjection(self.geometry, self.grid, filter=filter)
        self.image_unet = ResidualUNet(
            1, _checked_count(image_channels, "image_channels", 1),
            _checked_count(image_depth, "image_depth", 1), batch_norm=batch_norm)

    # -- the stages ------------------------------------------------------------------------

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        self._check_input(sinogram)
        refined = self.refine_sinogram(self.upsample_views(sinogram))
        return self.image_unet(self.reconstruct(refined))

    def upsample_views(self, sinogram: torch.Tensor) -> torch.Tensor:
        """Linear interpolation ``(..., n_sparse, n_det)`` → ``(..., n_views, n_det)``."""
        half_turn = sinogram[..., :1, :].flip(-1)  # p(θ + π, s) = p(θ, −s)
        extended = torch.cat([sinogram, half_turn], dim=-2)
        return self.view_weights.to(sinogram.dtype) @ extended

    def refine_sinogram(self, sinogram: torch.Tensor) -> torch.Tensor:
        """The sinogram U-Net on a full-view sinogram ``(B, 1, n_views, n_det)``, μ·mm."""
        return self.sinogram_unet(sinogram * self.sinogram_scale) / self.sinogram_scale

    def reconstruct(self, sinogram: torch.Tensor) -> torch.Tensor:
        """FBP of a full-view sinogram ``(B, 1, n_views, n_det)`` in normalised HU."""
        mu = self.fbp(sinogram)
        hu = (mu - self._mu_water) * (1000.0 / (self._mu_water - self._mu_air))
        return normalise_hu(hu, self.hu_window)

    def _check_input(self, sinogram) -> None:
        if not torch.is_tensor(sinogram) or not sinogram.is_floating_point():
            raise TypeError(f"sinogram must be a floating-point torch tensor, got "
                            f"{type(sinogram).__name__}"
                            f"{' ' + str(sinogram.dtype) if torch.is_tensor(sinogram) else ''}")
        expected = (1, *self.sparse_geometry.projection_shape)
        if sinogram.dim() != 4 or tuple(sinogram.shape[1:]) != expected:
            raise ValueError(f"sinogram must have shape (batch, {', '.join(map(str, expected))})"
                             f" (every {self.upsampling}-th of {self.geometry.n_views} views), "
                             f"got {tuple(sinogram.shape)}")

    # -- serialisation ---------------------------------------------------------------------

    def spec(self) -> dict:
        """The constructor's arguments as JSON-serialisable data (see :meth:`from_spec`)."""
        return {"name": SPEC_NAME, "geometry": self.geometry.to_dict(),
                "grid": _grid_to_dict(self.grid), "upsampling": self.upsampling,
                "energy_kev": self.energy_kev, "hu_window": list(self.hu_window),
                "filter": self.filter,
                "sinogram_channels": self.sinogram_unet.base_channels,
                "sinogram_depth": self.sinogram_unet.depth,
                "image_channels": self.image_unet.base_channels,
                "image_depth": self.image_unet.depth,
                "batch_norm": self.batch_norm}

    @classmethod
    def from_spec(cls, spec: dict) -> DualDomainNet:
        """A new (untrained) network built from :meth:`spec`'s data; load weights separately."""
        if not isinstance(spec, dict) or spec.get("name") != SPEC_NAME:
            name = spec.get("name") if isinstance(spec, dict) else type(spec).__name__
            raise ValueError(f"spec must be a dict with name {SPEC_NAME!r}, got {name!r}")
        arguments = {key: value for key, value in spec.items() if key != "name"}
        try:
            geometry = Geometry.from_dict(arguments.pop("geometry"))
            grid = _grid_from_dict(arguments.pop("grid"))
        except (KeyError, TypeError) as error:
            raise ValueError(f"spec needs 'geometry' and 'grid' as spec() writes them "
                             f"({error!r})") from None
        return cls(geometry, grid, **arguments)

    def extra_repr(self) -> str:
        return (f"views={self.sparse_geometry.n_views}→{self.geometry.n_views}, "
                f"detector={self.geometry.det_shape[0]}, grid={tuple(self.grid.shape)}")


# -- paired sinograms ----------------------------------------------------------------------


class PairedSinograms(torch.utils.data.Dataset):
    """(sparse sinogram, clean slice) pairs of parallel-beam scans simulated from CT volumes.

    Item ``i`` draws a slice (and a dose, when ``dose`` is a range) from a
    generator seeded by ``(seed, i)``, scans that slice with
    :func:`~hounsfield.simulate.simulate_scan` (``n_views // upsampling``
    parallel views over 180°, noise-free unless ``dose`` is given) and returns

    * ``sinogram``: float32 tensor ``(1, n_sparse, n_det)``, the measured line
      integrals (μ·mm), the input of :class:`DualDomainNet`;
    * ``clean``: float32 tensor ``(1, ny, nx)``, the slice in normalised HU
      (values below −1000 HU raised to −1000), as
      :class:`~hounsfield.learn.datasets.PairedSlices` returns it.

    Items depend on nothing but ``(seed, i)`` and the volumes, in every epoch
    and DataLoader worker (start workers with ``multiprocessing_context=
    "forkserver"``, as for PairedSlices).

    Parameters
    ----------
    volumes : Volume or sequence of Volume
        Axial CTs in HU, all with the same in-plane shape and pixel size (one
        network geometry serves them all).
    n_views : int
        Views of the full scan over 180°, a multiple of ``upsampling``.
    upsampling : int
        Full views per measured view.
    dose : None, float or (float, float)
        None: noise-free; else the dose fraction (see
        :class:`~hounsfield.simulate.ScanSettings`) or a range drawn uniformly.
    seed : int
        Seed of every draw.
    length : int, optional
        Number of items; default the number of slices of all volumes.
    hu_window : (float, float)
        HU mapped to 0 and 1.
    settings : ScanSettings, optional
        The base scan, a parallel beam over the full 180° (default
        ``ScanSettings(geometry="parallel")``); views, dose and seed are set
        per item. Its reconstruction is not used (it is made by FBP).

    Examples
    --------
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(2, 16, 16), spacing_mm=(5.0, 20.0, 20.0))
    >>> pairs = PairedSinograms(ct, n_views=24, upsampling=4, seed=1)
    >>> sinogram, clean = pairs[0]
    >>> tuple(sinogram.shape), tuple(clean.shape), len(pairs)
    ((1, 6, 25), (1, 16, 16), 2)
    >>> net = pairs.network(sinogram_channels=2, sinogram_depth=1, image_channels=2,
    ...                     image_depth=1)
    >>> tuple(net(sinogram[None]).shape)
    (1, 1, 16, 16)
    """

    def __init__(self, volumes, n_views: int = 360, upsampling: int = 4, *, dose=None,
                 seed: int = 0, length: int | None = None, hu_window=HU_WINDOW,
                 settings: ScanSettings | None = None):
        self.volumes = _checked_volumes(volumes)
        self.upsampling = _checked_count(upsampling, "upsampling", 1)
        self.n_views = _checked_count(n_views, "n_views", 2 * self.upsampling)
        if self.n_views % self.upsampling:
            raise ValueError(f"n_views ({n_views}) must be a multiple of upsampling "
                             f"({upsampling}): the measured views are every "
                             f"{upsampling}-th view of the full scan")
        self.dose = None if dose is None else _checked_range(dose, "dose", False, 0, math.inf)
        if self.dose is not None and self.dose[0] == 0:
            raise ValueError(f"dose must be positive, got {dose!r}")
        self.seed = _checked_count(seed, "seed", 0)
        self._slice_counts = np.array([v.shape[0] for v in self.volumes])
        self.length = int(self._slice_counts.sum()) if length is None \
            else _checked_count(length, "length", 1)
        self.hu_window = _checked_window(hu_window)
        self.settings = _checked_settings(settings).replace(
            n_views=self.n_views // self.upsampling, method="fbp")
        self.grid = _shared_slice_grid(self.volumes)
        self.geometry = scan_geometry(self._slice(0, 0), self.settings.replace(
            n_views=self.n_views))

    _checked_index = PairedSlices._checked_index

    def __len__(self) -> int:
        return self.length

    @property
    def energy_kev(self) -> float:
        """The energy at which the scans map μ to HU (a spectrum's effective energy)."""
        if not self.settings.polychromatic:
            return self.settings.energy_kev
        spectrum = physics.tube_spectrum(self.settings.kvp, self.settings.filtration_mm_al)
        return spectrum.effective_energy_kev()

    def scan_settings(self, index: int) -> tuple[int, int, ScanSettings]:
        """(volume index, slice index, scan settings) of item ``index``, drawn from its seed."""
        rng = np.random.default_rng([self.seed, self._checked_index(index)])
        volume_index, slice_index = draw_slice(rng, self._slice_counts)
        dose = None if self.dose is None else float(rng.uniform(*self.dose))
        settings = self.settings.replace(dose_fraction=dose, seed=int(rng.integers(2**31)))
        return volume_index, slice_index, settings

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        volume_index, slice_index, settings = self.scan_settings(index)
        scan = simulate_scan(self._slice(volume_index, slice_index), settings,
                             keep_sinogram=True)
        clean = normalise_hu(scan.reference.array[0:1], self.hu_window)
        return (torch.from_numpy(np.ascontiguousarray(scan.sinogram, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)))

    def _slice(self, volume_index: int, slice_index: int) -> Volume:
        volume = self.volumes[volume_index]
        return Volume(volume.array[slice_index:slice_index + 1].astype(np.float32),
                      spacing_mm=volume.spacing_mm)

    def network(self, **options) -> DualDomainNet:
        """A :class:`DualDomainNet` for these scans (geometry, grid, energy and HU window).

        ``options`` are its further keyword arguments (filter, U-Net sizes).
        """
        return DualDomainNet(self.geometry, self.grid, self.upsampling,
                             energy_kev=self.energy_kev, hu_window=self.hu_window, **options)

    def __repr__(self) -> str:
        return (f"PairedSinograms({len(self.volumes)} volumes, views={self.n_views}"
                f"/{self.upsampling}, dose={self.dose}, seed={self.seed}, length={self.length})")


def _checked_settings(settings) -> ScanSettings:
    if settings is None:
        return ScanSettings(geometry="parallel")
    if not isinstance(settings, ScanSettings):
        raise TypeError(f"settings must be ScanSettings or None, got {type(settings).__name__}")
    if settings.geometry != "parallel" or settings.arc_deg is not None:
        raise ValueError(f"settings must describe a parallel beam over the full 180° "
                         f"(geometry='parallel', arc_deg=None), got geometry="
                         f"{settings.geometry!r}, arc_deg={settings.arc_deg!r}")
    return settings


def _shared_slice_grid(volumes: list[Volume]) -> ImageGrid:
    """The centred in-plane grid that every volume's slices share."""
    grids = [centred_grid(Volume(np.zeros((1, *v.shape[1:]), np.float32),
                                 spacing_mm=v.spacing_mm)).axial_slice() for v in volumes]
    for index, grid in enumerate(grids):
        same = grid.shape == grids[0].shape and np.allclose(grid.spacing_mm, grids[0].spacing_mm)
        if not same:
            raise ValueError(f"volumes must share their in-plane shape and pixel size (one "
                             f"network geometry): volumes[0] has {grids[0].shape} pixels of "
                             f"{tuple(map(float, grids[0].spacing_mm))} mm, volumes[{index}] "
                             f"{grid.shape} of {tuple(map(float, grid.spacing_mm))} mm")
    return grids[0]
