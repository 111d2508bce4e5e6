"""glTF 2.0 binary (``.glb``) export: the body mesh skinned to SMPL's 24-joint skeleton, animated.

The file holds (built with pygltflib, glTF's own JSON and binary container):

- one mesh: the shaped rest template (the clip's ``betas``, zero pose) with SMPL's faces, and
  SMPL's 207 pose-corrective blend shapes as morph targets, so a viewer reproduces SMPL's
  vertices exactly, not only its skinning;
- one skin: 24 joint nodes named after SMPL's joints, their rest translations the fitted
  shape's bone offsets (rest rotations identity), inverse bind matrices the inverse rest joint
  transforms, and SMPL's blend weights (all non-zero ones, four per ``JOINTS_n``/``WEIGHTS_n``
  set);
- one animation, sampled at the video's fps (LINEAR): each joint's rotation, the pelvis node's
  translation, and the morph-target weights (SMPL's pose feature, R − I of the 23 joints).

glTF is y up in metres, so the motion is turned into the y-up output frame
(``Motion.to_up("y")``). ``asset.extras`` says which body model made the mesh (with the mannequin:
the synthetic stand-in, not SMPL), the frame, fps and the track ID.

    write_glb(motion.to_up("y", smpl), smpl, "out/export/0.glb")
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from body_models.atomic import write_bytes
from body_models.smpl import SMPL
from hmr.io.motion import Motion, local_rotations, rest_body

INFLUENCES_PER_SET = 4  # glTF packs joint influences four to a JOINTS_n / WEIGHTS_n attribute
WEIGHT_EPS = 1e-8  # blend weights below this are dropped (the rest renormalised)


def _skin_sets(weights: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """SMPL's (V, J) blend weights as glTF sets of (V, 4) uint16 joints and (V, 4) float32 weights."""
    nonzero = weights > WEIGHT_EPS
    count = max(int(nonzero.sum(1).max()), 1)
    slots = -(-count // INFLUENCES_PER_SET) * INFLUENCES_PER_SET
    order = np.argsort(-weights, axis=1)[:, :slots]  # (V, slots) strongest first
    picked = np.take_along_axis(weights, order, 1) * np.take_along_axis(nonzero, order, 1)
    picked = picked / picked.sum(1, keepdims=True)
    joints = np.where(picked > 0, order, 0).astype(np.uint16)
    return [(joints[:, i:i + INFLUENCES_PER_SET].copy(), picked[:, i:i + INFLUENCES_PER_SET].astype(np.float32))
            for i in range(0, slots, INFLUENCES_PER_SET)]


class _Blob:
    """The binary chunk and its buffer views and accessors."""

    def __init__(self, gltf) -> None:
        self.gltf = gltf
        self.data = bytearray()

    def add(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        import pygltflib as g

        component = {np.float32: g.FLOAT, np.uint32: g.UNSIGNED_INT, np.uint16: g.UNSIGNED_SHORT}[array.dtype.type]
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(array).tobytes()
        self.gltf.bufferViews.append(g.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw),
                                                  target=target))
        self.data += raw
        rows = array.reshape(array.shape[0], -1)
        accessor = g.Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=component,
                              count=int(array.shape[0]), type=kind)
        if bounds:
            accessor.min = [float(v) for v in rows.min(0)]
            accessor.max = [float(v) for v in rows.max(0)]
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1


