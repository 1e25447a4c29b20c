"""Shepp–Logan head phantoms (2D and 3D) as exact ellipse / ellipsoid sums.

Parameter tables, in the textbooks' normalised coordinates ([-1, 1] across
the field of view, y pointing *up* on the printed figure, angles in degrees):

* 2D classic: Shepp & Logan, "The Fourier reconstruction of a head section",
  IEEE Trans. Nucl. Sci. 21(3):21–43, 1974 (also Kak & Slaney 1988, p. 55).
  Ellipse i is centred at (0, -0.605) as in the paper (MATLAB's ``phantom``
  prints -0.606).
* 2D modified: the same ellipses with Toft's higher-contrast values
  (P. Toft, "The Radon Transform: Theory and Implementation", DTU 1996,
  p. 201), as in MATLAB's ``phantom('Modified Shepp-Logan')`` and
  scikit-image's ``shepp_logan_phantom``.
* 3D classic: the 10-ellipsoid extension printed by Kak & Slaney,
  "Principles of Computerized Tomographic Imaging", 1988, p. 102
  (rotations about z only). Others have noted that this table does not
  reproduce the 2D phantom exactly in its z = -0.25 slice; it is used as
  printed because it is the common reference.
* 3D modified: the same ellipsoids with the higher-contrast values of
  Yu, Ye & Wang, "Katsevich-type algorithms for variable radius spiral
  cone-beam CT", Proc. SPIE 5535:550–557, 2004.

hounsfield's images have y growing with the row index (an axial slice: y →
posterior), so the tables' y and angles are mirrored here: rasterized slices
look like the textbook figures (the three small ellipses at the bottom), the
face (textbook "up") is anterior, and x (patient left) points to the image's
right as in radiological display.

Values: the classic tables give attenuation relative to water — skull 2.0
(bone, about +1000 HU), brain 1.02 (+20 HU), ventricles 1.0 (0 HU), outside
0 (air, -1000 HU) — so ``HU = 1000 · (value - 1)``, and with
``mu_water_per_mm`` they become physical μ in 1/mm. The modified tables
trade that realism for display contrast.
"""

from __future__ import annotations

import math

from . import _checks
from .analytic import Ellipse, Ellipsoid, EllipsoidPhantom

__all__ = ["shepp_logan_2d", "shepp_logan_3d", "MU_WATER_PER_MM", "VARIANTS"]

#: Linear attenuation of water near 70 keV, in 1/mm (NIST XCOM μ/ρ ≈ 0.194 cm²/g,
#: interpolated log–log between 60 and 80 keV).
MU_WATER_PER_MM = 0.0194

VARIANTS = ("classic", "modified")

# (x0, y0, a, b, angle_deg) with y up, as printed; values per variant below.
_ELLIPSES_2D = (
    (0.0, 0.0, 0.69, 0.92, 0.0),
    (0.0, -0.0184, 0.6624, 0.874, 0.0),
    (0.22, 0.0, 0.11, 0.31, -18.0),
    (-0.22, 0.0, 0.16, 0.41, 18.0),
    (0.0, 0.35, 0.21, 0.25, 0.0),
    (0.0, 0.1, 0.046, 0.046, 0.0),
    (0.0, -0.1, 0.046, 0.046, 0.0),
    (-0.08, -0.605, 0.046, 0.023, 0.0),
    (0.0, -0.605, 0.023, 0.023, 0.0),
    (0.06, -0.605, 0.023, 0.046, 0.0),
)
_VALUES_2D = {
    "classic": (2.0, -0.98, -0.02, -0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01),
    "modified": (1.0, -0.8, -0.2, -0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1),
}

# (x0, y0, z0, a, b, c, phi_deg) with y up, as printed by Kak & Slaney.
_ELLIPSOIDS_3D = (
    (0.0, 0.0, 0.0, 0.69, 0.92, 0.90, 0.0),
    (0.0, 0.0, 0.0, 0.6624, 0.874, 0.88, 0.0),
    (-0.22, 0.0, -0.25, 0.41, 0.16, 0.21, 108.0),
    (0.22, 0.0, -0.25, 0.31, 0.11, 0.22, 72.0),
    (0.0, 0.35, -0.25, 0.21, 0.25, 0.50, 0.0),
    (0.0, 0.1, -0.25, 0.046, 0.046, 0.046, 0.0),
    (-0.08, -0.65, -0.25, 0.046, 0.023, 0.02, 0.0),
    (0.06, -0.65, -0.25, 0.046, 0.023, 0.02, 90.0),
    (0.06, -0.105, 0.625, 0.056, 0.04, 0.10, 90.0),
    (0.0, 0.1, 0.625, 0.056, 0.056, 0.10, 0.0),
)
_VALUES_3D = {
    "classic": (2.0, -0.98, -0.02, -0.02, 0.02, 0.02, 0.01, 0.01, 0.02, -0.02),
    "modified": (1.0, -0.8, -0.2, -0.2, 0.2, 0.2, 0.1, 0.1, 0.2, -0.2),
}


