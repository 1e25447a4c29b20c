"""Helpers shared by several test modules: running the CLI, rotations, empty oblique grids,
the adjoint test of a projector."""

from __future__ import annotations

import math

import numpy as np

from hounsfield.cli import main
from hounsfield.volume import Volume


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of one ``hounsfield`` command."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    """The only non-empty line of ``err`` (fails when there are more)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def rotation(angles_rad) -> np.ndarray:
    """Rz(a) · Ry(b) · Rx(c): a proper rotation for oblique grids."""
    a, b, c = angles_rad
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rx = np.array([[1, 0, 0], [0, math.cos(c), -math.sin(c)], [0, math.sin(c), math.cos(c)]])
    return rz @ ry @ rx


def grid_around(center_mm, size_mm, spacing_mm, direction=None) -> Volume:
    """An empty Volume (size_mm: 1 or 3 extents, array order) centred on ``center_mm``."""
    direction = np.eye(3)[:, ::-1] if direction is None else np.asarray(direction)
    sizes = np.broadcast_to(np.asarray(size_mm, dtype=float), (3,))
    shape = tuple(int(math.ceil(n / s)) for n, s in zip(sizes, spacing_mm, strict=True))
    half = (np.asarray(shape) - 1) / 2.0 * np.asarray(spacing_mm)
    origin = np.asarray(center_mm) - direction @ half
    return Volume(np.zeros(shape, np.uint8), spacing_mm=spacing_mm, origin_mm=origin,
                  direction=direction)


def assert_adjoint(projector, seed: int = 0, rtol: float = 1e-4) -> None:
    """⟨A x, y⟩ = ⟨x, Aᵀ y⟩ for random float32 x and y, to ``rtol`` of ⟨A x, y⟩."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(projector.domain_shape).astype(np.float32)
    y = rng.standard_normal(projector.range_shape).astype(np.float32)
    forward = np.vdot(projector.forward(x).astype(float), y.astype(float))
    adjoint = np.vdot(x.astype(float), projector.adjoint(y).astype(float))
    assert abs(forward - adjoint) <= rtol * abs(forward)
