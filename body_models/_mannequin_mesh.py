"""Private mesh machinery behind ``body_models.mannequin``: implicit primitives, their smooth
union, marching tetrahedra, and remeshing to an exact vertex count.

Everything here is plain numpy/scipy and deterministic: the same inputs give the same bytes.
Meshes are ``(V, 3) float64`` vertex arrays in metres and ``(F, 3) int64`` face arrays,
counter-clockwise seen from outside (outward normals). Implicit fields are negative inside.
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.interpolate import CubicSpline

# ---------------------------------------------------------------------------------------------
# Implicit primitives
# ---------------------------------------------------------------------------------------------


class Limb:
    """A generalised tapered capsule around the segment ``a`` → ``b``.

    The cross-section at axis parameter ``t`` in [0, 1] is an ellipse with semi-axes
    ``r1(t)`` along ``e1`` and ``r2(t)`` along ``e2`` (``e1`` is ``hint`` made orthogonal to the
    axis, ``e2 = u × e1``), centred at ``a + t (b - a) + o1(t) e1 + o2(t) e2``. Beyond the ends
    the surface closes with half-ellipsoids of axial semi-axis ``cap_a`` / ``cap_b``. Radius and
    offset profiles given at several knots are interpolated with a natural cubic spline, so the
    surface is smooth along the axis. ``a == b`` gives an ellipsoid (axis ``hint_axis``).

    The field is the normalised elliptic distance ``(s - 1) · min(radii)``: negative inside,
    zero on the surface and roughly metric near it.

    Args:
        a, b: (3,) metres, the axis end points.
        knots: (K,) axis parameters of the profile samples, increasing from 0 to 1.
        r1, r2: (K,) metres, semi-axes along ``e1`` and ``e2`` at the knots.
        hint: (3,) direction the first cross-section axis ``e1`` leans to.
        cap_a, cap_b: metres, axial semi-axes of the end caps (default: the smaller radius).
        o1, o2: (K,) metres, offsets of the section centre along ``e1`` and ``e2``.
        blend: metres, radius of the smooth union with what came before.
        owner: name of the joint (``joints.SMPL_24``) whose bone this primitive dresses.
        hint_axis: (3,) the axis of a degenerate (``a == b``) primitive.
    """

    def __init__(self, a, b, knots, r1, r2, hint, cap_a=None, cap_b=None, o1=None, o2=None,
                 blend=0.02, owner="pelvis", hint_axis=(0.0, 1.0, 0.0)):
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        axis = self.b - self.a
        self.length = float(np.linalg.norm(axis))
        u = axis / self.length if self.length > 1e-12 else np.asarray(hint_axis, np.float64)
        u = u / np.linalg.norm(u)
        h = np.asarray(hint, dtype=np.float64)
        e1 = h - (h @ u) * u
        e1 /= np.linalg.norm(e1)
        self.u, self.e1, self.e2 = u, e1, np.cross(u, e1)
        self.knots = np.asarray(knots, dtype=np.float64)
        k = len(self.knots)
        zeros = np.zeros(k)
        self._profiles = np.stack([np.broadcast_to(np.asarray(v, np.float64), (k,))
                                   for v in (r1, r2, zeros if o1 is None else o1,
                                             zeros if o2 is None else o2)], axis=1)
        self._spline = (CubicSpline(self.knots, self._profiles, bc_type="natural")
                        if k > 2 else None)
        r_end_a, r_end_b = self.profiles(np.array([0.0, 1.0]))[:, :2].min(axis=1)
        self.cap_a = float(r_end_a if cap_a is None else cap_a)
        self.cap_b = float(r_end_b if cap_b is None else cap_b)
        self.blend = float(blend)
        self.owner = owner
        # Axis-aligned box outside which the field is certainly above ``margin``.
        rmax = max(float(np.abs(self._profiles[:, :2]).max() + np.abs(self._profiles[:, 2:]).max()),
                   self.cap_a, self.cap_b)
        margin = rmax + 3.0 * self.blend + 0.03
        self.lo = np.minimum(self.a, self.b) - margin
        self.hi = np.maximum(self.a, self.b) + margin

    def profiles(self, t: np.ndarray) -> np.ndarray:
        """(N, 4) r1, r2, o1, o2 in metres at axis parameters ``t`` (N,) in [0, 1]."""
        if self._spline is None:
            p0, p1 = self._profiles
            return p0 + t[:, None] * (p1 - p0)
        return self._spline(t)

    def axis_point(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Closest point on the (offset) axis and its parameter.

        Args:
            p: (N, 3) metres.

        Returns:
            (N, 3) metres, axis points; (N,) parameters in [0, 1].
        """
        d = p - self.a
        t = np.clip(d @ self.u / self.length, 0.0, 1.0) if self.length > 1e-12 else np.zeros(len(p))
        prof = self.profiles(t)
        c = (self.a + (t * self.length)[:, None] * self.u
             + prof[:, 2:3] * self.e1 + prof[:, 3:4] * self.e2)
        return c, t

    def field(self, p: np.ndarray) -> np.ndarray:
        """Field values (N,) (metres, approximately) at points ``p`` (N, 3) metres."""
        d = p - self.a
        ta = d @ self.u
        if self.length > 1e-12:
            t = np.clip(ta / self.length, 0.0, 1.0)
            q3 = ta - t * self.length
        else:
            t = np.zeros(len(p))
            q3 = ta
        prof = self.profiles(t)
        q = d - (t * self.length)[:, None] * self.u
        q1 = q @ self.e1 - prof[:, 2]
        q2 = q @ self.e2 - prof[:, 3]
        r3 = np.where(q3 < 0, self.cap_a, self.cap_b)
        s = np.sqrt((q1 / prof[:, 0]) ** 2 + (q2 / prof[:, 1]) ** 2 + (q3 / r3) ** 2)
        rmin = np.minimum(np.minimum(prof[:, 0], prof[:, 1]), np.where(q3 != 0, r3, np.inf))
        return (s - 1.0) * rmin


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of two fields with blend radius ``k`` (metres)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + h * (a - b) - k * h * (1.0 - h)


