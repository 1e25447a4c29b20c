"""Branches of an airway centreline: a rooted tree of voxel paths with generations.

The skeleton's voxels are joined to their 26 neighbours and the shortest-path
tree from the root (the top of the trachea) orders them from proximal to
distal. A voxel with two or more children is a branch point; the paths between
branch points, ends and the root are the branches. Thinning leaves spurs where
the lumen's surface is bumpy: a terminal branch whose tip lies within the
lumen of the rest of the tree, or sticks out of it by less than
``min_length_mm``, is one and is removed, and two branch
points that lie within one lumen (a trifurcation thinned into two forks) are
fused. A branch left with a single child is joined to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

__all__ = ["Segment", "centreline_tree", "nearest_centreline"]

#: Distance (voxel units) between the centres of two 26-adjacent voxels, at most √3.
_NEIGHBOUR_REACH = 1.75


@dataclass
class Segment:
    """A branch of the centreline: voxel indices from its branch point to its end."""

    path: np.ndarray  # (n, 3) int voxel indices, proximal to distal
    parent: int | None
    children: list[int] = field(default_factory=list)


def centreline_tree(skeleton: np.ndarray, radius_mm: np.ndarray, spacing_mm, root_zyx,
                    min_length_mm: float) -> list[Segment]:
    """The branches of a skeleton as a tree rooted at the voxel nearest ``root_zyx``.

    Parameters
    ----------
    skeleton : ndarray of bool, 3D
        Centreline voxels.
    radius_mm : ndarray of float, same shape
        Lumen radius (mm) at each voxel: the distance to the lumen's edge.
    spacing_mm : 3 floats
        Voxel size (z, y, x) in mm.
    root_zyx : 3 floats
        Voxel index near which the tree starts (the top of the trachea).
    min_length_mm : float
        Least distance (mm) by which a terminal branch's tip sticks out of the lumen of
        the rest of the tree; never less than two voxels, below which thinning
        artefacts cannot be told apart.

    Returns
    -------
    list of Segment
        Segment 0 is the root; parents come before their children. Empty when
        the skeleton is.

    Examples
    --------
    A T of one-voxel lines: a stem and two arms, with a 1-voxel spur on the stem.
    The spur is dropped; the arms leave the stem diagonally from its last voxel
    but one.

    >>> skeleton = np.zeros((1, 20, 21), bool)
    >>> skeleton[0, 0:12, 10] = True; skeleton[0, 12, 2:19] = True; skeleton[0, 5, 11] = True
    >>> segments = centreline_tree(skeleton, np.ones(skeleton.shape), (1, 1, 1), (0, 0, 10), 2.0)
    >>> [(len(s.path), s.parent) for s in segments]
    [(12, None), (9, 0), (9, 0)]
    """
    coords = np.argwhere(skeleton)
    if coords.size == 0:
        return []
    spacing = np.asarray(spacing_mm, dtype=float)
    min_length_mm = max(float(min_length_mm), 2.0 * float(spacing.max()))
    root = _root_vertex(coords, spacing, root_zyx)
    predecessors, reached = _shortest_path_tree(coords, spacing, root)
    segments = _split_at_branch_points(predecessors, reached, root, coords)
    step_mm = _step_lengths(coords, predecessors, spacing)
    vertex_of = {tuple(c): v for v, c in enumerate(coords)}
    radii = radius_mm[tuple(coords.T)]
    segments = _pruned(segments, step_mm, radii, vertex_of, spacing, min_length_mm)
    return _in_tree_order(segments)


def nearest_centreline(points_mm: np.ndarray, segments: list[Segment], spacing_mm, *,
                       exclude_root: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The segment and the depth of the centreline voxel nearest each point.

    Parameters
    ----------
    points_mm : ndarray, (N, 3)
        Points in mm along the array axes (index times ``spacing_mm``).
    segments : list of Segment
        As :func:`centreline_tree` returns them.
    spacing_mm : 3 floats
        Voxel size (z, y, x) in mm of the grid the segments' paths index.
    exclude_root : bool
        Whether the root's centreline is left out of the candidates.

    Returns
    -------
    owner : ndarray of int, (N,)
        Index of the segment. A branch point belongs to the branch that ends
        there, not to its children.
    depth_mm : ndarray of float, (N,)
        Path length (mm) along the centreline from the root's end (the first
        branch point) to the nearest voxel: negative on the root.

    Examples
    --------
    A stem of 5 voxels and an arm of 4 more leaving its end at 45°, on 2 mm voxels:
    the arm's third voxel lies 2 × 2√2 mm below the branch point.

    >>> stem = Segment(np.array([[k, 0, 0] for k in range(5)]), None, [1])
    >>> arm = Segment(np.array([[4 + k, k, 0] for k in range(5)]), 0)
    >>> points_mm = np.array([[0.0, 0.0, 0.0], [12.5, 4.0, 0.0]])
    >>> owner, depth_mm = nearest_centreline(points_mm, [stem, arm], (2, 2, 2))
    >>> owner.tolist(), np.round(depth_mm, 2).tolist()
    ([0, 1], [-8.0, 5.66])
    """
    spacing = np.asarray(spacing_mm, dtype=float)
    depths = _depths_mm(segments, spacing)
    candidates = [i for i, s in enumerate(segments) if not (exclude_root and s.parent is None)]
    own = {i: slice(0 if segments[i].parent is None else 1, None) for i in candidates}
    owners = np.concatenate([np.full(len(segments[i].path[own[i]]), i) for i in candidates])
    tree = cKDTree(np.concatenate([segments[i].path[own[i]] for i in candidates]) * spacing)
    nearest = tree.query(points_mm)[1]
    return owners[nearest], np.concatenate([depths[i][own[i]] for i in candidates])[nearest]


