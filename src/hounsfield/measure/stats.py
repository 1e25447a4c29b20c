"""Statistics of every label of a label map: volume, HU, position, surface and shape.

Definitions (every value in the units its key names):

* ``voxel_count`` and ``volume_ml``: the label's voxels, and their count ×
  the volume of one voxel (1 ml = 1000 mm³).
* ``hu_*``: the CT values of the label's voxels: mean and population standard
  deviation (ddof 0) in float64, median and percentiles as
  ``numpy.percentile`` (linear interpolation), min and max.
* ``centroid_mm``: the mean of the voxel centres; ``bbox_min_mm`` and
  ``bbox_max_mm``: the smallest and largest world coordinates of the voxel
  centres. All three are LPS world points (x, y, z) through the Volume's
  affine, so oblique scans are measured in the patient's frame.
* ``surface_area_mm2``, ``max_diameter_mm`` (the largest distance between two
  points of the surface) and ``sphericity`` (π^(1/3) (6V)^(2/3) / A with the
  voxel volume V): from the smooth surface mesh of :mod:`.shape`, computed on
  the label's box padded with background.

Geometry comes from the label map on its own grid. HU come from the CT as it
is: when the two grids differ, the labels (never the HU) are resampled onto
the CT grid by nearest neighbour, a :class:`~hounsfield.errors.HounsfieldWarning`
says so, and ``hu_voxel_count`` gives the number of CT voxels behind the HU
values (it equals ``voxel_count`` on a shared grid).

A label that is absent (in the table but without voxels) gets
``voxel_count`` 0, ``volume_ml`` 0.0 and None for every value that an empty
set does not have.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import HounsfieldWarning
from ..volume import Volume
from .shape import shape_measures

__all__ = ["label_statistics", "per_slice_statistics", "percentile_key"]


# -- input ------------------------------------------------------------------------------


def _check_volumes(ct, labels) -> None:
    for name, value in (("ct", ct), ("labels", labels)):
        if not isinstance(value, Volume):
            raise TypeError(f"{name} must be a hounsfield Volume, got {type(value).__name__}")
    if not (np.issubdtype(labels.array.dtype, np.integer) or labels.array.dtype == bool):
        raise TypeError(f"labels must hold integer ids, got dtype {labels.array.dtype}")
    if labels.array.size and labels.array.min() < 0:
        raise ValueError(f"labels must hold ids >= 0, got {labels.array.min()}")


def _table_names(labels: Volume, present) -> dict[int, str]:
    """Id → name of the table's labels and of ids present without a name ('label_<id>')."""
    names = {label.id: label.name for label in labels.labels} if labels.labels else {}
    for label_id in present:
        names.setdefault(int(label_id), f"label_{label_id}")
    return dict(sorted(names.items()))


def _selected_names(labels: Volume, names, present) -> dict[int, str]:
    """The labels to report, id → name, in id order."""
    table = _table_names(labels, present)
    if names is None:
        return table
    if isinstance(names, Mapping):
        return {int(i): str(n) for i, n in sorted(names.items())}
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names must be a sequence of label names or an id → name mapping, "
                        f"got {names!r}")
    by_name = {n: i for i, n in table.items()}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"names {unknown} are not labels of this label map; it has "
                         f"{', '.join(list(by_name)[:8])}{', ...' if len(by_name) > 8 else ''}")
    return {by_name[n]: n for n in sorted(names, key=by_name.get)}


def _checked_percentiles(percentiles) -> tuple[float, ...]:
    values = tuple(float(p) for p in np.atleast_1d(np.asarray(percentiles, dtype=float)))
    if not all(0.0 <= p <= 100.0 for p in values):
        raise ValueError(f"percentiles must lie in [0, 100], got {percentiles!r}")
    return values


def percentile_key(percentile: float) -> str:
    """Key of a HU percentile: 'hu_p05', 'hu_p95', 'hu_p2.5'.

    >>> percentile_key(5), percentile_key(97.5)
    ('hu_p05', 'hu_p97.5')
    """
    return f"hu_p{float(percentile):02g}"


def _labels_on_ct_grid(ct: Volume, labels: Volume) -> np.ndarray:
    """The label ids on the CT's grid: as they are, or resampled (nearest) with a warning."""
    if labels.same_grid(ct):
        return labels.array
    warnings.warn("the label map and the CT have different grids: HU statistics use the labels "
                  "resampled (nearest neighbour) onto the CT grid; the HU values are not "
                  "resampled, geometry is measured on the label map's own grid",
                  HounsfieldWarning, stacklevel=3)
    return labels.resample_like(ct, interpolation="nearest").array


# -- grouping voxels by label -----------------------------------------------------------------