FAR = 1.0  # metres: field value where no primitive is near

# An item of the smooth union is one primitive, or a tuple of primitives (a mirror pair that
# overlaps) united among themselves first, so that the union stays exactly left/right symmetric.


def flatten(items: Sequence[Limb | tuple[Limb, ...]]) -> list[Limb]:
    """The primitives of union items, in order."""
    out = []
    for it in items:
        out.extend(it if isinstance(it, tuple) else (it,))
    return out


def _members(item) -> tuple[Limb, ...]:
    return item if isinstance(item, tuple) else (item,)


def union_field(items: Sequence[Limb | tuple[Limb, ...]], p: np.ndarray) -> np.ndarray:
    """Smooth union of primitives in order, each blended with its own radius.

    Args:
        items: primitives, or tuples of primitives united among themselves first.
        p: (N, 3) metres.

    Returns:
        (N,) field values, negative inside the body.
    """
    f = np.full(len(p), FAR)
    x, y, z = np.ascontiguousarray(p.T)
    for item in items:
        g = np.full(len(p), FAR)
        hit = np.zeros(len(p), dtype=bool)
        for prim in _members(item):
            lo, hi = prim.lo, prim.hi
            m = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]) & (z >= lo[2]) & (z <= hi[2])
            idx = np.flatnonzero(m)
            if len(idx):
                g[idx] = smooth_min(g[idx], prim.field(p[idx]), prim.blend)
                hit |= m
        idx = np.flatnonzero(hit)
        if len(idx):
            f[idx] = smooth_min(f[idx], g[idx], _members(item)[0].blend)
    return f