def _depths_mm(segments: list[Segment], spacing: np.ndarray) -> list[np.ndarray]:
    """Path length (mm) from the root's end to each voxel of each segment (parents first)."""
    depths: list[np.ndarray] = []
    for s in segments:
        along = np.concatenate([[0.0], np.cumsum(
            np.linalg.norm(np.diff(s.path, axis=0) * spacing, axis=1))])
        start = -along[-1] if s.parent is None else depths[s.parent][-1]
        depths.append(start + along)
    return depths


def _root_vertex(coords: np.ndarray, spacing: np.ndarray, root_zyx) -> int:
    """The skeleton end (one neighbour) nearest the root point; any voxel if there is no end."""
    tree = cKDTree(coords)
    neighbours = np.array([len(n) - 1 for n in tree.query_ball_point(coords, _NEIGHBOUR_REACH)])
    candidates = np.flatnonzero(neighbours <= 1)
    if candidates.size == 0:
        candidates = np.arange(len(coords))
    distance = np.linalg.norm((coords[candidates] - np.asarray(root_zyx)) * spacing, axis=1)
    return int(candidates[np.argmin(distance)])


def _shortest_path_tree(coords: np.ndarray, spacing: np.ndarray, root: int):
    """Predecessor of each voxel on its shortest path (mm) from the root, and who is reached."""
    pairs = cKDTree(coords).query_pairs(_NEIGHBOUR_REACH, output_type="ndarray")
    length_mm = np.linalg.norm((coords[pairs[:, 0]] - coords[pairs[:, 1]]) * spacing, axis=1)
    graph = sparse.coo_matrix((length_mm, (pairs[:, 0], pairs[:, 1])),
                              shape=(len(coords),) * 2).tocsr()
    distance, predecessors = csgraph.dijkstra(graph, directed=False, indices=root,
                                              return_predecessors=True)
    return predecessors, np.isfinite(distance)