def write_glb(motion: Motion, smpl: SMPL, path: str | os.PathLike) -> Path:
    """Write ``motion`` (in the y-up output frame) as a skinned, animated ``.glb``.

    Args:
        motion: T frames, ``motion.up == "y"``.
        smpl: the body model that made the motion (its mesh, weights and correctives go in).
        path: the ``.glb`` to write (atomically).
    """
    import pygltflib as g
    from scipy.spatial.transform import Rotation

    if motion.up != "y":
        raise ValueError("glTF is y up: pass motion.to_up('y', smpl)")
    rest = rest_body(smpl, motion.betas)
    layer = smpl.smplx
    gltf = g.GLTF2(asset=g.Asset(version="2.0", generator="hmr-video"))
    blob = _Blob(gltf)
    model = ("mannequin (a synthetic stand-in written by hmr-video, not SMPL)" if smpl.is_mannequin
             else smpl.name)
    gltf.asset.extras = {"body_model": model, "frame": motion.frame_description, "fps": motion.fps,
                         "track_id": motion.track_id, "first_video_frame": int(motion.frame_indices[0])}

    # mesh: rest vertices, faces, skin weights, the 207 pose correctives as morph targets
    attributes = g.Attributes(POSITION=blob.add(rest.vertices.astype(np.float32), g.VEC3, g.ARRAY_BUFFER, True))
    for n, (joints, weights) in enumerate(_skin_sets(layer.lbs_weights.double().numpy())):
        setattr(attributes, f"JOINTS_{n}", blob.add(joints, g.VEC4, g.ARRAY_BUFFER))
        setattr(attributes, f"WEIGHTS_{n}", blob.add(weights, g.VEC4, g.ARRAY_BUFFER))
    num_vertices = rest.vertices.shape[0]
    correctives = layer.posedirs.double().numpy().reshape(-1, num_vertices, 3)  # (207, V, 3)
    targets = [{"POSITION": blob.add(c.astype(np.float32), g.VEC3, g.ARRAY_BUFFER, True)} for c in correctives]
    faces = blob.add(smpl.faces.astype(np.uint32).reshape(-1), g.SCALAR, g.ELEMENT_ARRAY_BUFFER)
    gltf.meshes.append(g.Mesh(name=f"body ({model})", primitives=[
        g.Primitive(attributes=attributes, indices=faces, targets=targets, mode=g.TRIANGLES)],
        weights=[0.0] * len(correctives)))

    # skeleton: node j is joint j; node 24 holds the mesh
    offsets = rest.offsets
    for j, name in enumerate(rest.names):
        gltf.nodes.append(g.Node(name=name, translation=[float(v) for v in offsets[j]],
                                 children=rest.children[j]))
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (24, 1, 1))
    inverse_bind[:, :3, 3] = -rest.joints
    gltf.nodes.append(g.Node(name="body", mesh=0, skin=0))
    gltf.skins.append(g.Skin(name="smpl_24", joints=list(range(24)), skeleton=0,
                             inverseBindMatrices=blob.add(inverse_bind.transpose(0, 2, 1).copy(), g.MAT4)))
    gltf.scenes.append(g.Scene(name="hmr-video motion", nodes=[0, 24]))
    gltf.scene = 0

    # animation: joint rotations, pelvis translation, corrective weights
    local = local_rotations(motion)  # (T, 24, 3, 3)
    times = blob.add((np.arange(motion.num_frames) / motion.fps).astype(np.float32), g.SCALAR, bounds=True)
    samplers, channels = [], []

    def channel(node: int, path_name: str, values: np.ndarray, kind: str) -> None:
        samplers.append(g.AnimationSampler(input=times, output=blob.add(values.astype(np.float32), kind),
                                           interpolation="LINEAR"))
        channels.append(g.AnimationChannel(sampler=len(samplers) - 1,
                                           target=g.AnimationChannelTarget(node=node, path=path_name)))

    quats = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_quat().reshape(motion.num_frames, 24, 4)  # x, y, z, w
    for j in range(24):
        channel(j, "rotation", quats[:, j], g.VEC4)
    channel(0, "translation", rest.joints[0] + motion.transl, g.VEC3)
    pose_feature = (local[:, 1:] - np.eye(3)).reshape(motion.num_frames, -1)  # (T, 207), smplx's order
    channel(24, "weights", pose_feature.reshape(-1), g.SCALAR)
    gltf.animations.append(g.Animation(name="motion", samplers=samplers, channels=channels))

    gltf.buffers.append(g.Buffer(byteLength=len(blob.data)))
    gltf.set_binary_blob(bytes(blob.data))
    return write_bytes(path, b"".join(gltf.save_to_bytes()))
