"""The fit stage: SMPL bodies → ``smpl.npz``.

SMPLify against the 2D keypoints (``hmr.smplify.video.fit_keypoints_file``), started from the
regressor's estimate when there is one (and from the lifter's orientation when its joints are
given); or, with SMPLify off, the regressor's estimate alone, in the same schema. Smoothed in
time when asked (``hmr.world.smoothing``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from body_models.sequences import RegressorEstimates, SMPLSequence, load_keypoints2d, save_keypoints2d
from hmr.core.stages import CACHE_DIR, BodySettings, CameraSettings, RunContext, StageSettings

__all__ = ["FitSettings"]


@dataclass(frozen=True)
class FitSettings(BodySettings, CameraSettings, StageSettings):
    """Attributes:
        smplify: refine with SMPLify (else the regressor's estimate alone).
        prior: ``gmm_08.pkl`` (None: the body model's own).
        j_regressor_extra: ``J_regressor_extra.npy`` (COCO joints on a real SMPL model).
        mean_params: SPIN's ``smpl_mean_params.npz``, the start without a regressor.
        smplify_iterations: Adam steps per stage (None: SPIN's 100).
        smplify_full_mesh: skin the full mesh at every step (SPIN's way; the same fit, slower).
        smplify_warm_start, smplify_warm_iterations: ``fit_keypoints_file``'s warm start.
        temporal_weight: smoothness over frames (0: off).
        smooth: "none", "one-euro" or "temporal" smoothing of the fitted parameters.
        body_model, gender (``BodySettings``); focal_length, fov, calibration (``CameraSettings``).
    """

    name: ClassVar[str] = "fit"
    uses_device: ClassVar[bool] = True  # SMPLify runs there; it fits in fp32 whatever the precision

    smplify: bool = True
    prior: Path | None = None
    j_regressor_extra: Path | None = None
    mean_params: Path | None = None
    smplify_iterations: int | None = None
    smplify_full_mesh: bool = False
    smplify_warm_start: int = 0
    smplify_warm_iterations: int | None = None
    temporal_weight: float = 0.0
    smooth: str = "none"

    def key(self, ctx: RunContext) -> dict:
        key = super().key(ctx)
        if not self.smplify:  # the regressor's estimate alone: computed on the CPU
            key.pop("device", None)
        return key

    def compute(self, ctx: RunContext, inputs: dict) -> dict:
        from hmr.smplify.video import FIT_PRECISION

        if not self.smplify:
            return {"device": "cpu", "precision": "fp32", "note": "HMR's estimate alone (SMPLify off)"}
        compute = {"device": str(ctx.device), "precision": FIT_PRECISION}
        if ctx.precision != FIT_PRECISION:
            compute["note"] = (f"SMPLify fits in {FIT_PRECISION} whatever --precision says; "
                               f"--precision {ctx.precision} applies to the networks")
        return compute

    def run(self, out_dir: Path, ctx: RunContext, keypoints: Path, regressor: Path | None = None,
            joints3d: Path | None = None) -> dict[str, Path]:
        """``smpl.npz``; SMPLify reports ``("fit", person-frames done, person-frames)``."""
        out_dir = Path(out_dir)
        smpl_path = (self._fit(out_dir, ctx, keypoints, regressor, joints3d) if self.smplify
                     else self._from_regressor(out_dir, keypoints, regressor))
        if self.smooth != "none":
            from hmr.world.smoothing import smooth_smpl_file

            smooth_smpl_file(smpl_path, self.body(), self.smooth)
        return {"smpl": smpl_path}

    def _fit(self, out_dir: Path, ctx: RunContext, keypoints: Path, regressor: Path | None,
             joints3d: Path | None) -> Path:
        from hmr.smplify.video import fit_keypoints_file

        kp = load_keypoints2d(keypoints)
        camera = self.intrinsics(kp.image_size)
        if not camera.is_ideal:  # distortion or non-square pixels: fit the ideal camera's keypoints
            kp = replace(kp, keypoints=camera.ideal_keypoints(kp.keypoints).astype(np.float32))
            keypoints = save_keypoints2d(out_dir / CACHE_DIR / "keypoints2d_ideal_camera.npz", kp)
        fit_keypoints_file(
            keypoints, out_dir, body_model=self.body_model, gender=self.gender, prior=self.prior,
            focal_length=camera.fx, principal_point=(camera.cx, camera.cy), temporal_weight=self.temporal_weight,
            iterations=self.smplify_iterations, meshes=False, mean_params=self.mean_params,
            j_regressor_extra=self.j_regressor_extra, initial=regressor, progress=ctx.progress,
            orientation_joints=joints3d, joints_only=False if self.smplify_full_mesh else None,
            warm_start=self.smplify_warm_start, warm_iterations=self.smplify_warm_iterations, write_run_json=False,
            device=ctx.device)
        return out_dir / "smpl.npz"

    def _from_regressor(self, out_dir: Path, keypoints: Path, regressor: Path) -> Path:
        """``smpl.npz`` from the HMR estimate alone (SMPLify off): the fit's schema, with no fit
        (``SMPLSequence``'s defaults say so: nothing fitted, no loss)."""
        kp = load_keypoints2d(keypoints)
        est = RegressorEstimates.load(regressor)
        smpl = self.body()
        joints = np.full((*est.valid.shape, 24, 3), np.nan, np.float32)
        ok = est.valid & np.isfinite(est.transl).all(-1)
        if ok.any():
            with torch.no_grad():
                body = smpl(**{name: torch.as_tensor(value[ok]) for name, value in est.smpl_parameters().items()})
            joints[ok] = body.joints.numpy()
        width, height = kp.image_size
        bodies = SMPLSequence(
            global_orient=est.global_orient, body_pose=est.body_pose, betas=est.betas, cam=est.cam, transl=est.transl,
            joints=joints, valid=ok, focal_length=est.focal_length, principal_point=np.array([0.5 * width, 0.5 * height]),
            image_size=kp.image_size, track_ids=kp.track_ids, frame_indices=kp.frame_indices, fps=kp.fps,
            body_model=smpl.name, keypoints_joint_set=kp.joint_set, betas_per="frame")
        return bodies.save(out_dir / "smpl.npz")
