"""Remeshing the extracted surface to exactly the vertex count SMPL has, with even triangles.

``remesh_to_count`` alternates rounds of independent edge collapses (``collapse_round``) with
valence-improving flips (``flip_round``) and tangential smoothing on the implicit surface
(``relax``); the topology never changes. Deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp

from body_models.mannequin.implicit import project
from body_models.mannequin.mesh_ops import adjacency, face_normals, triangle_quality, unique_edges, vertex_normals


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
    esize = 0.5 * (size[edges[:, 0]] + size[edges[:, 1]])
    cand = _collapse_candidates(verts, edges, esize, max_collapses, blocked)
    if len(cand) == 0:
        return verts, faces, 0, blocked
    pairs = edges[cand]
    mid = 0.5 * (verts[pairs[:, 0]] + verts[pairs[:, 1]])
    ok = _collapse_keeps_surface(verts, faces, pairs, mid, esize[cand], max_len, min_quality)
    blocked = np.concatenate([blocked, pairs[~ok]])
    verts, faces, blocked = _merge_edges(verts, faces, pairs[ok], mid[ok], blocked)
    return verts, faces, int(ok.sum()), blocked


def _collapse_candidates(verts: np.ndarray, edges: np.ndarray, esize: np.ndarray, max_collapses: int,
                         blocked: np.ndarray) -> np.ndarray:
    """The edges (indices into ``edges`` (E, 2)) one collapse round tries, shortest relative to
    ``esize`` (E,) first: from the shorter half of the edges, those not ``blocked`` whose ends
    share exactly two neighbours (the neighbourhood stays a disc), at least two edges apart, at
    most ``max_collapses``. Empty only when no edge qualifies."""
    n = len(verts)
    adj = adjacency(edges, n)
    a, b = edges[:, 0], edges[:, 1]
    length = np.linalg.norm(verts[a] - verts[b], axis=1)
    prio = length / esize
    # Only the shorter half of the edges compete in a round.
    cand = np.flatnonzero(prio <= np.quantile(prio, 0.5))
    if len(blocked):
        cand = cand[~np.isin(a[cand] * n + b[cand], blocked[:, 0] * n + blocked[:, 1])]
    common = np.asarray(adj[a[cand]].multiply(adj[b[cand]]).sum(axis=1)).ravel()
    cand = cand[common == 2]
    if len(cand) == 0:
        return cand
    rank = np.empty(len(prio), dtype=np.int64)
    rank[np.lexsort((np.arange(len(prio)), prio))] = np.arange(len(prio))
    cand = cand[_independent(rank[cand], edges[cand], n, closed=True, adj=adj)]
    return cand[np.argsort(rank[cand])][:max_collapses]


def _collapse_keeps_surface(verts: np.ndarray, faces: np.ndarray, pairs: np.ndarray, mid: np.ndarray,
                            esize: np.ndarray, max_len: float, min_quality: float) -> np.ndarray:
    """(K,) bool: whether merging each edge ``pairs`` (K, 2) at its midpoint ``mid`` (K, 3) keeps
    the surface sound: no triangle around it turns over, none falls below ``min_quality`` unless
    one there was already worse, and no edge exceeds ``max_len`` times the edge's size ``esize``."""
    ca, cb = pairs[:, 0], pairs[:, 1]
    vf_ptr, vf_idx = _vertex_faces(faces, len(verts))
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
    ref = np.zeros((len(pairs), 3))
    np.add.at(ref, own, np.where(removed[:, None], 0.0, old_n))
    ref /= np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-30)
    cos = (new_n * ref[own]).sum(1) / np.maximum(np.linalg.norm(new_n, axis=1), 1e-30)
    q_old = triangle_quality(old_p)
    q_new = triangle_quality(new_p)
    worst_old = np.full(len(pairs), np.inf)
    np.minimum.at(worst_old, own, q_old)
    edge_len = np.linalg.norm(new_p - np.roll(new_p, 1, axis=1), axis=2).max(1)
    bad = ~removed & ((cos < 0.3) | (q_new < np.minimum(min_quality, worst_old[own]))
                      | (edge_len > max_len * esize[own]))
    ok = np.ones(len(pairs), dtype=bool)
    ok[own[bad]] = False
    return ok


def _merge_edges(verts: np.ndarray, faces: np.ndarray, pairs: np.ndarray, mid: np.ndarray,
                 blocked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge each edge ``pairs`` (K, 2) into its first end, moved to ``mid`` (K, 3); drop the
    collapsed triangles and the unused vertices, and renumber the ``blocked`` pairs to match."""
    n = len(verts)
    sa, sb = pairs[:, 0], pairs[:, 1]
    verts = verts.copy()
    verts[sa] = mid
    remap = np.arange(n)
    remap[sb] = sa
    faces = remap[faces]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    faces = faces[keep]
    used = np.zeros(n, dtype=bool)
    used[faces.ravel()] = True
    new_index = np.cumsum(used) - 1
    blocked = np.sort(new_index[blocked], axis=1)  # blocked pairs never lose an end point
    return verts[used], new_index[faces].astype(np.int64), blocked


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
