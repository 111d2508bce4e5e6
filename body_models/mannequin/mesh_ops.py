"""Small mesh helpers the mannequin's generator shares: edges, adjacency, normals, triangle quality.

Meshes are ``(V, 3) float64`` vertex arrays in metres and ``(F, 3) int64`` face arrays,
counter-clockwise seen from outside (outward normals).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


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
