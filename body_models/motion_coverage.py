"""How much of a pose prior a set of poses visits: per-joint angle ranges and probability mass.

    report = coverage(sample_world_poses(4000), load_gmm(gmm_prior_path()))
    print(format_coverage(report))

- Per-joint angle ranges: for every body joint and Euler axis (``motion.JOINT_LIMITS``'s
  decomposition), the range the poses span, as a share of the range the prior spans (its samples'
  1st to 99th percentile) and of the joint limit's range.
- Probability mass visited: the share of samples drawn from the prior that have a pose of the set
  within ``radius`` (root-mean-square over the 69 axis-angle values, radians). With enough
  samples this estimates the prior mass lying within ``radius`` of the set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body_models.errors import InputError
from body_models.joint_limits import _LOWER, _UPPER, BODY_JOINTS, body_pose_to_euler

__all__ = ["Coverage", "coverage", "format_coverage", "sample_prior"]

DEFAULT_RADIUS = 0.15  # radians, RMS over the 69 body-pose values (about 9° per value)


def sample_prior(prior, n: int, seed: int = 0) -> np.ndarray:
    """(n, D) float64 samples of a ``priors.GMMPrior`` (component by weight, then its Gaussian)."""
    rng = np.random.default_rng(seed)
    components = rng.choice(prior.num_components, size=int(n), p=prior.weights / prior.weights.sum())
    chols = np.linalg.cholesky(prior.covars)  # (K, D, D)
    noise = rng.standard_normal((int(n), prior.dim))
    return prior.means[components] + np.einsum("nij,nj->ni", chols[components], noise)


@dataclass(frozen=True)
class Coverage:
    """What ``coverage`` measured.

    Attributes:
        joints: the 23 body joints, in ``body_pose`` order.
        pose_range: (23, 3, 2) radians, (low, high) Euler angle of the poses per joint and axis.
        prior_range: (23, 3, 2) radians, the prior samples' 1st and 99th percentiles.
        of_prior: (23, 3) share of the prior's range the poses' range covers (0..1).
        of_limits: (23, 3) share of the joint limit's range the poses' range covers (0..1).
        mass_visited: share of prior samples within ``radius`` of some pose.
        radius: radians, RMS over the 69 values.
        num_poses, num_prior_samples: sizes of the two sets.
    """

    joints: tuple[str, ...]
    pose_range: np.ndarray
    prior_range: np.ndarray
    of_prior: np.ndarray
    of_limits: np.ndarray
    mass_visited: float
    radius: float
    num_poses: int
    num_prior_samples: int


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Length of the intersection of intervals a and b (..., 2) over the length of b."""
    inter = np.clip(np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    return inter / np.maximum(b[..., 1] - b[..., 0], 1e-9)


def coverage(poses: np.ndarray, prior, num_prior_samples: int = 2000, radius: float = DEFAULT_RADIUS,
             seed: int = 0) -> Coverage:
    """Measure how much of ``prior`` the ``poses`` visit.

    Args:
        poses: (N, 69) axis-angle body poses, radians.
        prior: a ``priors.GMMPrior`` over the 69 values (the mannequin's, or SMPLify's gmm_08).
        num_prior_samples: prior samples for the ranges and the mass estimate.
        radius: radians, RMS over the 69 values, within which a prior sample counts as visited.
        seed: seeds the prior samples.

    Returns:
        A ``Coverage``.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] != 3 * len(BODY_JOINTS) or len(poses) == 0:
        raise InputError(f"poses must be (N, {3 * len(BODY_JOINTS)}) axis-angle body poses, N > 0; got {poses.shape}")
    if prior.dim != poses.shape[1]:
        raise InputError(f"the prior is over {prior.dim} values, the poses have {poses.shape[1]}")
    samples = sample_prior(prior, num_prior_samples, seed)
    euler = body_pose_to_euler(poses)  # (N, 23, 3)
    prior_euler = body_pose_to_euler(samples)
    pose_range = np.stack([euler.min(0), euler.max(0)], -1)
    prior_range = np.stack([np.percentile(prior_euler, 1, axis=0), np.percentile(prior_euler, 99, axis=0)], -1)
    limits = np.stack([_LOWER, _UPPER], -1)
    nearest = np.full(len(samples), np.inf)
    for start in range(0, len(poses), 2048):  # squared distances in blocks, (S, B)
        block = poses[start:start + 2048]
        d2 = (samples * samples).sum(1)[:, None] - 2.0 * samples @ block.T + (block * block).sum(1)[None]
        nearest = np.minimum(nearest, d2.min(axis=1))
    rms = np.sqrt(np.clip(nearest, 0.0, None) / poses.shape[1])
    return Coverage(joints=BODY_JOINTS, pose_range=pose_range, prior_range=prior_range,
                    of_prior=_overlap(pose_range, prior_range), of_limits=_overlap(pose_range, limits),
                    mass_visited=float((rms <= radius).mean()), radius=float(radius), num_poses=len(poses),
                    num_prior_samples=int(num_prior_samples))


def format_coverage(report: Coverage, name: str = "poses") -> str:
    """A plain-text table: per joint the share of the prior's and the limits' range covered
    (mean over the three axes, %), then the totals."""
    lines = [f"{'joint':<16} {'% of prior range':>17} {'% of limit range':>17}"]
    for j, joint in enumerate(report.joints):
        lines.append(f"{joint:<16} {100 * report.of_prior[j].mean():17.1f} {100 * report.of_limits[j].mean():17.1f}")
    lines.append(f"{'all joints':<16} {100 * report.of_prior.mean():17.1f} {100 * report.of_limits.mean():17.1f}")
    lines.append(f"{name}: {report.num_poses} poses visit {100 * report.mass_visited:.1f} % of the prior's mass "
                 f"(prior samples within {report.radius:g} rad RMS of a pose; {report.num_prior_samples} samples)")
    return "\n".join(lines)
