"""Ramp filters of filtered backprojection: the discrete ramp kernel and its apodisation windows.

The ramp is sampled in the *spatial* domain and then Fourier transformed, as
Kak & Slaney ("Principles of Computerized Tomographic Imaging", 1988, eq. 3.61)
recommend: on a detector of pitch τ,

    h[0] = 1 / (4 τ²),   h[n] = 0 for even n,   h[n] = -1 / (π n τ)² for odd n,

is the band-limited ramp |f| (cut at the Nyquist frequency 1/(2τ)) sampled at
the detector pitch. A ramp sampled in frequency (|f| on the FFT grid) has a
zero DC term that the band-limited kernel does not, and shifts the mean of
every reconstruction; the spatial kernel avoids that bias.

Curved (equiangular) detectors filter in the fan angle γ with pitch
α = τ / R (R the arc radius), using Kak & Slaney's kernel (eq. 3.113 ff.)
``h[n] (n α / sin(n α))²``, here expressed per millimetre of arc so that flat
and curved filters share units.

Projections are zero padded before the FFT, by default to at least 2·n - 1
samples for n detector columns: the circular convolution of the FFT then
equals the linear convolution with the kernel over the whole detector. The
length is the next one that scipy's FFT factors into 2, 3 and 5 (1458 for 729
columns), not the next power of two: as exact for the ramp, and faster.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["FILTERS", "filter_response", "ramp_filter", "padded_length"]

#: The apodisation windows on top of the ramp, by name.
FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann")

#: Padded samples filtered at a time: 1 MB of float32, so that the FFT's input and output
#: stay in cache and their memory is reused from chunk to chunk (fresh memory costs a page
#: fault per 4 kB, about as much as the FFT itself).
_CHUNK_SAMPLES = 1 << 18


def padded_length(n_det: int, padding: bool = True) -> int:
    """FFT length for ``n_det`` detector columns: the next fast length ≥ 2·n_det - 1, or n_det.

    >>> padded_length(729), padded_length(512), padded_length(729, padding=False)
    (1458, 1024, 729)
    """
    if not padding:
        return int(n_det)
    return scipy.fft.next_fast_len(2 * int(n_det) - 1, real=True)


def _spatial_ramp(length: int, pitch_mm: float, arc_radius_mm: float | None) -> np.ndarray:
    """The discrete ramp kernel times the pitch, τ·h[n], laid out circularly over ``length``."""
    n = np.rint(np.fft.fftfreq(length) * length)  # 0, 1, ..., -1: whole numbers as floats
    kernel = np.zeros(length)
    odd = (np.abs(n) % 2) == 1
    kernel[n == 0] = 0.25 / pitch_mm
    kernel[odd] = -1.0 / (np.pi**2 * n[odd] ** 2 * pitch_mm)
    if arc_radius_mm is not None:
        angle = n[odd] * pitch_mm / arc_radius_mm
        kernel[odd] *= (angle / np.sin(angle)) ** 2
    return kernel


def _window(name: str, nu: np.ndarray) -> np.ndarray:
    """Apodisation window at frequency ``nu`` in units of the cut-off (0 ≤ nu ≤ 1)."""
    if name == "ramp":
        return np.ones_like(nu)
    if name == "shepp-logan":
        return np.sinc(nu / 2.0)  # sin(π ν/2) / (π ν/2)
    if name == "cosine":
        return np.cos(np.pi * nu / 2.0)
    if name == "hamming":
        return 0.54 + 0.46 * np.cos(np.pi * nu)
    return 0.5 + 0.5 * np.cos(np.pi * nu)  # hann


def _check_filter(filter: str, cutoff: float) -> float:
    if filter not in FILTERS:
        raise ValueError(f"filter must be one of {', '.join(map(repr, FILTERS))}, got {filter!r}")
    cutoff = float(cutoff)
    if not 0.0 < cutoff <= 1.0:
        raise ValueError(f"cutoff must be a fraction of the Nyquist frequency in (0, 1], "
                         f"got {cutoff!r}")
    return cutoff


def filter_response(n_det: int, pitch_mm: float, filter: str = "ramp", cutoff: float = 1.0,
                    padding: bool = True, *, arc_radius_mm: float | None = None) -> np.ndarray:
    """Real frequency response of the windowed ramp on the rFFT grid of the padded detector.

    Parameters
    ----------
    n_det : int
        Detector columns.
    pitch_mm : float
        Column pitch τ in mm (arc length on a curved detector).
    filter : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        Window on top of the ramp (``"ramp"`` is Ram-Lak, no window).
    cutoff : float
        Frequency above which the response is zero, as a fraction of Nyquist.
    padding : bool
        Zero-pad to a fast FFT length ≥ 2·n_det - 1 (see :func:`padded_length`).
    arc_radius_mm : float, optional
        Radius of a curved detector's arc (its source–detector distance).

    Returns
    -------
    ndarray (padded_length // 2 + 1,)
        Response in 1/mm² · mm: multiplying the rFFT of a projection and
        inverting gives ``τ Σ_k h[n-k] p[k]`` (per mm, for p in value·mm).

    Examples
    --------
    >>> response = filter_response(64, 0.5)
    >>> round(float(response[0]), 6), round(float(response[-1]), 3)  # DC, Nyquist = 1/(2τ)
    (0.003166, 0.997)
    """
    cutoff = _check_filter(filter, cutoff)
    length = padded_length(n_det, padding)
    kernel = _spatial_ramp(length, float(pitch_mm), arc_radius_mm)
    response = scipy.fft.rfft(kernel).real
    nu = 2.0 * np.arange(response.size) / length / cutoff  # frequency / (cut-off × Nyquist)
    inside = nu <= 1.0
    response[inside] *= _window(filter, nu[inside])
    response[~inside] = 0.0
    return response


def ramp_filter(projections, pitch_mm: float, filter: str = "ramp", cutoff: float = 1.0,
                padding: bool = True, *, arc_radius_mm: float | None = None,
                workers: int | None = None) -> np.ndarray:
    """Filter projections along their last axis (detector columns) with a windowed ramp.

    Parameters
    ----------
    projections : array (..., n_det)
        Line integrals, detector columns last.
    pitch_mm, filter, cutoff, padding, arc_radius_mm
        As in :func:`filter_response`.
    workers : int, optional
        Threads for the FFT (scipy.fft's ``workers``).

    Returns
    -------
    ndarray (..., n_det), float32
        ``τ Σ_k h[n-k] p[k]`` in value / mm for projections in value·mm.

    Examples
    --------
    >>> impulse = np.zeros(9); impulse[4] = 1.0  # the kernel itself: 1/4, then -1/π²
    >>> [round(float(x), 4) for x in ramp_filter(impulse, 1.0)[3:6]]
    [-0.1013, 0.25, -0.1013]
    """
    data = np.asarray(projections, dtype=np.float32)
    n_det = data.shape[-1]
    response = filter_response(n_det, pitch_mm, filter, cutoff, padding,
                               arc_radius_mm=arc_radius_mm).astype(np.float32)
    length = padded_length(n_det, padding)
    rows = data.reshape(-1, n_det)
    out = np.empty(rows.shape, np.float32)
    per_chunk = max(1, _CHUNK_SAMPLES // length)
    # Zero padded here: scipy.fft pads a short input several times slower than the FFT takes.
    padded = np.zeros((min(rows.shape[0], per_chunk), length), np.float32)
    for start in range(0, rows.shape[0], per_chunk):
        chunk = rows[start:start + per_chunk]
        padded[:len(chunk), :n_det] = chunk
        spectrum = scipy.fft.rfft(padded[:len(chunk)], axis=-1, workers=workers)
        spectrum *= response
        out[start:start + len(chunk)] = scipy.fft.irfft(
            spectrum, n=length, axis=-1, workers=workers)[:, :n_det]
    return out.reshape(data.shape)
