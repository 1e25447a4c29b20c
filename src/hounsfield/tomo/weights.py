"""Projection weights of FBP and FDK: redundancy (full and short scans), cosine, per view.

With R the source–axis distance, D the source–detector distance along the
central ray, Δβ_i the angular step of view i and w(β, γ) the redundancy
weight, the reconstructions computed here are (Kak & Slaney 1988, ch. 3;
Feldkamp, Davis & Kress 1984)

* parallel beam: ``f(x) = Σ_i Δθ_i · Q_i(s(x))``,
  ``Q_i = τ h ⊛ (w · p_i)``;
* flat fan / cone beam: ``f(x) = Σ_i Δβ_i · R D / d(x)² · Q_i(a(x), b(x))``,
  ``Q_i = τ h ⊛_rows (w · D / sqrt(D² + a² + b²) · p_i)``, with ``d(x)`` the
  depth of x along the central ray and (a, b) detector mm from the central
  ray's foot (b = 0 for fan beams);
* curved (cylindrical) fan / cone beam: ``f(x) = Σ_i Δβ_i · R D / L(x)² · Q_i``,
  ``Q_i = τ h_arc ⊛_rows (w · cos γ · D / sqrt(D² + b²) · p_i)``, with ``L(x)``
  the in-plane source–point distance and ``h_arc`` the arc-length kernel of
  :mod:`.filters`.

``τ h ⊛`` is the discrete ramp convolution of :func:`.filters.ramp_filter`.
The redundancy weight w is 1 for a parallel half turn, 1/2 for full turns
(each line is measured twice), Parker's weights for short scans, and Wang's
weights for full turns of an offset ("half-fan") detector, whose rays on the
long side are measured once only. In every case the weights of a ray and of
its conjugate sum to one.
"""

from __future__ import annotations

import numpy as np

from ._fbp_geometry import CircularScan

__all__ = ["parker_weights", "offset_detector_weights", "redundancy_weights", "cosine_weights",
           "view_scales"]

#: Angular tolerance (rad) of "a full turn", "a half turn" and "enough for a short scan".
ARC_TOLERANCE_RAD = 1e-5


