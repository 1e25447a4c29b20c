"""Airway (tubular tree) metrics with the conventions of the ATM'22 challenge.

Sources: EndoluminalSurgicalVision-IMR/ATM-22-Related-Work,
evaluation/evaluation_atm_22.py (TD, BD, DSC, precision) and
evaluation/tree_parse.py (branch parsing); the organisers' evaluation in
ATM22-Challenge-Top5-Solution/team_yanglab/utils/airway_metric.py (largest
component, 80 % rule).

* **Largest component.** ATM evaluates only the largest connected component
  of the prediction, found with ``skimage.measure.label(connectivity=1)``:
  6-connectivity in 3D, the default here (``connectivity=``). Ties in size go
  to the lowest label. The reference is used as given.
* **Centreline.** The reference skeleton is ``skimage.morphology.skeletonize``
  of the reference (Lee's 3D thinning, ATM's ``skeletonize_3d``), computed in
  voxel space: anisotropic spacing does not change it. (Recent scikit-image
  returns a bool skeleton, on which ATM's neighbour count saturates and finds
  no junction; here the count is taken on integers, as with the uint8
  skeleton ATM's code was written for.)
* **Tree length detected (TD)** = reference skeleton voxels inside the
  prediction / reference skeleton voxels.
* **Branches** (:func:`branches`, :func:`parse_airway`; ATM's
  ``skeleton_parsing`` and ``tree_parsing_func``): skeleton voxels with 3 or
  more skeleton neighbours (26-connectivity) are junctions; removing them
  splits the skeleton into 26-connected pieces, and pieces of fewer than 5
  voxels are dropped. Every reference voxel takes the label of the nearest
  kept skeleton voxel (Euclidean, voxel units, ``scipy.ndimage`` EDT as in
  ATM), so junctions and dropped pieces count towards their nearest branch.
  The neighbour count uses ``scipy.ndimage.convolve``'s mirroring border, as
  ATM does, so a skeleton end on the array's border counts as a junction.
* **Refinement** (``refine_branches=True``; the main loop of ATM's
  tree_parse.py, whose parse files Zheng's evaluation.py reads): face-adjacent
  regions are neighbours; a breadth-first walk from the largest region (the
  trachea) assigns parents; parents of a region with several are fused and a
  region with a single child absorbs it, until nothing changes. So a branch
  split only by a dropped side spur is one branch again. The organisers'
  ``get_parsing`` in ATM22-Challenge-Top5-Solution/team_yanglab skips this
  step (``refine_branches=False``).
* **Branches detected (BD)** = branches with at least 80 % of their skeleton
  voxels inside the prediction (``>=``, as ATM) / branches.
* **Precision** = |P ∩ R| / |P| and **Dice** = 2|P ∩ R| / (|P| + |R|), on the
  (largest-component) prediction P. ATM adds 1e-5 to numerator and
  denominator and reports percentages rounded to 2 or 3 decimals; here the
  values are exact fractions in [0, 1].
* **Lengths**: ``reference_length_mm`` and ``detected_length_mm`` are the
  lengths of the minimum spanning tree joining 26-adjacent skeleton voxels
  (all of them, and those inside the prediction), edges weighted by their
  length in mm -- EXACT'09-style absolute tree length, not an ATM metric.

Empty cases: TD is NaN when the reference skeleton is empty, BD when there
is no branch, precision when the prediction is empty, Dice when both are.
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

__all__ = ["branches", "centreline", "keep_largest_component", "parse_airway",
           "tree_metrics"]

# One offset of each ± pair of the 26-neighbourhood: every adjacent pair is seen once.
_HALF_NEIGHBOURHOOD = np.array(
    [offset for offset in itertools.product((-1, 0, 1), repeat=3) if offset > (0, 0, 0)])


def _as_3d_mask(mask, name: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 3:
        raise ValueError(f"{name} must be a 3D array (z, y, x), got shape {array.shape}")
    return array != 0


def _spacing(spacing_mm) -> np.ndarray:
    if spacing_mm is None:
        return np.ones(3)
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be 3 positive finite numbers (z, y, x) mm, "
                         f"got {spacing_mm!r}")
    return spacing


def centreline(mask) -> np.ndarray:
    """The skeleton of a 3D binary mask (``skimage.morphology.skeletonize``), as bool.

    Examples
    --------
    >>> tube = np.zeros((5, 5, 12), bool); tube[1:4, 1:4, 1:11] = True
    >>> int(centreline(tube).sum()) < int(tube.sum())
    True
    """
    from skimage.morphology import skeletonize

    mask = _as_3d_mask(mask, "mask")
    skeleton = np.zeros(mask.shape, dtype=bool)
    if mask.any():  # thinning is local: the padded bounding box gives the same skeleton
        box = _padded_box(mask)
        skeleton[box] = skeletonize(mask[box])
    return skeleton


def keep_largest_component(mask, connectivity: int = 6) -> np.ndarray:
    """The largest connected component of a 3D mask (lowest label on ties).

    Parameters
    ----------
    mask : ndarray, 3D
    connectivity : {6, 18, 26}
        ATM'22 used 6.

    Examples
    --------
    >>> mask = np.zeros((1, 1, 7), bool); mask[0, 0, [0, 1, 2, 5]] = True
    >>> keep_largest_component(mask).nonzero()[2].tolist()
    [0, 1, 2]
    """
    import cc3d

    mask = _as_3d_mask(mask, "mask")
    if connectivity not in (6, 18, 26):
        raise ValueError(f"connectivity must be one of (6, 18, 26), got {connectivity!r}")
    labels, n = cc3d.connected_components(mask, connectivity=connectivity, return_N=True)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    return labels == 1 + int(np.argmax(sizes))


# -- branch parsing (ATM's tree_parse.py) ------------------------------------------------------

_CUBE = np.ones((3, 3, 3), dtype=np.uint8)


def _padded_box(mask: np.ndarray) -> tuple[slice, ...]:
    """Bounding box of a non-empty mask grown by one voxel (within the array)."""
    nonzero = np.nonzero(mask)
    return tuple(slice(max(int(ax.min()) - 1, 0), min(int(ax.max()) + 2, size))
                 for ax, size in zip(nonzero, mask.shape, strict=True))


def _skeleton_pieces(skeleton: np.ndarray, min_voxels: int) -> tuple[np.ndarray, int]:
    """Pieces between junctions, 26-connected, the short ones dropped (ATM's skeleton_parsing)."""
    from scipy import ndimage

    # The 3x3x3 sum counts the voxel itself: > 3 means 3 or more neighbours. ndimage's
    # default 'reflect' border is ATM's too.
    around = ndimage.convolve(skeleton.astype(np.uint8), _CUBE)
    pieces, _ = ndimage.label(skeleton & (around <= 3), structure=_CUBE)
    sizes = np.bincount(pieces.ravel())
    too_short = sizes < min_voxels
    too_short[0] = True
    return ndimage.label(~too_short[pieces], structure=_CUBE)


def _nearest_piece(pieces: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """At each target voxel, the label of the nearest piece voxel (Euclidean, voxel units)."""
    from scipy import ndimage

    if not pieces.any():
        return np.zeros(pieces.shape, dtype=np.int32)
    nearest = ndimage.distance_transform_edt(pieces == 0, return_distances=False,
                                             return_indices=True)
    return np.where(targets, pieces[tuple(nearest)], 0).astype(np.int32)


def _face_adjacency(parse: np.ndarray, n: int) -> np.ndarray:
    """(n, n) bool: regions 1..n with face-adjacent voxels (ATM's 6-neighbour dilation)."""
    adjacency = np.zeros((n + 1, n + 1), dtype=bool)
    for axis in range(parse.ndim):
        lower = np.moveaxis(parse, axis, 0)[:-1]
        upper = np.moveaxis(parse, axis, 0)[1:]
        touch = (lower != upper) & (lower > 0) & (upper > 0) & (lower <= n) & (upper <= n)
        adjacency[lower[touch], upper[touch]] = True
    adjacency |= adjacency.T
    return adjacency[1:, 1:]


def _family(adjacency: np.ndarray, root: int) -> tuple[np.ndarray, np.ndarray]:
    """Parent and child matrices from a breadth-first walk from the root (ATM's order)."""
    n = len(adjacency)
    parents = np.zeros((n, n), dtype=bool)
    generation = np.zeros(n, dtype=int)
    parents[root, root] = True
    frontier = [root]
    while frontier:
        current, frontier = frontier, []
        while current:
            region = current.pop()
            for child in np.flatnonzero(adjacency[region]):
                if not parents[child].any():
                    parents[child, region] = True
                    generation[child] = generation[region] + 1
                    frontier.append(child)
                elif generation[region] + 1 == generation[child]:
                    parents[child, region] = True
    children = parents.T.copy()
    children[root, root] = False
    return parents, children


def _merge_plan(parents: np.ndarray, children: np.ndarray) -> tuple[list, list]:
    """ATM's refinement: fuse the parents of a child; fold an only child into its parent."""
    moves, removed = [], []
    for region in np.flatnonzero(parents.sum(axis=1) > 1):
        first, *others = np.flatnonzero(parents[region]).tolist()
        for other in others:
            moves.append((other, first))
            if other not in removed:
                removed.append(other)
    for region in np.flatnonzero(children.sum(axis=1) == 1).tolist():
        child = int(np.flatnonzero(children[region])[0])
        if region not in removed and child not in removed:
            moves.append((child, region))
            removed.append(child)
    return moves, removed


def _refine(parse: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Repeat ATM's refinement until no region has two parents or a single child."""
    while n > 0:
        volumes = np.bincount(parse.ravel(), minlength=n + 1)[1:n + 1]
        root = int(np.flatnonzero(volumes == volumes.max())[-1])
        moves, removed = _merge_plan(*_family(_face_adjacency(parse, n), root))
        if not moves:
            break
        relabel = np.arange(parse.max() + 1)
        for _ in range(2):  # ATM relabels twice (whether_refinement, then tree_refinement)
            for source, target in moves:
                relabel[relabel == source + 1] = target + 1
        for region in range(n):
            if region not in removed:
                shift = sum(r < region for r in removed)
                relabel[relabel == region + 1] = region + 1 - shift
        parse = relabel[parse].astype(np.int32)
        n -= len(removed)
    return parse, n


def branches(skeleton, *, min_voxels: int = 5) -> tuple[np.ndarray, int]:
    """Split a 3D skeleton into branches at its junctions (ATM's skeleton parsing).

    Skeleton voxels with 3 or more skeleton neighbours (26-connectivity) are
    junctions; the rest falls into 26-connected pieces, and pieces of fewer
    than ``min_voxels`` voxels are dropped. Every skeleton voxel then takes
    the label of the nearest kept piece, so junctions and dropped pieces
    count towards their nearest branch. No refinement: a short side piece
    leaves the branch it sits on split in two (see :func:`parse_airway`).

    Parameters
    ----------
    skeleton : ndarray, 3D
        Centreline voxels (non-zero), e.g. from :func:`centreline`.
    min_voxels : int
        Shortest piece that is a branch (ATM: 5).

    Returns
    -------
    labels : ndarray of int32, same shape
        0 off the skeleton, 1..n on it.
    n : int
        Number of branches (0 when no piece is long enough).

    Examples
    --------
    A Y of one-voxel lines: a trunk of 7 voxels and two arms of 6.

    >>> y = np.zeros((3, 14, 15), bool)
    >>> y[1, 0:7, 7] = True
    >>> for i in range(1, 7):
    ...     y[1, 6 + i, 7 - i] = y[1, 6 + i, 7 + i] = True
    >>> labels, n = branches(y)
    >>> n, sorted(np.bincount(labels[y]).tolist()[1:])
    (3, [6, 6, 7])
    """
    skeleton = _as_3d_mask(skeleton, "skeleton")
    _check_min_voxels(min_voxels)
    labels = np.zeros(skeleton.shape, dtype=np.int32)
    if not skeleton.any():
        return labels, 0
    box = _padded_box(skeleton)
    pieces, n = _skeleton_pieces(skeleton[box], min_voxels)
    labels[box] = _nearest_piece(pieces, skeleton[box])
    return labels, int(n)


def parse_airway(airway, skeleton=None, *, min_voxels: int = 5,
                 refine: bool = True) -> tuple[np.ndarray, int]:
    """Label every airway voxel with its branch, as ATM'22's tree_parse.py does.

    The skeleton is split as in :func:`branches`; every airway voxel takes
    the label of the nearest kept piece. With ``refine`` (ATM's
    evaluation/tree_parse.py, whose parse files Zheng's evaluation.py reads),
    the regions are then organised into a tree: regions sharing a face are
    adjacent; a breadth-first walk from the largest region (the trachea)
    gives each region its parents; the parents of a region with several are
    fused, a region with a single child absorbs it, and this repeats until
    nothing changes. ``refine=False`` is the organisers' ``get_parsing`` in
    ATM22-Challenge-Top5-Solution/team_yanglab, which stops before it.

    Parameters
    ----------
    airway : ndarray, 3D
        Binary airway mask.
    skeleton : ndarray, 3D, optional
        Its centreline; default :func:`centreline` of the airway.
    min_voxels : int
        Shortest skeleton piece that is a branch (ATM: 5).
    refine : bool
        Apply ATM's refinement.

    Returns
    -------
    labels : ndarray of int32
        0 outside the airway, 1..n inside.
    n : int
        Number of branches.

    Examples
    --------
    A Y of one-voxel lines whose trunk carries a two-voxel spur: the spur is
    dropped but splits the trunk in two, until the refinement joins them.

    >>> y = np.zeros((3, 26, 21), bool)
    >>> y[1, 1:17, 10] = True
    >>> for i in range(1, 9):
    ...     y[1, 16 + i, 10 - i] = y[1, 16 + i, 10 + i] = True
    >>> y[1, 8, 11:13] = True
    >>> branches(y)[1], parse_airway(y, y, refine=False)[1], parse_airway(y, y)[1]
    (4, 4, 3)
    """
    airway = _as_3d_mask(airway, "airway")
    skeleton = centreline(airway) if skeleton is None else _as_3d_mask(skeleton, "skeleton")
    if skeleton.shape != airway.shape:
        raise ValueError(f"skeleton must have the airway's shape {airway.shape}, "
                         f"got {skeleton.shape}")
    _check_min_voxels(min_voxels)
    labels = np.zeros(airway.shape, dtype=np.int32)
    if not skeleton.any():
        return labels, 0
    box = _padded_box(airway | skeleton)
    pieces, n = _skeleton_pieces(skeleton[box], min_voxels)
    parse = _nearest_piece(pieces, airway[box])
    if refine:
        parse, n = _refine(parse, int(n))
    labels[box] = parse
    return labels, int(n)


def _check_min_voxels(min_voxels) -> None:
    if not (isinstance(min_voxels, numbers.Integral) and min_voxels >= 1):
        raise ValueError(f"min_voxels must be an integer >= 1, got {min_voxels!r}")


def _adjacent_pairs(coords: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of 26-adjacent voxels among ``coords`` (C-ordered), each pair once."""
    linear = np.ravel_multi_index(coords.T, shape)
    first, second = [], []
    for offset in _HALF_NEIGHBOURHOOD:
        neighbour = coords + offset
        inside = np.all((neighbour >= 0) & (neighbour < shape), axis=1)
        target = np.ravel_multi_index(neighbour[inside].T, shape)
        position = np.minimum(np.searchsorted(linear, target), len(linear) - 1)
        found = linear[position] == target
        first.append(np.flatnonzero(inside)[found])
        second.append(position[found])
    return np.concatenate(first), np.concatenate(second)


def _length_mm(skeleton: np.ndarray, spacing: np.ndarray) -> float:
    """Length of the minimum spanning tree of 26-adjacent skeleton voxels, in mm."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    coords = np.argwhere(skeleton)
    if len(coords) < 2:
        return 0.0
    first, second = _adjacent_pairs(coords, skeleton.shape)
    step_mm = np.linalg.norm((coords[second] - coords[first]) * spacing, axis=1)
    graph = coo_matrix((step_mm, (first, second)), shape=(len(coords),) * 2)
    return float(minimum_spanning_tree(graph).sum())


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def _check_fraction(value, name: str) -> float:
    if not (isinstance(value, numbers.Real) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def tree_metrics(prediction, reference, spacing_mm=None, *, largest_component: bool = True,
                 connectivity: int = 6, reference_skeleton=None, min_branch_voxels: int = 5,
                 refine_branches: bool = True, detected_fraction: float = 0.8) -> dict:
    """ATM'22 tree metrics of a predicted airway against the reference.

    Conventions are those of the module docstring.

    Parameters
    ----------
    prediction, reference : ndarray, 3D, same shape
        Binary masks, indexed (z, y, x).
    spacing_mm : 3 floats, optional
        Voxel size (z, y, x) in mm, for the lengths only; default 1 mm.
    largest_component : bool
        Keep only the prediction's largest connected component first (ATM).
    connectivity : {6, 18, 26}
        Connectivity of that component (ATM: 6).
    reference_skeleton : ndarray, 3D, optional
        A precomputed reference centreline; default ``centreline(reference)``.
    min_branch_voxels : int
        Shortest piece of skeleton that counts as a branch (ATM: 5).
    refine_branches : bool
        Apply ATM's tree refinement to the branches (see :func:`parse_airway`).
    detected_fraction : float in [0, 1]
        Share of a branch's skeleton voxels that must be predicted (ATM: 0.8, ``>=``).

    Returns
    -------
    dict
        ``tree_length_detected``, ``branches_detected`` (fractions in [0, 1]),
        ``n_branches``, ``n_branches_detected``, ``precision``, ``dice``,
        ``reference_length_mm``, ``detected_length_mm``.

    Examples
    --------
    >>> reference = np.zeros((5, 5, 20), bool); reference[1:4, 1:4, 1:19] = True
    >>> prediction = reference.copy(); prediction[:, :, 12:] = False
    >>> result = tree_metrics(prediction, reference)
    >>> result["n_branches"], result["branches_detected"], result["precision"]
    (1, 0.0, 1.0)
    """
    prediction = _as_3d_mask(prediction, "prediction")
    reference = _as_3d_mask(reference, "reference")
    if prediction.shape != reference.shape:
        raise ValueError(f"prediction must have the reference's shape {reference.shape}, "
                         f"got {prediction.shape}")
    spacing = _spacing(spacing_mm)
    threshold = _check_fraction(detected_fraction, "detected_fraction")
    if largest_component:
        prediction = keep_largest_component(prediction, connectivity)
    if reference_skeleton is None:
        skeleton = centreline(reference)
    else:
        skeleton = _as_3d_mask(reference_skeleton, "reference_skeleton")
        if skeleton.shape != reference.shape:
            raise ValueError(f"reference_skeleton must have the reference's shape "
                             f"{reference.shape}, got {skeleton.shape}")
    labels, n_branches = parse_airway(reference, skeleton, min_voxels=min_branch_voxels,
                                      refine=refine_branches)

    on_skeleton = labels[skeleton]
    hit = prediction[skeleton]
    per_branch = np.bincount(on_skeleton, minlength=n_branches + 1)[1:]
    per_branch_hit = np.bincount(on_skeleton[hit], minlength=n_branches + 1)[1:]
    # A ratio compared with the threshold, as ATM does: 12 / 15 >= 0.8 holds exactly.
    ratio = per_branch_hit / np.maximum(per_branch, 1)
    n_detected = int(np.count_nonzero((per_branch > 0) & (ratio >= threshold)))
    overlap = int(np.count_nonzero(prediction & reference))
    n_pred, n_ref = int(prediction.sum()), int(reference.sum())
    return {
        "tree_length_detected": _ratio(int(hit.sum()), hit.size),
        "branches_detected": _ratio(n_detected, n_branches),
        "n_branches": n_branches,
        "n_branches_detected": n_detected,
        "precision": _ratio(overlap, n_pred),
        "dice": _ratio(2 * overlap, n_pred + n_ref),
        "reference_length_mm": _length_mm(skeleton, spacing),
        "detected_length_mm": _length_mm(skeleton & prediction, spacing),
    }