def grid_field(items: Sequence[Limb | tuple[Limb, ...]], origin: np.ndarray, h: float,
               shape: tuple[int, int, int]) -> np.ndarray:
    """The union field sampled on a regular grid, evaluating each primitive only in its box.

    Args:
        items: as for ``union_field``.
        origin: (3,) metres, position of grid point (0, 0, 0).
        h: metres, grid spacing.
        shape: grid points along x, y, z.

    Returns:
        (nx, ny, nz) field values: ``union_field`` at the grid points.
    """
    f = np.full(shape, FAR)
    axes = [origin[i] + h * np.arange(shape[i]) for i in range(3)]

    def box(lo, hi):
        sl = []
        for i in range(3):
            a = int(np.clip(np.ceil((lo[i] - origin[i]) / h - 1e-9), 0, shape[i]))
            b = int(np.clip(np.floor((hi[i] - origin[i]) / h + 1e-9) + 1, 0, shape[i]))
            sl.append(slice(a, b))
        return tuple(sl)

    for item in items:
        members = _members(item)
        outer = box(np.min([m.lo for m in members], 0), np.max([m.hi for m in members], 0))
        if any(s.stop <= s.start for s in outer):
            continue
        g = np.full(tuple(s.stop - s.start for s in outer), FAR)
        hit = np.zeros(g.shape, dtype=bool)
        for prim in members:
            sl = box(prim.lo, prim.hi)
            if any(s.stop <= s.start for s in sl):
                continue
            gx, gy, gz = np.meshgrid(axes[0][sl[0]], axes[1][sl[1]], axes[2][sl[2]], indexing="ij")
            pts = np.stack([gx.ravel(), gy.ravel(), gz.ravel()], axis=1)
            local = tuple(slice(s.start - o.start, s.stop - o.start) for s, o in zip(sl, outer))
            block = g[local]
            g[local] = smooth_min(block.ravel(), prim.field(pts), prim.blend).reshape(block.shape)
            hit[local] = True
        block = f[outer]
        f[outer] = np.where(hit, smooth_min(block, g, members[0].blend), block)
    return f


def field_gradient(fn: Callable[[np.ndarray], np.ndarray], p: np.ndarray,
                   f0: np.ndarray | None = None, eps: float = 1e-6) -> np.ndarray:
    """Forward-difference gradient (N, 3) of ``fn`` at points ``p`` (N, 3) metres.

    ``f0`` (N,) are the values at ``p`` when already known.
    """
    if f0 is None:
        f0 = fn(p)
    vals = fn((p[None, :, :] + (np.eye(3) * eps)[:, None, :]).reshape(-1, 3)).reshape(3, len(p))
    return ((vals - f0) / eps).T


