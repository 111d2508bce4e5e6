"""Temporal smoothing of SMPL parameters and 3D joints: ``--smooth none|one-euro|temporal``.

- ``one-euro``: the One-Euro filter (Casiez et al., CHI 2012; ``hmr.pose2d.smoothing`` does it
  for 2D keypoints), causal. Vectors (``transl``, ``betas``, joints) are filtered as usual.
  Rotations are filtered on the rotation manifold: the step from the filtered rotation R̂ to the
  new one is δ = log(R̂ᵀ R_t) (an axis-angle vector), its speed |δ| · fps sets the cutoff, and
  R̂ ← R̂ · exp(α δ).
- ``temporal``: a centred Gaussian window of ``sigma_frames`` frames (cut at 3σ and at the ends
  of each run of frames). Vectors are weighted means; rotations the weighted chordal mean (the
  weighted sum of the rotation matrices projected back onto the rotations by SVD).

Each person's frames are smoothed in runs of consecutive fitted frames; a gap restarts the filter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from body_models.errors import InputError
from body_models.sequences import Joints3D, SMPLSequence

METHODS = ("none", "one-euro", "temporal")


@dataclass(frozen=True)
class SmoothingParams:
    """Attributes:
        min_cutoff: One-Euro cutoff at rest, Hz.
        beta: One-Euro cutoff rise per unit speed of vectors, Hz per m/s.
        beta_rotation: the same for rotations, Hz per rad/s.
        d_cutoff: One-Euro cutoff of the speed estimate, Hz.
        sigma_frames: ``temporal`` Gaussian standard deviation, frames.
    """

    min_cutoff: float = 1.5
    beta: float = 2.0
    beta_rotation: float = 1.0
    d_cutoff: float = 1.0
    sigma_frames: float = 1.5


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"unknown smoothing {method!r}; choose from {', '.join(METHODS)}")
    return method


def _alpha(cutoff, fps: float):
    return 1.0 / (1.0 + fps / (2.0 * np.pi * cutoff))


def _runs(valid: np.ndarray):
    """Slices of consecutive True frames."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    return [slice(a, b) for a, b in zip(edges[::2], edges[1::2])]


def _gaussian_weights(n: int, sigma: float) -> np.ndarray:
    """(n, n) row-normalised weights of a Gaussian over frame distance, cut at 3σ."""
    d = np.arange(n)[:, None] - np.arange(n)[None]
    w = np.exp(-0.5 * (d / max(sigma, 1e-6)) ** 2) * (np.abs(d) <= 3 * sigma)
    return w / w.sum(1, keepdims=True)


def _one_euro_vectors(x: np.ndarray, fps: float, p: SmoothingParams) -> np.ndarray:
    """(R, ..., D) → filtered, the speed taken over the last axis."""
    out = np.empty_like(x)
    state, speed = x[0].copy(), np.zeros(x.shape[1:-1])
    out[0] = state
    alpha_d = _alpha(p.d_cutoff, fps)
    for t in range(1, len(x)):
        raw = np.linalg.norm(x[t] - state, axis=-1) * fps
        speed = speed + alpha_d * (raw - speed)
        state = state + _alpha(p.min_cutoff + p.beta * speed, fps)[..., None] * (x[t] - state)
        out[t] = state
    return out


def _one_euro_rotations(rotvec: np.ndarray, fps: float, p: SmoothingParams) -> np.ndarray:
    """(R, K, 3) axis-angle → filtered on SO(3)."""
    n, k = rotvec.shape[:2]
    rot = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(n, k, 3, 3)
    state = rot[0].copy()
    out = np.empty_like(rot)
    out[0] = state
    speed = np.zeros(k)
    alpha_d = _alpha(p.d_cutoff, fps)
    for t in range(1, n):
        delta = Rotation.from_matrix(np.swapaxes(state, -1, -2) @ rot[t]).as_rotvec()  # (K, 3)
        speed = speed + alpha_d * (np.linalg.norm(delta, axis=-1) * fps - speed)
        step = _alpha(p.min_cutoff + p.beta_rotation * speed, fps)[:, None] * delta
        state = state @ Rotation.from_rotvec(step).as_matrix()
        out[t] = state
    return Rotation.from_matrix(out.reshape(-1, 3, 3)).as_rotvec().reshape(n, k, 3)


def _temporal_rotations(rotvec: np.ndarray, sigma: float) -> np.ndarray:
    n, k = rotvec.shape[:2]
    rot = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(n, k, 3, 3)
    mean = np.einsum("ts,skij->tkij", _gaussian_weights(n, sigma), rot)
    u, _, vt = np.linalg.svd(mean)
    fix = np.ones(mean.shape[:-1])
    fix[..., -1] = np.sign(np.linalg.det(u @ vt))
    projected = (u * fix[..., None, :]) @ vt
    return Rotation.from_matrix(projected.reshape(-1, 3, 3)).as_rotvec().reshape(n, k, 3)