def parker_weights(beta_rad, gamma_rad, arc_rad: float) -> np.ndarray:
    """Parker's short-scan weights for views at ``beta_rad`` over an arc of ``arc_rad``.

    Parker, "Optimal short scan convolution reconstruction for fanbeam CT",
    Med. Phys. 9(2):254–257, 1982, with the half fan angle δ replaced by
    ``(arc - π) / 2`` so that arcs longer than π + 2δ ("overscan") are
    weighted smoothly too. The weights of each pair of conjugate rays,
    (β, γ) and (β + π + 2γ, -γ), sum to one.

    Parameters
    ----------
    beta_rad : array
        View angles from the start of the arc, 0 ≤ β ≤ arc, in the sense of rotation.
    gamma_rad : array
        Fan angles of the rays (broadcast against ``beta_rad``); 0 for parallel beams.
        Conjugate rays are at β + π + 2γ.
    arc_rad : float
        Length of the arc, at least π + 2·max|γ|.

    Examples
    --------
    >>> beta = np.array([0.0, 0.2, np.pi, np.pi + 0.4])
    >>> parker_weights(beta, 0.0, np.pi + 0.4).round(3).tolist()  # ramp up, 1, ramp down
    [0.0, 0.5, 1.0, 0.0]
    """
    beta = np.asarray(beta_rad, dtype=float)
    gamma = np.asarray(gamma_rad, dtype=float)
    beta, gamma = np.broadcast_arrays(beta, gamma)
    delta = (float(arc_rad) - np.pi) / 2.0
    rising = beta < 2 * delta - 2 * gamma
    falling = beta > np.pi - 2 * gamma
    weights = np.ones(beta.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.sin(np.pi / 4 * beta / (delta - gamma)) ** 2
        down = np.sin(np.pi / 4 * (np.pi + 2 * delta - beta) / (delta + gamma)) ** 2
    weights = np.where(rising, up, weights)
    weights = np.where(falling, down, weights)
    outside = (beta < 0) | (beta > np.pi + 2 * delta)
    return np.where(outside, 0.0, weights)


def offset_detector_weights(gamma_rad, short_edge_rad: float) -> np.ndarray:
    """Wang's redundancy weights of a full turn with an offset ("half-fan") detector.

    G. Wang, "X-ray micro-CT with a displaced detector array", Med. Phys.
    29(8):1634–1636, 2002. The detector reaches from the fan angle
    ``short_edge_rad`` on its short side, just past the central ray, to far
    out on the other side. Rays with |γ| ≤ |short_edge_rad| are measured
    twice per turn (their conjugates, at -γ, are on the detector too) and
    share the weight smoothly,
    ``w(γ) = sin²(π/4 · (1 - γ / short_edge_rad)) = (1 - sin(π/2 · γ / short_edge_rad)) / 2``;
    rays beyond, on the long side, are measured once and weigh 1. So
    ``w(γ) + w(-γ) = 1``: these weights replace the 1/2 of a centred
    detector's full turn (Wang's 0…2 weights times that 1/2).

    Parameters
    ----------
    gamma_rad : array
        Fan angles of the rays, in the sense of rotation.
    short_edge_rad : float
        Fan angle of the short side's outermost column (non-zero; its sign
        tells the short side). The weight is 0 there.

    Examples
    --------
    >>> gamma = np.array([-0.1, -0.05, 0.0, 0.05, 0.1, 0.3])
    >>> offset_detector_weights(gamma, -0.1).round(3).tolist()
    [0.0, 0.146, 0.5, 0.854, 1.0, 1.0]
    """
    edge = float(short_edge_rad)
    if not np.isfinite(edge) or edge == 0.0:
        raise ValueError(f"short_edge_rad must be a finite non-zero fan angle, got {edge!r}")
    ratio = np.clip(np.asarray(gamma_rad, dtype=float) / edge, -1.0, 1.0)
    return np.sin(np.pi / 4 * (1.0 - ratio)) ** 2


def redundancy_weights(scan: CircularScan, short_scan: bool | None = None) -> np.ndarray:
    """Weight (views, cols) of every ray for the number of times its line was measured.

    Parameters
    ----------
    scan : CircularScan
    short_scan : bool, optional
        None: decide from the arc (Parker weights below 360°). True: Parker
        weights whatever the arc. False: insist on a full turn (or, for
        parallel beams, a half turn).

    Returns
    -------
    ndarray (views, cols)
        1/2 for a full turn of a centred detector, Wang's weights
        (:func:`offset_detector_weights`) for a full turn of an offset one
        (``scan.short_edge_rad`` set), Parker's for short scans, 1 for a
        parallel half turn.

    Raises
    ------
    ValueError
        When the views span more than 360°, or less than 180° plus the full
        fan angle, or ``short_scan=False`` with a partial arc, or an offset
        detector is given less than a full turn (or ``short_scan=True``).
    """
    arc, n_views = scan.arc_rad, len(scan.angles_rad)
    degrees = np.rad2deg(arc)
    if arc > 2 * np.pi + ARC_TOLERANCE_RAD:
        raise ValueError(f"views span {degrees:.6g}°, more than 360°; drop the overscan views")
    minimum = np.pi + 2 * scan.half_fan_rad
    full_turn = arc >= 2 * np.pi - ARC_TOLERANCE_RAD
    if scan.short_edge_rad is not None:
        if not full_turn or short_scan:
            raise ValueError(f"an offset (half-fan) detector needs a full turn of views and "
                             f"short_scan=None or False, got an arc of {degrees:.6g}° and "
                             f"short_scan={short_scan!r}")
        return offset_detector_weights(scan.fan_angles_rad, scan.short_edge_rad)
    half_turn = scan.beam == "parallel" and abs(arc - np.pi) <= ARC_TOLERANCE_RAD
    shape = scan.fan_angles_rad.shape
    if short_scan is False and not (full_turn or half_turn):
        raise ValueError(f"short_scan=False needs a full turn of views, got an arc of "
                         f"{degrees:.6g}° (pass short_scan=None for Parker weights)")
    if half_turn:
        return np.ones(shape)
    if full_turn and not short_scan:
        return np.full(shape, 0.5)
    if arc < minimum - ARC_TOLERANCE_RAD:
        raise ValueError(f"a short scan must span at least 180° plus the full fan angle "
                         f"({np.rad2deg(minimum):.6g}°), got {degrees:.6g}°")
    step = arc / n_views
    beta = scan.angles_rad - scan.angles_rad[0] + step / 2  # each view at its interval's centre
    return parker_weights(beta[:, None], scan.fan_angles_rad, max(arc, minimum))


def cosine_weights(scan: CircularScan, views: slice = slice(None)) -> np.ndarray:
    """Cosine pre-weights of the given views: (views, cols) for fan, (views, rows, cols) for cone.

    Flat detectors: ``D / sqrt(D² + a² + b²)``; curved ones:
    ``cos γ · D / sqrt(D² + b²)``; parallel beams: ones.
    """
    if scan.beam == "parallel":
        return np.ones(scan.fan_angles_rad[views].shape)
    distance = scan.detector_distance_mm[views][:, None]
    column = scan.column_mm[views]
    if scan.beam == "fan":
        if scan.curved:
            return np.cos(column)
        return distance / np.hypot(distance, column)
    distance = distance[:, :, None]
    row = scan.row_mm[views][:, :, None]
    column = column[:, None, :]
    if scan.curved:
        return np.cos(column) * distance / np.hypot(distance, row)
    return distance / np.sqrt(distance**2 + column**2 + row**2)


def view_scales(scan: CircularScan) -> np.ndarray:
    """Per-view factor of the filtered projections: Δβ, times R·D for fan and cone beams."""
    if scan.beam == "parallel":
        return scan.steps_rad.copy()
    return scan.steps_rad * scan.source_radius_mm * scan.detector_distance_mm
