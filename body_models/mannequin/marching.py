"""Marching tetrahedra: the zero level set of a gridded field as a closed triangle mesh.

Each grid cube is cut into the six Kuhn tetrahedra, a conforming subdivision, so the surface is
a closed, consistently oriented 2-manifold wherever the field is positive on the grid border.
Meshes are ``(V, 3) float64`` vertex arrays in metres and ``(F, 3) int64`` face arrays,
counter-clockwise seen from outside (outward normals).
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from body_models.mannequin.mesh_ops import _unique_int

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