def project(fn: Callable[[np.ndarray], np.ndarray], p: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Move points onto the zero set of ``fn`` by Newton steps along the gradient.

    Args:
        fn: field, (N, 3) metres → (N,).
        p: (N, 3) metres, points near the surface.
        iterations: Newton steps.

    Returns:
        (N, 3) metres.
    """
    p = p.copy()
    for _ in range(iterations):
        f = fn(p)
        g = field_gradient(fn, p, f)
        step = f / np.maximum((g * g).sum(axis=1), 1e-12)
        # Steps of at most 1 cm keep points on thin parts from jumping across.
        step = np.clip(step, -0.01, 0.01)
        p -= step[:, None] * g
    return p


# ---------------------------------------------------------------------------------------------
# Marching tetrahedra on a regular grid (Kuhn subdivision: 6 tetrahedra per cube, conforming)
# ---------------------------------------------------------------------------------------------

_CORNERS = np.array([[(c >> 0) & 1, (c >> 1) & 1, (c >> 2) & 1] for c in range(8)])


def _kuhn_tets() -> np.ndarray:
    """(6, 4) cube-corner indices (bit 0 = x, 1 = y, 2 = z) of the Kuhn tetrahedra."""
    tets = []
    for perm in itertools.permutations(range(3)):
        c, path = 0, [0]
        for ax in perm:
            c |= 1 << ax
            path.append(c)
        tets.append(path)
    return np.array(tets)


def _mt_tables(tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangle tables for each tetrahedron type and inside/outside case.

    Returns:
        (6, 16, 2, 3, 2) int: for each triangle, its three corners as edges (pairs of local tet
        corner indices), oriented so the normal points from inside to outside; and (6, 16) int
        triangle counts.
    """
    table = np.zeros((len(tets), 16, 2, 3, 2), dtype=np.int64)
    count = np.zeros((len(tets), 16), dtype=np.int64)
    for ti, tet in enumerate(tets):
        pos = _CORNERS[tet].astype(np.float64)
        for case in range(1, 15):
            inside = [m for m in range(4) if case >> m & 1]
            outside = [m for m in range(4) if not case >> m & 1]
            if len(inside) == 1 or len(outside) == 1:
                lone, rest = (inside[0], outside) if len(inside) == 1 else (outside[0], inside)
                tris = [[(lone, rest[0]), (lone, rest[1]), (lone, rest[2])]]
            else:
                (a, b), (c, d) = inside, outside
                tris = [[(a, c), (a, d), (b, d)], [(a, c), (b, d), (b, c)]]
            for k, tri in enumerate(tris):
                # With edge midpoints the triangle plane separates inside from outside corners
                # exactly, so this orientation test is exact and holds for any crossing points.
                mids = np.array([(pos[i] + pos[j]) / 2 for i, j in tri])
                n = np.cross(mids[1] - mids[0], mids[2] - mids[0])
                if n @ (pos[outside].mean(0) - pos[inside].mean(0)) < 0:
                    tri = [tri[0], tri[2], tri[1]]
                table[ti, case, k] = tri
            count[ti, case] = len(tris)
    return table, count


_TETS = _kuhn_tets()
_MT_TABLE, _MT_COUNT = _mt_tables(_TETS)


def marching_tetrahedra(values: np.ndarray, origin: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Extract the zero level set of a gridded field as a triangle mesh.

    The Kuhn subdivision is conforming, so the result is a closed, consistently oriented
    2-manifold wherever the field is positive on the grid border (possibly several components).

    Args:
        values: (nx, ny, nz) field samples, negative inside.
        origin: (3,) metres, position of sample (0, 0, 0).
        h: metres, grid spacing.

    Returns:
        vertices (V, 3) metres and faces (F, 3) int64 with outward normals.
    """
    nx, ny, nz = values.shape
    inside = values < 0
    # Cubes (by their lowest corner) whose corners are not all on one side.
    cube = np.zeros((nx - 1, ny - 1, nz - 1), dtype=np.int8)
    for c in _CORNERS:
        cube += inside[c[0]:nx - 1 + c[0], c[1]:ny - 1 + c[1], c[2]:nz - 1 + c[2]]
    ci, cj, ck = np.nonzero((cube > 0) & (cube < 8))
    base = (ci * ny + cj) * nz + ck  # flat grid index of each active cube's corner 0
    corner_off = (_CORNERS[:, 0] * ny + _CORNERS[:, 1]) * nz + _CORNERS[:, 2]
    flat_in = inside.ravel()
    gidx = base[:, None, None] + corner_off[_TETS][None]          # (C, 6, 4) grid indices
    case = (flat_in[gidx] << np.arange(4)).sum(axis=2)              # (C, 6)
    ttype = np.broadcast_to(np.arange(6), case.shape)
    ntri = _MT_COUNT[ttype, case]                                    # (C, 6)
    tri_parts = []
    for k in range(2):
        c_idx, t_idx = np.nonzero(ntri > k)
        local = _MT_TABLE[t_idx, case[c_idx, t_idx], k]              # (T, 3, 2) local corners
        tri_parts.append(gidx[c_idx, t_idx][np.arange(len(c_idx))[:, None, None], local])
    tri_edges = np.concatenate(tri_parts)                            # (T, 3, 2) grid indices
    lo = tri_edges.min(axis=2)
    hi = tri_edges.max(axis=2)
    n_grid = nx * ny * nz
    keys, inv = _unique_int((lo * n_grid + hi).ravel())
    e0, e1 = keys // n_grid, keys % n_grid
    flat_v = values.ravel()
    f0, f1 = flat_v[e0], flat_v[e1]
    t = np.clip(f0 / (f0 - f1), 1e-6, 1 - 1e-6)

    def coords(g):
        i, r = np.divmod(g, ny * nz)
        j, k = np.divmod(r, nz)
        return origin + h * np.stack([i, j, k], axis=1)

    p0, p1 = coords(e0), coords(e1)
    verts = p0 + t[:, None] * (p1 - p0)
    faces = inv.reshape(-1, 3).astype(np.int64)
    return verts, faces


def largest_component(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the connected component with the most faces; drop unused vertices."""
    n = len(verts)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    adj = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, label = sp.csgraph.connected_components(adj, directed=False)
    face_label = label[faces[:, 0]]
    keep = face_label == np.bincount(face_label).argmax()
    return compact(verts, faces[keep])


def compact(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices no face uses, keeping the order of the rest."""
    used = np.zeros(len(verts), dtype=bool)
    used[faces.ravel()] = True
    new_index = np.cumsum(used) - 1
    return verts[used], new_index[faces].astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Mesh helpers
# ---------------------------------------------------------------------------------------------


def _unique_int(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values of an int64 array and the inverse map (a sort-based ``np.unique``,
    much faster than numpy 2's hashing one on these sizes)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return sorted_keys[first], inverse


def unique_edges(faces: np.ndarray, n_verts: int) -> np.ndarray:
    """(E, 2) int64 undirected edges, each sorted and listed once, in key order."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e.sort(axis=1)
    keys, _ = _unique_int(e[:, 0] * n_verts + e[:, 1])
    return np.stack([keys // n_verts, keys % n_verts], axis=1)


def adjacency(edges: np.ndarray, n_verts: int) -> sp.csr_matrix:
    """Symmetric vertex adjacency (V, V) as a CSR matrix of ones."""
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_verts, n_verts))


def face_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) area-weighted normals (length = twice the area)."""
    p = verts[faces]
    return np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit normals: area-weighted mean of the incident face normals."""
    fn = face_normals(verts, faces)
    n = np.zeros_like(verts)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)


def triangle_quality(p: np.ndarray) -> np.ndarray:
    """Quality 4√3·area / Σ edge² of triangles ``p`` (..., 3, 3): 1 equilateral, 0 degenerate."""
    n = np.cross(p[..., 1, :] - p[..., 0, :], p[..., 2, :] - p[..., 0, :])
    area = 0.5 * np.linalg.norm(n, axis=-1)
    l2 = ((p[..., 1, :] - p[..., 0, :]) ** 2).sum(-1) + ((p[..., 2, :] - p[..., 1, :]) ** 2).sum(-1) \
        + ((p[..., 0, :] - p[..., 2, :]) ** 2).sum(-1)
    return 4.0 * np.sqrt(3.0) * area / np.maximum(l2, 1e-30)


def _ragged(ptr: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For CSR-like (ptr, idx), the pairs (position in ``rows``, item) of every listed row."""
    counts = ptr[rows + 1] - ptr[rows]
    owner = np.repeat(np.arange(len(rows)), counts)
    starts = np.repeat(ptr[rows] - (np.cumsum(counts) - counts), counts)
    return owner, idx[starts + np.arange(counts.sum())]


def _vertex_faces(faces: np.ndarray, n_verts: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR (ptr (V+1,), face ids) of the faces around each vertex."""
    flat = faces.ravel()
    order = np.argsort(flat, kind="stable")
    ptr = np.zeros(n_verts + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(flat, minlength=n_verts))
    return ptr, order // 3


def _independent(rank: np.ndarray, groups: np.ndarray, n_verts: int, closed: bool,
                 adj: sp.csr_matrix | None = None) -> np.ndarray:
    """Candidates whose rank is the smallest among all candidates touching their vertices.

    Args:
        rank: (K,) unique ranks of the candidates (smaller = preferred).
        groups: (K, G) vertices each candidate touches.
        closed: also compare with candidates touching any neighbour of those vertices
            (needs ``adj``), so selected candidates are at least two edges apart.

    Returns:
        (K,) bool, the selected candidates: no two share a (neighbourhood) vertex.
    """
    big = np.iinfo(np.int64).max
    m = np.full(n_verts, big, dtype=np.int64)
    for g in range(groups.shape[1]):
        np.minimum.at(m, groups[:, g], rank)
    if closed:
        coo = adj.tocoo()
        m2 = m.copy()
        np.minimum.at(m2, coo.row, m[coo.col])
        m = m2
    return np.all(m[groups] == rank[:, None], axis=1)


# ---------------------------------------------------------------------------------------------
# Remeshing
# ---------------------------------------------------------------------------------------------


def collapse_round(verts: np.ndarray, faces: np.ndarray, max_collapses: int, size: np.ndarray,
                   max_len: float, min_quality: float, blocked: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """One round of independent edge collapses, shortest (relative to ``size``) first.

    A collapse merges an edge's end points at its midpoint. It is done only when the
    neighbourhood stays a manifold disc (the ends share exactly two neighbours), no triangle
    turns over, no new edge exceeds ``max_len`` (times the local size) and no triangle falls
    below ``min_quality`` unless one there was already worse. Selected collapses are at least
    two edges apart, so each one's checks stay valid while all are done at once.

    Args:
        verts: (V, 3) metres. faces: (F, 3) closed manifold.
        max_collapses: at most this many collapses.
        size: (V,) relative target edge length per vertex.
        max_len: metres, longest edge a collapse may create (scaled by ``size``).
        min_quality: lowest triangle quality a collapse may create.
        blocked: (B, 2) vertex pairs not to try (they failed the geometric checks before).

    Returns:
        new vertices, new faces, number of collapses done, and the blocked pairs (renumbered,
        with this round's failures added).
    """
    n = len(verts)
    edges = unique_edges(faces, n)
    adj = adjacency(edges, n)
    a, b = edges[:, 0], edges[:, 1]
    length = np.linalg.norm(verts[a] - verts[b], axis=1)
    esize = 0.5 * (size[a] + size[b])
    prio = length / esize
    # Only the shorter half of the edges compete in a round.
    cand = np.flatnonzero(prio <= np.quantile(prio, 0.5))
    if len(blocked):
        cand = cand[~np.isin(a[cand] * n + b[cand], blocked[:, 0] * n + blocked[:, 1])]
    common = np.asarray(adj[a[cand]].multiply(adj[b[cand]]).sum(axis=1)).ravel()
    cand = cand[common == 2]
    if len(cand) == 0:
        return verts, faces, 0, blocked
    rank = np.empty(len(prio), dtype=np.int64)
    rank[np.lexsort((np.arange(len(prio)), prio))] = np.arange(len(prio))
    cand = cand[_independent(rank[cand], edges[cand], n, closed=True, adj=adj)]
    cand = cand[np.argsort(rank[cand])][:max_collapses]
    # Geometric checks on the selected collapses.
    ca, cb = a[cand], b[cand]
    mid = 0.5 * (verts[ca] + verts[cb])
    vf_ptr, vf_idx = _vertex_faces(faces, n)
    own_a, fa = _ragged(vf_ptr, vf_idx, ca)
    own_b, fb = _ragged(vf_ptr, vf_idx, cb)
    own = np.concatenate([own_a, own_b])
    tri = faces[np.concatenate([fa, fb])]
    is_a = tri == ca[own][:, None]
    is_b = tri == cb[own][:, None]
    removed = is_a.any(1) & is_b.any(1)
    old_p = verts[tri]
    new_p = np.where((is_a | is_b)[:, :, None], mid[own][:, None, :], old_p)
    old_n = np.cross(old_p[:, 1] - old_p[:, 0], old_p[:, 2] - old_p[:, 0])
    new_n = np.cross(new_p[:, 1] - new_p[:, 0], new_p[:, 2] - new_p[:, 0])
    ref = np.zeros((len(cand), 3))
    np.add.at(ref, own, np.where(removed[:, None], 0.0, old_n))
    ref /= np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-30)
    cos = (new_n * ref[own]).sum(1) / np.maximum(np.linalg.norm(new_n, axis=1), 1e-30)
    q_old = triangle_quality(old_p)
    q_new = triangle_quality(new_p)
    worst_old = np.full(len(cand), np.inf)
    np.minimum.at(worst_old, own, q_old)
    edge_len = np.linalg.norm(new_p - np.roll(new_p, 1, axis=1), axis=2).max(1)
    bad = ~removed & ((cos < 0.3) | (q_new < np.minimum(min_quality, worst_old[own]))
                      | (edge_len > max_len * esize[cand][own]))
    ok = np.ones(len(cand), dtype=bool)
    ok[own[bad]] = False
    blocked = np.concatenate([blocked, edges[cand[~ok]]])
    sel = cand[ok]
    sa, sb = a[sel], b[sel]
    verts = verts.copy()
    verts[sa] = mid[ok]
    remap = np.arange(n)
    remap[sb] = sa
    faces = remap[faces]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    faces = faces[keep]
    used = np.zeros(n, dtype=bool)
    used[faces.ravel()] = True
    new_index = np.cumsum(used) - 1
    blocked = np.sort(new_index[blocked], axis=1)  # blocked pairs never lose an end point
    return verts[used], new_index[faces].astype(np.int64), len(sel), blocked


def flip_round(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, int]:
    """One round of independent edge flips that bring vertex valences closer to 6.

    Args:
        verts: (V, 3) metres. faces: (F, 3) closed manifold.

    Returns:
        new faces (same count), number of flips done.
    """
    n = len(verts)
    he_from = faces.ravel()
    he_to = np.roll(faces, -1, axis=1).ravel()
    he_opp = np.roll(faces, -2, axis=1).ravel()
    key = np.minimum(he_from, he_to) * n + np.maximum(he_from, he_to)
    order = np.argsort(key, kind="stable")
    h1, h2 = order[0::2], order[1::2]           # the two half-edges of each edge
    a, b, c = he_from[h1], he_to[h1], he_opp[h1]
    d = he_opp[h2]
    f1, f2 = h1 // 3, h2 // 3
    valence = np.bincount(np.concatenate([he_from, he_to]), minlength=n) // 2
    va, vb, vc, vd = valence[a], valence[b], valence[c], valence[d]
    before = (va - 6) ** 2 + (vb - 6) ** 2 + (vc - 6) ** 2 + (vd - 6) ** 2
    after = (va - 7) ** 2 + (vb - 7) ** 2 + (vc - 5) ** 2 + (vd - 5) ** 2
    gain = before - after
    edge_keys = np.sort(key)
    new_key = np.minimum(c, d) * n + np.maximum(c, d)
    pos = np.clip(np.searchsorted(edge_keys, new_key), 0, len(edge_keys) - 1)
    exists = edge_keys[pos] == new_key
    t1 = np.stack([a, d, c], 1)
    t2 = np.stack([b, c, d], 1)
    old_n = face_normals(verts, faces[f1]) + face_normals(verts, faces[f2])
    old_n /= np.maximum(np.linalg.norm(old_n, axis=1, keepdims=True), 1e-30)
    n1, n2 = face_normals(verts, t1), face_normals(verts, t2)
    cos1 = (n1 * old_n).sum(1) / np.maximum(np.linalg.norm(n1, axis=1), 1e-30)
    cos2 = (n2 * old_n).sum(1) / np.maximum(np.linalg.norm(n2, axis=1), 1e-30)
    q_old = np.minimum(triangle_quality(verts[faces[f1]]), triangle_quality(verts[faces[f2]]))
    q_new = np.minimum(triangle_quality(verts[t1]), triangle_quality(verts[t2]))
    ok = ((gain > 0) & ~exists & (va > 3) & (vb > 3) & (cos1 > 0.7) & (cos2 > 0.7)
          & (q_new > 0.5 * q_old))
    cand = np.flatnonzero(ok)
    if len(cand) == 0:
        return faces, 0
    score = -gain[cand] * 4.0 - q_new[cand]
    rank = np.empty(len(cand), dtype=np.int64)
    rank[np.lexsort((cand, score))] = np.arange(len(cand))
    groups = np.stack([a[cand], b[cand], c[cand], d[cand]], 1)
    sel = cand[_independent(rank, groups, n, closed=False)]
    faces = faces.copy()
    faces[f1[sel]] = t1[sel]
    faces[f2[sel]] = t2[sel]
    return faces, len(sel)


def relax(verts: np.ndarray, faces: np.ndarray, fn: Callable[[np.ndarray], np.ndarray],
          iterations: int = 2, step: float = 0.5, weights: np.ndarray | None = None,
          project_iterations: int = 2) -> np.ndarray:
    """Tangential Laplacian smoothing, each step followed by projection onto ``fn``'s zero set.

    Args:
        verts: (V, 3) metres. faces: (F, 3).
        fn: the implicit field.
        weights: (V,) optional per-vertex sizes; neighbours are averaged with these weights,
            which pulls vertices towards regions meant to be finer.

    Returns:
        (V, 3) metres.
    """
    n = len(verts)
    adj = adjacency(unique_edges(faces, n), n)
    if weights is not None:
        adj = adj @ sp.diags(1.0 / weights)
    adj = sp.diags(1.0 / np.asarray(adj.sum(axis=1)).ravel()) @ adj
    for _ in range(iterations):
        lap = adj @ verts - verts
        nrm = vertex_normals(verts, faces)
        lap -= (lap * nrm).sum(1, keepdims=True) * nrm
        verts = project(fn, verts + step * lap, iterations=project_iterations)
    return verts


def remesh_to_count(verts: np.ndarray, faces: np.ndarray, target: int,
                    fn: Callable[[np.ndarray], np.ndarray],
                    size_fn: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Decimate a closed manifold to exactly ``target`` vertices with even, well-shaped triangles.

    Rounds of independent edge collapses alternate with valence-improving flips and tangential
    smoothing on the implicit surface ``fn``; the topology never changes.

    Args:
        verts: (V, 3) metres, V > target. faces: (F, 3) closed manifold.
        target: vertex count of the result.
        fn: the implicit field the vertices are kept on.
        size_fn: relative edge length wanted at points (N, 3) → (N,), about 1 on average.

    Returns:
        vertices (target, 3) metres and faces (F', 3) int64 (F' = 2·target − 4 for genus 0).
    """
    area = 0.5 * np.linalg.norm(face_normals(verts, faces), axis=1).sum()
    edge_target = np.sqrt(4.0 * area / (np.sqrt(3.0) * (2 * target - 4)))
    blocked = np.zeros((0, 2), dtype=np.int64)
    rounds = stalls = 0
    while len(verts) > target:
        quality = 0.3 if rounds > 4 else 0.05
        verts, faces, done, blocked = collapse_round(
            verts, faces, len(verts) - target, size_fn(verts), max_len=1.6 * edge_target,
            min_quality=quality, blocked=blocked)
        rounds += 1
        stalls = stalls + 1 if done == 0 else 0
        if stalls > 3:
            raise RuntimeError("mannequin remeshing stalled; the generator needs attention")
        if rounds % 3 == 0 or done == 0:
            faces, _ = flip_round(verts, faces)
            verts = relax(verts, faces, fn, iterations=1, project_iterations=1)
            blocked = np.zeros((0, 2), dtype=np.int64)
    for _ in range(3):
        faces, _ = flip_round(verts, faces)
        verts = relax(verts, faces, fn, iterations=2, weights=size_fn(verts))
    return verts, faces