def _step_lengths(coords: np.ndarray, predecessors: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Length (mm) of the step from each voxel's predecessor to it (0 at the root)."""
    has_parent = predecessors >= 0
    step = np.zeros(len(coords))
    step[has_parent] = np.linalg.norm(
        (coords[has_parent] - coords[predecessors[has_parent]]) * spacing, axis=1)
    return step


def _split_at_branch_points(predecessors: np.ndarray, reached: np.ndarray, root: int,
                            coords: np.ndarray) -> list[Segment]:
    """Segments between the root, branch points (2+ children) and ends of the path tree."""
    child_count = np.bincount(predecessors[predecessors >= 0], minlength=len(predecessors))
    is_node = reached & (child_count != 1)
    is_node[root] = True
    ends = [v for v in np.flatnonzero(is_node) if v != root]
    vertex_paths, ending_at = [], {}
    for end in ends:
        path = [end]
        while not is_node[predecessors[path[-1]]]:
            path.append(predecessors[path[-1]])
        path.append(predecessors[path[-1]])
        vertex_paths.append(path[::-1])
        ending_at[end] = len(vertex_paths) - 1
    if child_count[root] == 1 or not vertex_paths:
        return _with_root_merged(vertex_paths, ending_at, root, coords)
    # The root has several children (no end nearby): a zero-length trunk holds them.
    segments = [Segment(coords[[root]], None)]
    for path in vertex_paths:
        parent = ending_at.get(path[0], -1) + 1
        segments.append(Segment(coords[path], parent))
    return segments


def _with_root_merged(vertex_paths, ending_at, root, coords) -> list[Segment]:
    """Segments with parents, the one leaving the root first (as the root segment)."""
    if not vertex_paths:
        return [Segment(coords[[root]], None)]
    first = next(i for i, path in enumerate(vertex_paths) if path[0] == root)
    order = [first] + [i for i in range(len(vertex_paths)) if i != first]
    position = {old: new for new, old in enumerate(order)}
    segments = []
    for old in order:
        path = vertex_paths[old]
        parent = None if old == first else position[ending_at[path[0]]]
        segments.append(Segment(coords[path], parent))
    return segments


def _pruned(segments: list[Segment], step_mm, radii, vertex_of, spacing: np.ndarray,
            min_length_mm: float) -> list[Segment]:
    """Remove spurs, fuse branch points within one lumen, join single children; repeat."""
    _link_children(segments)
    alive = [True] * len(segments)

    def length(s: Segment) -> float:
        return float(sum(step_mm[vertex_of[tuple(c)]] for c in s.path[1:]))

    def radius_at_start(s: Segment) -> float:
        # The lumen is widest where a branch leaves its parent; the branch point itself
        # may sit a voxel off the parent's axis.
        return float(max(radii[vertex_of[tuple(c)]] for c in s.path[:3]))

    def is_spur(i: int) -> bool:
        # Its tip lies within the lumen of the rest of the tree, give or take min_length_mm.
        others = np.concatenate([t.path for j, t in enumerate(segments) if alive[j] and j != i])
        distance_mm = np.linalg.norm((others - segments[i].path[-1]) * spacing, axis=1)
        nearest = int(np.argmin(distance_mm))
        return distance_mm[nearest] < radii[vertex_of[tuple(others[nearest])]] + min_length_mm

    changed = True
    while changed:
        changed = False
        for i, s in enumerate(segments):
            if not alive[i] or s.parent is None:
                continue
            if not s.children and is_spur(i):
                _remove_leaf(segments, alive, i)
                changed = True
            elif s.children and length(s) < radius_at_start(s):
                _dissolve(segments, alive, i)
                changed = True
        for i, s in enumerate(segments):
            if alive[i] and len(s.children) == 1:
                _absorb_only_child(segments, alive, i)
                changed = True
    return [s if alive[i] else None for i, s in enumerate(segments)]


def _link_children(segments: list[Segment]) -> None:
    for s in segments:
        s.children = []
    for i, s in enumerate(segments):
        if s.parent is not None:
            segments[s.parent].children.append(i)
    for s in segments:
        s.children.sort()


def _remove_leaf(segments, alive, i) -> None:
    segments[segments[i].parent].children.remove(i)
    alive[i] = False


def _dissolve(segments, alive, i) -> None:
    """Hand a short inner segment's children to its parent, their paths extended back."""
    short = segments[i]
    parent = segments[short.parent]
    parent.children.remove(i)
    for child in short.children:
        segments[child].path = np.concatenate([short.path, segments[child].path[1:]])
        segments[child].parent = short.parent
        parent.children.append(child)
    parent.children.sort()
    alive[i] = False


def _absorb_only_child(segments, alive, i) -> None:
    """Join a segment's single child to it: one branch, the child's children become its own."""
    s = segments[i]
    child = segments[s.children[0]]
    alive[s.children[0]] = False
    s.path = np.concatenate([s.path, child.path[1:]])
    s.children = child.children
    for grandchild in s.children:
        segments[grandchild].parent = i


def _in_tree_order(segments: list[Segment | None]) -> list[Segment]:
    """The live segments renumbered breadth-first from the root (parents before children)."""
    root = next(i for i, s in enumerate(segments) if s is not None and s.parent is None)
    order, position = [root], 0
    while position < len(order):
        order.extend(segments[order[position]].children)
        position += 1
    new_id = {old: new for new, old in enumerate(order)}
    result = []
    for old in order:
        s = segments[old]
        result.append(Segment(s.path, None if s.parent is None else new_id[s.parent],
                              [new_id[c] for c in s.children]))
    return result
