"""The output stages that draw the bodies: ``meshes`` (one OBJ per person and frame) and
``overlay`` (the input video with the meshes, the 2D skeletons and optionally a panel of the
lifter's 3D joints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from body_models.meshes import save_obj_sequence
from body_models.progress import StageCounter, as_progress
from body_models.sequences import Joints3D, SMPLSequence, load_keypoints2d
from hmr.core.stages import BodySettings, CameraSettings, RunContext, StageSettings

__all__ = ["MeshesSettings", "OverlaySettings", "PosedBodies"]

MESH_CHUNK = 64  # frames posed per body-model call


class PosedBodies:
    """The bodies of ``smpl.npz`` (``SMPLSequence``) and the layer that poses them."""

    def __init__(self, smpl_path: Path, settings: BodySettings) -> None:
        self.data = SMPLSequence.load(smpl_path)
        self.smpl = settings.body()
        self.present = self.data.posable

    def vertices(self, rows: np.ndarray, people: np.ndarray) -> np.ndarray:
        """(N, V, 3) metres, camera frame, for frame rows ``rows`` and person columns ``people``."""
        with torch.no_grad():
            body = self.smpl(**{name: torch.as_tensor(value[rows, people], dtype=torch.float32)
                                for name, value in self.data.smpl_parameters().items()})
        return body.vertices.numpy()


@dataclass(frozen=True)
class MeshesSettings(BodySettings, StageSettings):
    """One OBJ per person and frame: ``meshes/<track>/<frame>.obj`` (SMPL vertex order, camera
    frame, metres)."""

    name: ClassVar[str] = "meshes"

    def run(self, out_dir: Path, ctx: RunContext, smpl: Path) -> dict[str, Path]:
        """Reports ``("meshes", meshes written, meshes)``."""
        bodies = PosedBodies(smpl, self)
        ok = bodies.present
        counter = StageCounter(as_progress(ctx.progress), "meshes", int(ok.sum()))
        model = bodies.smpl
        header = f"body model: {model.name}" + (" (synthetic stand-in, not SMPL)" if model.is_mannequin else "")
        track_ids, frames = bodies.data.track_ids, bodies.data.frame_indices
        for p in range(ok.shape[1]):
            rows = np.flatnonzero(ok[:, p])
            for start in range(0, len(rows), MESH_CHUNK):
                chunk = rows[start:start + MESH_CHUNK]
                save_obj_sequence(Path(out_dir) / "meshes" / str(int(track_ids[p])),
                                  bodies.vertices(chunk, np.full(len(chunk), p)), model.faces,
                                  frame_indices=frames[chunk], header=header)
                counter.advance(len(chunk))
        return {"meshes": Path(out_dir) / "meshes"}


@dataclass(frozen=True)
class OverlaySettings(BodySettings, CameraSettings, StageSettings):
    """``overlay.mp4``: the input frames with the meshes drawn on top.

    Attributes:
        skeleton: draw the 2D keypoints too (left blue, right orange; ``hmr.io.skeletons``).
        side_by_side: add a panel with the lifter's 3D joints beside each frame.
    """

    name: ClassVar[str] = "overlay"

    skeleton: bool = True
    side_by_side: bool = False

    def run(self, out_dir: Path, ctx: RunContext, video: Path, keypoints: Path, smpl: Path | None = None,
            joints3d: Path | None = None) -> dict[str, Path]:
        """Reports ``("overlay", frames written, frames in the video)``."""
        from hmr.io.video import VideoWriter, iter_frames, prefetch, probe_video

        info = probe_video(video)
        kp = load_keypoints2d(keypoints)
        row_of = {int(f): t for t, f in enumerate(kp.frame_indices)}
        draw = _FrameDrawer(self, kp, info, smpl, joints3d if self.side_by_side else None)
        counter = StageCounter(as_progress(ctx.progress), "overlay", info.num_frames or None)
        with VideoWriter(Path(out_dir) / "overlay.mp4", fps=info.fps or kp.fps or 30.0) as writer:
            for frame in prefetch(iter_frames(video)):
                writer.write(draw(frame.image, row_of.get(frame.index)), frame.time_s)
                counter.advance()
        return {"overlay": Path(out_dir) / "overlay.mp4"}


class _FrameDrawer:
    """One overlay frame: the meshes, then the skeletons, then the 3D panel."""

    def __init__(self, settings: OverlaySettings, kp, info, smpl: Path | None, joints3d: Path | None) -> None:
        from hmr.io.render import Camera, MeshRenderer

        self.settings = settings
        self.coco = kp.to_joint_set("coco_17").keypoints if kp.joint_set != "coco_17" else kp.keypoints
        self.bodies = PosedBodies(smpl, settings) if smpl is not None else None
        self.renderer = None
        if self.bodies is not None:
            camera = settings.intrinsics(kp.image_size)
            self.renderer = MeshRenderer(Camera(info.width, info.height, (camera.fx, camera.fy),
                                                (camera.cx, camera.cy)))
        self.lifted = None
        if joints3d is not None:
            lifted = Joints3D.load(joints3d)
            self.lifted = (lifted.joints, lifted.valid)

    def __call__(self, image: np.ndarray, t: int | None) -> np.ndarray:
        from hmr.io.skeletons import PANEL_BACKGROUND, draw_skeleton_2d, skeleton_panel

        if t is not None and self.renderer is not None:
            people = np.flatnonzero(self.bodies.present[t])
            if len(people):
                vertices = self.bodies.vertices(np.full(len(people), t), people)
                faces = self.bodies.smpl.faces
                image = self.renderer.overlay(image, [(v.astype(np.float64), faces) for v in vertices])
        if t is not None and self.settings.skeleton:
            image = draw_skeleton_2d(image, self.coco[t], "coco_17")
        if self.lifted is not None:
            panel = (skeleton_panel(self.lifted[0][t], self.lifted[1][t], image.shape[0]) if t is not None
                     else np.full((image.shape[0], image.shape[0], 3), PANEL_BACKGROUND, np.uint8))
            image = np.concatenate([image, panel], axis=1)
        return image
