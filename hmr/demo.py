"""The embedded default: the mannequin body walks, and every frame becomes an OBJ mesh.

This is the smaller honest demo that stands until the full pipeline (video → HRNet → lifter →
HMR → SMPLify) lands: it builds the synthetic mannequin body model and its prior files, poses it
with procedural motion and exports what the pipeline will export for a body, in the schema of
DESIGN.md. No learned model runs here, and the outputs say so.

    hmr demo --out demo_out
    hmr demo --out demo_out --motion wave --frames 30
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from body_models.atomic import save_npz
from body_models.joints import H36M_17, SMPL_24
from body_models.meshes import save_obj_sequence
from body_models.motion import generate_motion
from body_models.smpl import load_smpl, rigid_transform_params
from hmr.provenance import RunRecord

SCHEMA_VERSION = 1

# The demo's virtual camera looks at the subject's front: camera x = body x (the subject's left
# appears on the image right), camera y = -body y (down), camera z = -body z + distance.
BODY_TO_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def run_demo(out_dir: str | os.PathLike, motion: str = "walk", num_frames: int = 60,
             fps: float = 30.0, seed: int = 0, camera_distance: float = 5.0,
             write_meshes: bool = True) -> dict[str, Path]:
    """Pose the mannequin with a procedural motion and write its SMPL parameters, joints and meshes.

    Args:
        out_dir: output folder.
        motion: a kind from ``body_models.motion.MOTION_KINDS``.
        num_frames: T, the clip length.
        fps: frames per second of the clip.
        seed: varies speed, amplitude and phase of the motion.
        camera_distance: metres from the virtual camera to the body's start position.
        write_meshes: also write ``meshes/0/<frame>.obj``.

    Returns:
        The paths written, by role.
    """
    out_dir = Path(out_dir)
    record = RunRecord("demo", {"motion": motion, "num_frames": num_frames, "fps": fps, "seed": seed,
                                "camera_distance": camera_distance})
    with record.stage("body_model"):
        smpl = load_smpl("mannequin")
    with record.stage("motion"):
        clip = generate_motion(motion, num_frames, fps=fps, seed=seed)
    with record.stage("skinning"), torch.no_grad():
        betas = torch.zeros(num_frames, smpl.num_betas)
        global_orient, transl = rigid_transform_params(
            torch.as_tensor(clip.global_orient), torch.as_tensor(clip.transl), smpl.rest_root(betas),
            BODY_TO_CAMERA, torch.tensor([0.0, 0.0, camera_distance]))
        body = smpl(betas=betas, body_pose=torch.as_tensor(clip.body_pose), global_orient=global_orient,
                    transl=transl)
    written = {}
    with record.stage("export"):
        t = num_frames
        written["smpl"] = save_npz(
            out_dir / "smpl.npz",
            schema_version=np.int64(SCHEMA_VERSION),
            global_orient=global_orient.numpy()[:, None],
            body_pose=clip.body_pose[:, None].astype(np.float32),
            betas=betas.numpy()[:, None],
            transl=transl.numpy()[:, None],
            joints=body.joints.numpy()[:, None],
            joint_names=np.array(SMPL_24.names),
            valid=np.ones((t, 1), bool),
            fps=np.float64(fps),
            frame_indices=np.arange(t),
            body_model=np.array(smpl.name),
            source=np.array(f"procedural {motion} motion (ground truth, no model ran)"),
        )
        written["joints3d"] = save_npz(
            out_dir / "joints3d_gt.npz",
            schema_version=np.int64(SCHEMA_VERSION),
            joints=(body.h36m - body.h36m[:, :1]).numpy()[:, None],
            trajectory=body.h36m[:, 0].numpy()[:, None],
            joint_names=np.array(H36M_17.names),
            parents=np.array(H36M_17.parents),
            valid=np.ones((t, 1), bool),
            fps=np.float64(fps),
            body_model=np.array(smpl.name),
        )
        if write_meshes:
            header = f"body model: {smpl.name}" + (" (synthetic stand-in, not SMPL)" if smpl.is_mannequin else "")
            paths = save_obj_sequence(out_dir / "meshes" / "0", body.vertices, smpl.faces, header=header)
            written["meshes"] = paths[0].parent
    written["run"] = record.save(out_dir / "run.json")
    return written
