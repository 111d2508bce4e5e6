"""A synthetic test clip: the mannequin in procedural motion, filmed by a known camera.

The demo and the end-to-end tests need a video whose truth is known in 2D, in 3D and in SMPL.
``make_synthetic_clip`` poses the mannequin with ``body_models.motion``, places it in front of a
pinhole camera, renders it over a checkerboard floor and writes:

- ``clip.mp4``: the rendered video (H.264);
- ``ground_truth.npz``: what was filmed, in the schema of the pipeline's outputs (camera frame:
  x right, y down, z forward, metres; pixels for 2D):
  ``keypoints (T, 1, 17, 3)`` COCO-17 pixels x, y, visibility; ``boxes (T, 1, 4)`` pixels;
  ``joints3d (T, 1, 17, 3)`` H36M-17 root-relative metres; ``trajectory (T, 1, 3)`` root metres;
  ``global_orient``, ``body_pose``, ``betas``, ``transl`` (SMPL parameters in the camera frame);
  ``joints (T, 1, 24, 3)`` SMPL joints (meshes are not stored: they follow from the parameters);
  ``focal_length``, ``image_size``, ``fps``, ``body_model``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from body_models.atomic import save_npz
from body_models.joints import COCO_17, H36M_17
from body_models.motion import generate_motion
from body_models.smpl import SMPL, load_smpl, rigid_transform_params
from hmr.io.render import Camera, MeshRenderer
from hmr.io.video import VideoWriter

__all__ = [
    "BODY_TO_CAMERA",
    "SCHEMA_VERSION",
    "SyntheticClip",
    "make_synthetic_clip",
    "pose_in_camera",
]

SCHEMA_VERSION = 1

# The camera looks at the subject's front: camera x = body x (the subject's left appears on the
# image right), camera y = -body y (down), camera z = -body z + distance.
BODY_TO_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


@dataclass(frozen=True)
class SyntheticClip:
    """Paths of a generated clip and its ground truth, and the camera that filmed it."""

    video: Path
    ground_truth: Path
    camera: Camera
    num_frames: int
    fps: float


def _view_rotation(elevation_deg: float, azimuth_deg: float) -> torch.Tensor:
    """(3, 3) body frame → camera frame for a camera that looks at the subject's front from
    ``elevation_deg`` above and ``azimuth_deg`` to the subject's left."""
    from body_models.rotations import axis_angle_to_matrix

    yaw = axis_angle_to_matrix(torch.tensor([0.0, np.radians(azimuth_deg), 0.0], dtype=torch.float32))
    pitch = axis_angle_to_matrix(torch.tensor([np.radians(elevation_deg), 0.0, 0.0], dtype=torch.float32))
    return pitch @ BODY_TO_CAMERA @ yaw


def pose_in_camera(smpl: SMPL, motion: str, num_frames: int, fps: float, seed: int,
                   camera_distance: float, elevation_deg: float = 0.0,
                   azimuth_deg: float = 0.0) -> dict[str, torch.Tensor]:
    """SMPL parameters of a procedural motion, moved into the camera frame.

    Returns:
        ``global_orient (T, 3)``, ``body_pose (T, 69)``, ``betas (T, 10)``, ``transl (T, 3)``
        (metres, camera frame), for a body that starts ``camera_distance`` metres in front of
        the camera and faces it.
    """
    clip = generate_motion(motion, num_frames, fps=fps, seed=seed)
    betas = torch.zeros(num_frames, smpl.num_betas)
    global_orient, transl = rigid_transform_params(
        torch.as_tensor(clip.global_orient), torch.as_tensor(clip.transl), smpl.rest_root(betas),
        _view_rotation(elevation_deg, azimuth_deg), torch.tensor([0.0, 0.0, camera_distance]))
    return {"global_orient": global_orient, "body_pose": torch.as_tensor(clip.body_pose),
            "betas": betas, "transl": transl}


