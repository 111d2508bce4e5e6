"""The mannequin's surface: the implicit body meshed to exactly SMPL's vertex count, in SMPL's order.

``_surface`` extracts the smooth union of the body's primitives by marching tetrahedra and
remeshes it to ``N_VERTS`` vertices; ``_vertex_order`` then puts SMPL's landmark vertices
(``joints.SMPL_LANDMARK_VERTICES``) at their SMPL indices.
"""

from __future__ import annotations

import numpy as np

from body_models.errors import HMRError
from body_models.joints import SMPL_LANDMARK_VERTICES
from body_models.mannequin.design import _LANDMARK_RAYS, _side
from body_models.mannequin.implicit import flatten, grid_field, union_field
from body_models.mannequin.layout import N_FACES, N_VERTS
from body_models.mannequin.marching import marching_tetrahedra
from body_models.mannequin.mesh_ops import unique_edges
from body_models.mannequin.remesh import remesh_to_count

_GRID_STEP = 0.013  # metres: marching-tetrahedra grid spacing before remeshing


def _size(p: np.ndarray) -> np.ndarray:
    """Relative edge length wanted at points (N, 3) metres: finer on the face, hands and feet."""
    head = np.exp(-((p - [0, 0.41, 0.05]) ** 2).sum(1) / (2 * 0.08 ** 2))
    hands = np.exp(-((np.abs(p[:, 0]) - 0.77) ** 2 + (p[:, 1] - 0.21) ** 2) / (2 * 0.07 ** 2))
    feet = np.exp(-((p[:, 1] + 1.13) ** 2) / (2 * 0.04 ** 2))
    return 1.0 - 0.35 * head - 0.25 * hands - 0.15 * feet


def _surface(items) -> tuple[np.ndarray, np.ndarray]:
    """The body surface with exactly ``N_VERTS`` vertices.

    Returns:
        vertices (6890, 3) metres, faces (13776, 3) int64, outward normals, genus 0.
    """
    prims = flatten(items)
    lo = np.min([p.lo for p in prims], axis=0)
    hi = np.max([p.hi for p in prims], axis=0)
    shape = tuple(int(np.ceil((hi[i] - lo[i]) / _GRID_STEP)) + 1 for i in range(3))
    grid = grid_field(items, lo, _GRID_STEP, shape)
    verts, faces = marching_tetrahedra(grid, lo, _GRID_STEP)
    euler = len(verts) - len(unique_edges(faces, len(verts))) + len(faces)
    if euler != 2:
        raise HMRError(f"mannequin generator: the extracted surface has Euler characteristic "
                       f"{euler}, not 2 (one sphere-like piece); the body design needs fixing")
    verts, faces = remesh_to_count(verts, faces, N_VERTS, lambda q: union_field(items, q), _size)
    if len(faces) != N_FACES:
        raise HMRError(f"mannequin generator: {len(faces)} faces instead of {N_FACES}")
    return verts, faces


def _landmark_vertex(verts: np.ndarray, name: str, taken: np.ndarray) -> int:
    """Index of the vertex at landmark ``name`` (a ``SMPL_LANDMARK_VERTICES`` key): the one
    furthest along the landmark's ray, less four times its distance from the ray, among vertices
    within 16 cm of the ray's start, on the landmark's side of the body, not ``taken`` (V,) yet."""
    left, sign = _side(name)
    point, direction = _LANDMARK_RAYS[left]
    mirror = np.array([sign, 1.0, 1.0])
    d = np.asarray(direction, float) * mirror
    d /= np.linalg.norm(d)
    rel = verts - np.asarray(point) * mirror
    along = rel @ d
    off = np.linalg.norm(rel - along[:, None] * d, axis=1)
    score = along - 4.0 * off
    lateral = name.startswith(("left_", "right_"))
    score[taken | (lateral & (verts[:, 0] * sign <= 0.01)) | (np.linalg.norm(rel, axis=1) > 0.16)] = -np.inf
    return int(np.argmax(score))


def _vertex_order(verts: np.ndarray) -> np.ndarray:
    """A permutation ``order`` (V,) such that ``verts[order]`` has every SMPL landmark at its
    SMPL index; the other vertices follow, the subject's left side first, each top to bottom."""
    order = np.full(len(verts), -1, dtype=np.int64)
    taken = np.zeros(len(verts), dtype=bool)
    for name, index in SMPL_LANDMARK_VERTICES.items():
        v = _landmark_vertex(verts, name, taken)
        order[index] = v
        taken[v] = True
    rest = np.flatnonzero(~taken)
    rest = rest[np.lexsort((rest, -verts[rest, 1], verts[rest, 0] < 0))]
    order[order < 0] = rest
    return order