class _Groups:
    """The voxels of each label id (flat indices, ordered by id then position)."""

    def __init__(self, array: np.ndarray):
        flat = array.ravel()
        foreground = np.flatnonzero(flat)
        order = np.argsort(flat[foreground], kind="stable")  # a radix sort for small ints
        self.shape = array.shape
        self.indices = foreground[order]
        self.counts = np.bincount(flat[foreground])
        self.starts = np.cumsum(self.counts) - self.counts

    @property
    def present(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.counts) if i > 0]

    def _span(self, label_id: int) -> slice:
        if label_id >= len(self.counts):
            return slice(0, 0)
        return slice(int(self.starts[label_id]), int(self.starts[label_id] + self.counts[label_id]))

    def of(self, label_id: int) -> np.ndarray:
        """Flat indices of the label's voxels, ascending."""
        return self.indices[self._span(label_id)]

    def voxels_of(self, label_id: int) -> np.ndarray:
        """(n, 3) int indices (z, y, x) of the label's voxels."""
        return np.stack(np.unravel_index(self.of(label_id), self.shape), axis=1)


# -- per-label values -------------------------------------------------------------------------


def _hu_values(hu: np.ndarray, indices: np.ndarray, percentiles) -> dict:
    values = hu[indices]
    keys = ["hu_median"] + [percentile_key(p) for p in percentiles]
    if values.size == 0:
        return {"hu_voxel_count": 0, "hu_mean": None, "hu_sd": None,
                **dict.fromkeys(keys), "hu_min": None, "hu_max": None}
    quantiles = np.percentile(values, [50.0, *percentiles])
    return {"hu_voxel_count": int(values.size),
            "hu_mean": float(values.mean(dtype=np.float64)),
            "hu_sd": float(values.std(dtype=np.float64)),
            **{k: float(q) for k, q in zip(keys, quantiles, strict=True)},
            "hu_min": float(values.min()), "hu_max": float(values.max())}


def _is_axis_aligned(direction: np.ndarray) -> bool:
    return bool(np.all(np.isclose(np.abs(direction), 0.0, atol=1e-9)
                       | np.isclose(np.abs(direction), 1.0, atol=1e-9)))


def _position(volume: Volume, voxel: np.ndarray) -> tuple[dict, tuple[slice, ...]]:
    """Centroid and bounding box (world mm) of voxels (n, 3), and their index box."""
    low, high = voxel.min(axis=0), voxel.max(axis=0)
    centroid = volume.index_to_world(voxel.mean(axis=0))
    if _is_axis_aligned(volume.direction):
        corners = np.stack(np.meshgrid(*zip(low, high, strict=True), indexing="ij"), -1)
        world = volume.index_to_world(corners.reshape(-1, 3))
    else:
        world = volume.index_to_world(voxel)
    box = tuple(slice(int(a), int(b) + 1) for a, b in zip(low, high, strict=True))
    return {"centroid_mm": centroid.tolist(), "bbox_min_mm": world.min(axis=0).tolist(),
            "bbox_max_mm": world.max(axis=0).tolist()}, box


def _geometry(labels: Volume, label_id: int, groups: _Groups, with_shape: bool) -> dict:
    count = int(groups.of(label_id).size)
    if count == 0:
        return {"voxel_count": 0, "volume_ml": 0.0, "centroid_mm": None, "bbox_min_mm": None,
                "bbox_max_mm": None, "surface_area_mm2": None, "max_diameter_mm": None,
                "sphericity": None}
    position, box = _position(labels, groups.voxels_of(label_id))
    shape = (shape_measures(labels.array[box] == label_id, labels.spacing_mm) if with_shape
             else dict.fromkeys(("surface_area_mm2", "max_diameter_mm", "sphericity")))
    return {"voxel_count": count, "volume_ml": count * labels.voxel_volume_ml, **position,
            "surface_area_mm2": shape["surface_area_mm2"],
            "max_diameter_mm": shape["max_diameter_mm"], "sphericity": shape["sphericity"]}


def _ordered(entry: dict) -> dict:
    """Id, size, then the HU values, then position and shape."""
    first = ("label_id", "voxel_count", "volume_ml")
    hu = [k for k in entry if k.startswith("hu_")]
    rest = [k for k in entry if k not in first and k not in hu]
    return {k: entry[k] for k in (*first, *hu, *rest)}


# -- public ----------------------------------------------------------------------------------