def _floor(camera: Camera, rotation: np.ndarray, translation: np.ndarray, floor_y: float,
           tile: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8 background: a grey gradient wall and a checkerboard floor.

    The floor is the body frame's plane y = ``floor_y`` (SMPL's y is up), seen through the same
    rigid transform as the body: camera point = rotation @ body point + translation."""
    import cv2

    h, w = camera.height, camera.width
    ramp = np.linspace(150, 90, h, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(ramp * np.array([0.9, 0.95, 1.0], np.float32), (h, w, 3)).astype(np.uint8).copy()
    for i in range(-12, 12):
        for k in range(-40, 12):
            x0, z0 = i * tile, k * tile
            quad = np.array([[x0, floor_y, z0], [x0 + tile, floor_y, z0], [x0 + tile, floor_y, z0 + tile],
                             [x0, floor_y, z0 + tile]]) @ rotation.T + translation
            if (quad[:, 2] < 0.2).any():
                continue  # behind or too close to the camera
            shade = 120 if (i + k) % 2 else 170
            pts = np.round(camera.project(quad) * 16).astype(np.int32)
            cv2.fillConvexPoly(image, pts, (shade, shade - 10, shade - 25), lineType=cv2.LINE_AA, shift=4)
    return image


def make_synthetic_clip(out_dir: str | os.PathLike, motion: str = "walk", num_frames: int = 60,
                        fps: float = 30.0, image_size: tuple[int, int] = (640, 480),
                        focal_length: float = 600.0, camera_distance: float = 5.0,
                        elevation_deg: float = 0.0, azimuth_deg: float = 0.0, seed: int = 0,
                        smpl: SMPL | None = None, backend: str = "auto") -> SyntheticClip:
    """Render the mannequin in procedural motion and write ``clip.mp4`` and ``ground_truth.npz``.

    Args:
        out_dir: output folder.
        motion: a kind from ``body_models.motion.MOTION_KINDS``.
        num_frames: T.
        fps: frames per second.
        image_size: (width, height) pixels.
        focal_length: pixels; the principal point is the image centre.
        camera_distance: metres from the camera to the body at the first frame.
        elevation_deg: how far above the subject the camera looks from (degrees).
        azimuth_deg: how far to the subject's left the camera stands (degrees).
        seed: varies the motion.
        smpl: the body model; the mannequin by default.
        backend: renderer backend (``hmr.io.render``).
    """
    out_dir = Path(out_dir)
    smpl = smpl or load_smpl("mannequin")
    camera = Camera.simple(image_size[0], image_size[1], focal_length)
    params = pose_in_camera(smpl, motion, num_frames, fps, seed, camera_distance, elevation_deg, azimuth_deg)
    with torch.no_grad():
        body = smpl(**params)
    vertices = body.vertices.numpy().astype(np.float64)
    coco = body.joint_set("coco_17").numpy().astype(np.float64)
    h36m = body.h36m.numpy()

    uv = camera.project(coco)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < camera.width) & (uv[..., 1] >= 0) & (uv[..., 1] < camera.height)
    keypoints = np.concatenate([uv, inside[..., None].astype(np.float64)], -1).astype(np.float32)
    silhouette_uv = camera.project(vertices)
    boxes = np.concatenate([silhouette_uv.min(1), silhouette_uv.max(1)], -1).astype(np.float32)

    renderer = MeshRenderer(camera, backend)
    rotation = _view_rotation(elevation_deg, azimuth_deg).double().numpy()
    translation = np.array([0.0, 0.0, camera_distance])
    floor_y = float(((vertices - translation) @ rotation)[..., 1].min())  # the lowest foot, body frame
    background = _floor(camera, rotation, translation, floor_y)
    with VideoWriter(out_dir / "clip.mp4", fps=fps) as writer:
        for t in range(num_frames):
            writer.write(renderer.overlay(background, [(vertices[t], smpl.faces)], opacity=1.0))

    gt = save_npz(
        out_dir / "ground_truth.npz",
        schema_version=np.int64(SCHEMA_VERSION),
        keypoints=keypoints[:, None], boxes=boxes[:, None], valid=np.ones((num_frames, 1), bool),
        joint_names=np.array(COCO_17.names),
        joints3d=(h36m - h36m[:, :1])[:, None], trajectory=h36m[:, None, 0],
        joints3d_names=np.array(H36M_17.names),
        global_orient=params["global_orient"].numpy()[:, None], body_pose=params["body_pose"].numpy()[:, None],
        betas=params["betas"].numpy()[:, None], transl=params["transl"].numpy()[:, None],
        joints=body.joints.numpy()[:, None],
        focal_length=np.float64(focal_length), image_size=np.array(image_size, np.int64),
        fps=np.float64(fps), frame_indices=np.arange(num_frames), body_model=np.array(smpl.name),
        motion=np.array(motion),
    )
    return SyntheticClip(video=out_dir / "clip.mp4", ground_truth=gt, camera=camera,
                         num_frames=num_frames, fps=fps)
