"""The mannequin body model assembled from its parts: surface, rig and blend shapes."""

from __future__ import annotations

import numpy as np

from body_models.joints import SMPL_24
from body_models.mannequin.correctives import _pose_directions, _shape_directions
from body_models.mannequin.design import _primitives
from body_models.mannequin.implicit import flatten
from body_models.mannequin.layout import MODEL_NAME
from body_models.mannequin.mesh_ops import vertex_normals
from body_models.mannequin.rig import _joint_regressor, _skinning_weights
from body_models.mannequin.surface import _surface, _vertex_order


def build_mannequin() -> dict[str, np.ndarray]:
    """Generate the mannequin body model (a few seconds, deterministic).

    Returns:
        SMPL's arrays: ``v_template (6890, 3)`` float64 metres, ``f (13776, 3)`` int64,
        ``J_regressor (24, 6890)`` float64 dense, ``weights (6890, 24)`` float64,
        ``kintree_table (2, 24)`` int64 (root parent -1), ``shapedirs (6890, 3, 10)`` and
        ``posedirs (6890, 3, 207)`` float64 metres, ``J (24, 3)`` float64 metres
        (= ``J_regressor @ v_template``), and ``model_name`` = ``"mannequin"`` (str array).
    """
    items = _primitives()
    prims = flatten(items)
    verts, faces = _surface(items)
    order = _vertex_order(verts)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    verts = verts[order]
    faces = inverse[faces]
    normals = vertex_normals(verts, faces)
    weights = _skinning_weights(verts, faces, prims)
    regressor = _joint_regressor(verts)
    joints = regressor @ verts
    kintree = np.stack([np.array(SMPL_24.parents), np.arange(len(SMPL_24))]).astype(np.int64)
    return {
        "v_template": verts.astype(np.float64),
        "f": faces.astype(np.int64),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
        "shapedirs": _shape_directions(verts, normals, weights, joints, prims),
        "posedirs": _pose_directions(verts, normals, weights, joints),
        "J": joints,
        "model_name": np.array(MODEL_NAME),
    }
