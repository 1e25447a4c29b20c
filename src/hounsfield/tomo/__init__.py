"""Tomography: scan geometries, matched projectors, analytic and iterative reconstruction."""

from .geometry import Geometry, cone_beam, fan_beam, from_vectors, parallel_beam, parallel_beam_3d

__all__ = ["Geometry", "parallel_beam", "fan_beam", "cone_beam", "parallel_beam_3d",
           "from_vectors"]
