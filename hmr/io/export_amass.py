"""AMASS-style npz export: the layout aitviewer's ``SMPLSequence.from_amass`` and the SMPL
Blender add-on read.

Arrays: ``poses (T, 72)`` axis-angle radians (global orientation, then SMPL's 23 body joints),
``trans (T, 3)`` metres (SMPL's ``transl``), ``betas (10,)``, ``gender`` (str),
``mocap_framerate`` (fps), and ours: ``surface_model_type`` (``smpl``), ``body_model`` (the model
file's name, or ``mannequin``: then the shape and pose belong to the synthetic stand-in, not to
SMPL), ``frame`` (what the coordinates mean), ``up`` (``z`` as AMASS itself, or ``y``),
``track_id``, ``frame_indices (T,)`` and ``filled (T,)`` (frames without a fit, repeated from the
nearest fitted one). Loads with ``allow_pickle=False``.

    write_amass(motion.to_up("z", smpl), "out/export/0_amass.npz")
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from body_models.atomic import save_npz
from hmr.io.motion import Motion


def write_amass(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` (in an output frame, ``Motion.to_up``) as an AMASS-style npz."""
    if motion.up is None:
        raise ValueError("turn the motion into an output frame first (Motion.to_up)")
    return save_npz(path, poses=np.concatenate([motion.global_orient, motion.body_pose], 1).astype(np.float32),
                    trans=motion.transl.astype(np.float32), betas=motion.betas.astype(np.float32),
                    gender=np.array(motion.gender), mocap_framerate=np.float64(motion.fps),
                    surface_model_type=np.array("smpl"), body_model=np.array(motion.body_model),
                    frame=np.array(motion.frame_description), up=np.array(motion.up),
                    track_id=np.int64(motion.track_id), frame_indices=motion.frame_indices,
                    filled=motion.filled)