def _per_run(x: np.ndarray, valid: np.ndarray, method: str, one_euro, temporal) -> np.ndarray:
    """Apply the method's filter to each person's runs of consecutive valid frames of (T, P, ...)."""
    check_method(method)
    out = np.array(x, dtype=np.float64, copy=True)
    if method == "none":
        return out
    for p in range(valid.shape[1]):
        for run in _runs(valid[:, p]):
            if run.stop - run.start >= 2:
                out[run, p] = (one_euro if method == "one-euro" else temporal)(out[run, p])
    return out


def smooth_vectors(x: np.ndarray, valid: np.ndarray, fps: float, method: str,
                   params: SmoothingParams = SmoothingParams()) -> np.ndarray:
    """Smooth (T, P, ..., D) vectors along time (metres, or any unit), person by person.

    Args:
        x: (T, P, ..., D); rows of frames not ``valid`` are left as they are.
        valid: (T, P) bool.
        fps: frames per second.
        method: one of ``METHODS``.
    """
    def temporal(seg):
        return np.einsum("ts,s...->t...", _gaussian_weights(len(seg), params.sigma_frames), seg)

    return _per_run(x, valid, method, lambda seg: _one_euro_vectors(seg, fps, params), temporal)


def smooth_rotations(rotvec: np.ndarray, valid: np.ndarray, fps: float, method: str,
                     params: SmoothingParams = SmoothingParams()) -> np.ndarray:
    """Smooth (T, P, K, 3) axis-angle rotations (radians) along time on the rotation manifold."""
    return _per_run(rotvec, valid, method, lambda seg: _one_euro_rotations(seg, fps, params),
                    lambda seg: _temporal_rotations(seg, params.sigma_frames))


def smooth_smpl_sequence(fit: SMPLSequence, smpl, method: str,
                         params: SmoothingParams = SmoothingParams()) -> SMPLSequence:
    """``fit`` with ``global_orient``, ``body_pose`` (on the manifold), ``transl`` and ``betas``
    smoothed, ``joints`` recomputed and ``smoothing`` naming the method; the rest unchanged."""
    import torch

    check_method(method)
    if method == "none":
        return fit
    ok = fit.valid & np.isfinite(fit.transl).all(-1) & np.isfinite(fit.body_pose).all(-1)
    fps = fit.fps or 30.0
    t_all, p_all = ok.shape
    pose = np.concatenate([fit.global_orient, fit.body_pose], -1).reshape(t_all, p_all, 24, 3)
    pose = smooth_rotations(pose, ok, fps, method, params)
    smoothed = {"global_orient": pose[:, :, 0].astype(np.float32),
                "body_pose": pose[:, :, 1:].reshape(t_all, p_all, 69).astype(np.float32),
                "transl": smooth_vectors(fit.transl, ok, fps, method, params).astype(np.float32),
                "betas": smooth_vectors(fit.betas[..., None], ok, fps, method, params)[..., 0].astype(np.float32)}
    joints = fit.joints
    if joints is not None and ok.any():
        joints = np.array(joints, dtype=np.float32, copy=True)
        with torch.no_grad():
            body = smpl(**{k: torch.as_tensor(value[ok]) for k, value in smoothed.items()})
        joints[ok] = body.joints.numpy()
    return dataclasses.replace(fit, **smoothed, joints=joints, smoothing=method)


def smooth_smpl_file(path, smpl, method: str, params: SmoothingParams = SmoothingParams()) -> Path:
    """Smooth ``smpl.npz`` in place; the fit as it was goes to ``smpl_unsmoothed.npz`` beside it."""
    path = Path(path)
    fit = SMPLSequence.load(path)
    fit.save(path.with_name("smpl_unsmoothed.npz"))
    return smooth_smpl_sequence(fit, smpl, method, params).save(path)


def smooth_joints3d_file(path, method: str, params: SmoothingParams = SmoothingParams()) -> None:
    """Smooth the lifter's ``joints3d.npz`` (joints and trajectory) in place, and its ``.json``."""
    from lifting.inference import save_joints3d_json  # the JSON layout lives with the lifter's writer

    path = Path(path)
    lifted = Joints3D.load(path)
    fps = lifted.fps if np.isfinite(lifted.fps) and lifted.fps > 0 else 30.0

    def smooth(x: np.ndarray) -> np.ndarray:
        return smooth_vectors(x, lifted.valid, fps, method, params).astype(np.float32)

    lifted = dataclasses.replace(lifted, joints=smooth(lifted.joints),
                                 trajectory=None if lifted.trajectory is None else smooth(lifted.trajectory))
    lifted.save(path)
    save_joints3d_json(path.with_suffix(".json"), lifted)
