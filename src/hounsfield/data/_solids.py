"""Solid shapes for the anatomical phantom, in world (x, y, z) mm.

A solid answers two questions: ``bounds_mm()`` — the corners of an
axis-aligned box that holds it — and ``contains(x, y, z)`` — True at points
inside, for coordinate arrays that broadcast against each other (open grids
or flat point lists). :class:`~hounsfield.data.analytic.Ellipsoid` is a solid
too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BIG_MM = 1e6


@dataclass(frozen=True)
class EllipticCylinder:
    """Elliptic cylinder along z: centre (x, y), semi-axes along x and y, z from z_min to z_max."""

    center_xy_mm: tuple[float, float]
    semi_axes_xy_mm: tuple[float, float]
    z_range_mm: tuple[float, float] = (-_BIG_MM, _BIG_MM)

    def bounds_mm(self):
        center, half = np.asarray(self.center_xy_mm), np.asarray(self.semi_axes_xy_mm)
        lower = np.append(center - half, self.z_range_mm[0])
        upper = np.append(center + half, self.z_range_mm[1])
        return lower, upper

    def contains(self, x, y, z):
        (cx, cy), (a, b) = self.center_xy_mm, self.semi_axes_xy_mm
        in_section = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0
        return in_section & (z >= self.z_range_mm[0]) & (z <= self.z_range_mm[1])

    def shrunk(self, margin_mm: float) -> EllipticCylinder:
        """Semi-axes reduced by ``margin_mm`` (an inner layer boundary), same z range."""
        a, b = self.semi_axes_xy_mm
        return EllipticCylinder(self.center_xy_mm, (a - margin_mm, b - margin_mm), self.z_range_mm)


@dataclass(frozen=True)
class Box:
    """Axis-aligned box between two corners (x, y, z) mm."""

    lower_mm: tuple[float, float, float]
    upper_mm: tuple[float, float, float]

    def bounds_mm(self):
        return np.asarray(self.lower_mm, float), np.asarray(self.upper_mm, float)

    def contains(self, x, y, z):
        (x0, y0, z0), (x1, y1, z1) = self.lower_mm, self.upper_mm
        return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & (z >= z0) & (z <= z1)


@dataclass(frozen=True)
class Capsule:
    """Points within ``radius_mm`` of the segment from ``start_mm`` to ``end_mm``."""

    start_mm: tuple[float, float, float]
    end_mm: tuple[float, float, float]
    radius_mm: float

    def bounds_mm(self):
        ends = np.array([self.start_mm, self.end_mm], dtype=float)
        return ends.min(axis=0) - self.radius_mm, ends.max(axis=0) + self.radius_mm

    def contains(self, x, y, z):
        start = np.asarray(self.start_mm, float)
        axis = np.asarray(self.end_mm, float) - start
        offsets = (x - start[0], y - start[1], z - start[2])
        length_sq = max(float(axis @ axis), 1e-12)
        along = sum(o * a for o, a in zip(offsets, axis, strict=True)) / length_sq
        along = np.clip(along, 0.0, 1.0)
        distance_sq = sum((o - along * a) ** 2
                          for o, a in zip(offsets, axis, strict=True))
        return distance_sq <= self.radius_mm**2


@dataclass(frozen=True)
class Intersection:
    """Points inside every one of ``solids``."""

    solids: tuple

    def bounds_mm(self):
        corners = [s.bounds_mm() for s in self.solids]
        return (np.max([lo for lo, _ in corners], axis=0),
                np.min([hi for _, hi in corners], axis=0))

    def contains(self, x, y, z):
        inside = self.solids[0].contains(x, y, z)
        for solid in self.solids[1:]:
            inside = inside & solid.contains(x, y, z)
        return inside


@dataclass(frozen=True)
class Union:
    """Points inside any one of ``solids``."""

    solids: tuple

    def bounds_mm(self):
        corners = [s.bounds_mm() for s in self.solids]
        return (np.min([lo for lo, _ in corners], axis=0),
                np.max([hi for _, hi in corners], axis=0))

    def contains(self, x, y, z):
        inside = self.solids[0].contains(x, y, z)
        for solid in self.solids[1:]:
            inside = inside | solid.contains(x, y, z)
        return inside


def tube(path_mm, radius_mm: float) -> list[Capsule]:
    """A tube of constant radius along a polyline, as one capsule per segment.

    Separate capsules keep each bounding box small, which is what makes long
    curved tubes (ribs, aorta) cheap to paint.
    """
    points = [tuple(float(c) for c in p) for p in path_mm]
    return [Capsule(a, b, radius_mm) for a, b in zip(points[:-1], points[1:], strict=True)]