def shepp_logan_2d(variant: str = "modified", *, fov_mm: float = 2.0,
                   mu_water_per_mm: float | None = None) -> EllipsoidPhantom:
    """The 2D Shepp–Logan phantom: 10 ellipses, exact everywhere.

    Parameters
    ----------
    variant : {"modified", "classic"}
        "classic": Shepp & Logan's values, relative to water (skull 2.0,
        brain 1.02). "modified": Toft's higher-contrast values (skull 1.0,
        brain 0.2), the default of MATLAB and scikit-image.
    fov_mm : float
        Side in mm of the square that the textbook's [-1, 1]² maps to; the
        skull's semi-axes are 0.46 · fov_mm (y) and 0.345 · fov_mm (x).
        The default 2.0 keeps the textbook's numbers; 256 gives a head of
        realistic size (235 × 177 mm).
    mu_water_per_mm : float, optional
        When given, values are multiplied by it, making them μ in 1/mm (use
        :data:`MU_WATER_PER_MM` for water near 70 keV); otherwise values are
        the table's dimensionless numbers.

    Returns
    -------
    EllipsoidPhantom
        Centred on the origin, with ``fov_mm`` set.

    Examples
    --------
    >>> phantom = shepp_logan_2d("classic", fov_mm=256.0, mu_water_per_mm=MU_WATER_PER_MM)
    >>> image = phantom.rasterize((128, 128))  # (y, x), 2 mm pixels, μ in 1/mm
    >>> hu = 1000 * (image / MU_WATER_PER_MM - 1)
    >>> round(float(hu[64, 64]))  # brain
    20
    """
    _checks.one_of(variant, "variant", VARIANTS)
    half, scale = _scales(fov_mm, mu_water_per_mm)
    values = _VALUES_2D[variant]
    shapes = [Ellipse((half * x0, -half * y0), (half * a, half * b), -math.radians(angle),
                      scale * v)
              for (x0, y0, a, b, angle), v in zip(_ELLIPSES_2D, values, strict=True)]
    return EllipsoidPhantom(shapes, fov_mm=2.0 * half, name=f"shepp_logan_2d_{variant}")


def shepp_logan_3d(variant: str = "modified", *, fov_mm: float = 2.0,
                   mu_water_per_mm: float | None = None) -> EllipsoidPhantom:
    """The 3D Shepp–Logan phantom of Kak & Slaney: 10 ellipsoids, exact everywhere.

    Parameters
    ----------
    variant : {"modified", "classic"}
        "classic": Kak & Slaney's values, relative to water (skull 2.0,
        brain 1.02). "modified": Yu, Ye & Wang's higher-contrast values.
    fov_mm : float
        Side in mm of the cube that the table's [-1, 1]³ maps to.
    mu_water_per_mm : float, optional
        When given, values are multiplied by it (μ in 1/mm).

    Returns
    -------
    EllipsoidPhantom
        Centred on the origin, world axes (x, y, z) = (left, posterior,
        superior); its rasterization is a :class:`~hounsfield.volume.Volume`.

    Examples
    --------
    >>> phantom = shepp_logan_3d(fov_mm=256.0)
    >>> volume = phantom.rasterize((32, 64, 64), supersample=2)
    >>> volume.shape, volume.spacing_mm
    ((32, 64, 64), (8.0, 4.0, 4.0))
    """
    _checks.one_of(variant, "variant", VARIANTS)
    half, scale = _scales(fov_mm, mu_water_per_mm)
    values = _VALUES_3D[variant]
    shapes = [Ellipsoid((half * x0, -half * y0, half * z0), (half * a, half * b, half * c),
                        (-math.radians(phi), 0.0, 0.0), scale * v)
              for (x0, y0, z0, a, b, c, phi), v in zip(_ELLIPSOIDS_3D, values, strict=True)]
    return EllipsoidPhantom(shapes, fov_mm=2.0 * half, name=f"shepp_logan_3d_{variant}")


def _scales(fov_mm, mu_water_per_mm) -> tuple[float, float]:
    """(mm per normalised unit, value multiplier) after checking both parameters."""
    fov = _checks.float_tuple(fov_mm, "fov_mm", 1, positive=True)[0]
    if mu_water_per_mm is None:
        return fov / 2.0, 1.0
    return fov / 2.0, _checks.float_tuple(mu_water_per_mm, "mu_water_per_mm", 1, positive=True)[0]