def label_statistics(ct: Volume, labels: Volume, *, names=None,
                     percentiles=(5, 25, 75, 95), skip_shape=()) -> dict[str, dict]:
    """Volume, HU statistics, position and shape of every label of a label map.

    See the module notes for the definitions.

    Parameters
    ----------
    ct : Volume
        CT in HU.
    labels : Volume
        Integer label ids (0 is background), on the CT's grid or any other;
        its LabelTable names the labels (ids without a name are reported as
        ``label_<id>``).
    names : sequence of str or mapping of int to str, optional
        Which labels to report: label names of the table, or an id → name
        mapping. Default: every label of the table and every id present.
    percentiles : sequence of float
        HU percentiles (0..100) to report, as ``hu_p05``, ``hu_p95``...
    skip_shape : collection of str
        Label names whose surface area, maximum diameter and sphericity are
        not computed (None): for tissues spread through the body (fat,
        muscle, the skeleton), whose surface is large, slow to mesh and
        meaningless as a shape.

    Returns
    -------
    dict
        Label name → dict with ``label_id``, ``voxel_count``, ``volume_ml``,
        ``hu_voxel_count``, ``hu_mean``, ``hu_sd``, ``hu_median``,
        ``hu_pNN``, ``hu_min``, ``hu_max``, ``centroid_mm``, ``bbox_min_mm``,
        ``bbox_max_mm`` ([x, y, z] LPS), ``surface_area_mm2``,
        ``max_diameter_mm`` and ``sphericity``; None where a label is absent.

    Warns
    -----
    HounsfieldWarning
        When the label map is resampled onto the CT's grid for the HU values.

    Examples
    --------
    >>> from hounsfield.labels import LabelTable
    >>> hu = np.arange(64, dtype=np.float32).reshape(4, 4, 4)
    >>> ids = np.zeros((4, 4, 4), np.uint8); ids[1:3, 1:3, 1:3] = 1
    >>> table = LabelTable.from_names({1: "cube", 2: "absent"})
    >>> stats = label_statistics(Volume(hu, spacing_mm=2.0),
    ...                          Volume(ids, spacing_mm=2.0, labels=table))
    >>> stats["cube"]["volume_ml"], stats["cube"]["hu_mean"], stats["cube"]["centroid_mm"]
    (0.064, 31.5, [3.0, 3.0, 3.0])
    >>> stats["absent"]["voxel_count"], stats["absent"]["hu_mean"]
    (0, None)
    """
    _check_volumes(ct, labels)
    percentiles = _checked_percentiles(percentiles)
    groups = _Groups(labels.array)
    selected = _selected_names(labels, names, groups.present)
    hu_labels = _labels_on_ct_grid(ct, labels)
    hu_groups = groups if hu_labels is labels.array else _Groups(hu_labels)
    hu = np.asarray(ct.array).ravel()
    result = {}
    for label_id, name in selected.items():
        with_shape = name not in skip_shape
        entry = {"label_id": label_id, **_geometry(labels, label_id, groups, with_shape),
                 **_hu_values(hu, hu_groups.of(label_id), percentiles)}
        result[name] = _ordered(entry)
    return result


def per_slice_statistics(ct: Volume, labels: Volume, names: Sequence[str]) -> list[dict]:
    """Area (mm²) and mean HU of labels in every slice (array axis 0) of the CT.

    Parameters
    ----------
    ct : Volume
        CT in HU; its slices are the rows of the result.
    labels : Volume
        Label ids with a LabelTable; resampled (nearest) onto the CT's grid
        with a warning when the grids differ.
    names : sequence of str
        Label names, e.g. tissue labels such as ``skeletal_muscle``.

    Returns
    -------
    list of dict
        One per slice: ``slice_index``, ``z_mm`` (world z of the slice's
        centre), and per name ``<name>_area_mm2`` (voxels in the slice × the
        in-plane voxel area) and ``<name>_hu_mean`` (None where the area is 0).

    Examples
    --------
    >>> from hounsfield.labels import LabelTable
    >>> hu = np.full((2, 3, 3), 40.0, np.float32)
    >>> ids = np.zeros((2, 3, 3), np.uint8); ids[1, :2, :] = 1
    >>> labels = Volume(ids, labels=LabelTable.from_names({1: "muscle"}))
    >>> rows = per_slice_statistics(Volume(hu), labels, ["muscle"])
    >>> rows[1]
    {'slice_index': 1, 'z_mm': 1.0, 'muscle_area_mm2': 6.0, 'muscle_hu_mean': 40.0}
    """
    _check_volumes(ct, labels)
    if isinstance(names, str):
        raise TypeError(f"names must be a sequence of label names, got the string {names!r}")
    array = _labels_on_ct_grid(ct, labels)
    selected = _selected_names(labels, list(names), ())
    lookup = np.zeros(max(int(array.max(initial=0)), *selected) + 1, np.intp)
    lookup[list(selected)] = np.arange(1, len(selected) + 1)
    pixel_mm2 = ct.spacing_mm[1] * ct.spacing_mm[2]
    centre = (np.asarray(ct.shape[1:]) - 1) / 2.0
    rows = []
    for k in range(ct.shape[0]):
        slot = lookup[array[k]].ravel()
        counts = np.bincount(slot, minlength=len(selected) + 1)
        sums = np.bincount(slot, weights=np.asarray(ct.array[k], np.float64).ravel(),
                           minlength=len(selected) + 1)
        row = {"slice_index": k, "z_mm": float(ct.index_to_world([k, *centre])[2])}
        for n, name in enumerate(selected.values(), 1):
            row[f"{name}_area_mm2"] = float(counts[n] * pixel_mm2)
            row[f"{name}_hu_mean"] = float(sums[n] / counts[n]) if counts[n] else None
        rows.append(row)
    return rows
