"""The ground plane under a static camera, from the feet of the fitted bodies.

Candidates are the lowest points of the feet (the foot's mesh vertices furthest down, the
camera's y at first, then the fitted plane's down) in frames where that foot is still (its foot
joint moves slower than ``STILL_SPEED_M_S``, or is in that foot's slowest ``STILL_QUANTILE`` of
frames: a per-frame fit's jitter keeps even a planted foot moving). RANSAC over those points finds the plane that most
of them lie on (within ``INLIER_M``); a least-squares fit to its inliers refines it. The normal
points up: to the side of the plane where the bodies are. When the points cannot tilt a plane (a
person standing on one spot gives two clusters on a line: narrower than ``MIN_SPREAD_M`` across)
or the plane leans more than ``MAX_TILT_DEG`` from the bodies' mean up direction (their pelvis
orientation's y axis), the normal is that up direction and the floor height the median of the
points along it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body_models.errors import InputError

STILL_SPEED_M_S = 0.3  # a foot moving slower than this is taken as resting on something
STILL_QUANTILE = 0.25  # ... and so is each foot in its slowest quarter of frames (noisy fits never stop)
INLIER_M = 0.03  # RANSAC inlier distance to the plane
RANSAC_TRIALS = 200
MIN_POINTS = 6
MIN_SPREAD_M = 0.15  # still-foot points narrower than this across do not pin down a plane's tilt
MAX_TILT_DEG = 30.0  # a plane this far from the bodies' mean up is taken as wrong
LEFT_FOOT, RIGHT_FOOT = (7, 10), (8, 11)  # SMPL ankle and foot joints per side


@dataclass(frozen=True)
class GroundPlane:
    """The plane n · x + d = 0 in the camera frame (metres), n a unit normal pointing up.

    Attributes:
        normal: (3,).
        offset: d, metres.
        inliers: how many foot points lie within ``INLIER_M``.
        candidates: how many foot points were tried.
    """

    normal: np.ndarray
    offset: float
    inliers: int
    candidates: int

    def height(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame metres → (...,) metres above the plane."""
        return points @ self.normal + self.offset

    @property
    def coefficients(self) -> np.ndarray:
        """(4,) (nx, ny, nz, d)."""
        return np.append(self.normal, self.offset)


def foot_vertex_groups(lbs_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertex indices mostly skinned to the left and right ankle/foot joints."""
    strongest = lbs_weights.argmax(1)
    return (np.flatnonzero(np.isin(strongest, LEFT_FOOT)), np.flatnonzero(np.isin(strongest, RIGHT_FOOT)))


def _plane_through(points: np.ndarray) -> tuple[np.ndarray, float]:
    centre = points.mean(0)
    normal = np.linalg.svd(points - centre)[2][-1]
    return normal, -float(normal @ centre)


def fit_ground_plane(vertices: np.ndarray, joints: np.ndarray, fps: float, feet: tuple[np.ndarray, np.ndarray],
                     body_up: np.ndarray, seed: int = 0) -> GroundPlane:
    """RANSAC plane on the lowest foot points of still feet.

    Args:
        vertices: (T, V, 3) camera-frame metres of the people's meshes (rows of several people
            may be stacked; NaN rows are skipped).
        joints: (T, 24, 3) the matching SMPL joints.
        fps: frames per second (for the foot speed).
        feet: the left and right foot vertex indices (``foot_vertex_groups``).
        body_up: (3,) the bodies' mean up direction, camera frame (unit).
    """
    ok = np.isfinite(joints).all((1, 2))
    speed = np.full((len(joints), 2), np.inf)
    step = np.linalg.norm(np.diff(joints[:, [LEFT_FOOT[1], RIGHT_FOOT[1]]], axis=0), axis=-1) * fps  # (T-1, 2)
    speed[1:] = step
    speed[:-1] = np.fmin(speed[:-1], step)  # either neighbour: the first frame counts too
    speed[~ok] = np.inf
    down = np.array([0.0, 1.0, 0.0])  # the camera's y points down
    plane = None
    for _ in range(2):  # pick the lowest points along the camera's down, then along the plane's
        points = []
        for side, group in enumerate(feet):
            finite = speed[np.isfinite(speed[:, side]), side]
            limit = max(STILL_SPEED_M_S, float(np.quantile(finite, STILL_QUANTILE))) if len(finite) else 0.0
            still = np.flatnonzero(speed[:, side] <= limit)
            if len(still):
                foot = vertices[still][:, group]  # (S, G, 3)
                points.append(foot[np.arange(len(still)), (foot @ down).argmax(1)])
        points = np.concatenate(points) if points else np.zeros((0, 3))
        if len(points) < MIN_POINTS:
            raise InputError(f"only {len(points)} still-foot points to fit a floor to (need {MIN_POINTS}); "
                             "the feet never rest, or the clip is too short")
        rng = np.random.default_rng(seed)
        best = None
        for _ in range(RANSAC_TRIALS):
            sample = points[rng.choice(len(points), 3, replace=False)]
            normal = np.cross(sample[1] - sample[0], sample[2] - sample[0])
            if np.linalg.norm(normal) < 1e-9:
                continue
            normal /= np.linalg.norm(normal)
            inliers = np.abs((points - sample[0]) @ normal) < INLIER_M
            if best is None or inliers.sum() > best.sum():
                best = inliers
        if best is None or best.sum() < 3:
            raise InputError("the still-foot points do not span a plane; the floor cannot be found")
        normal, offset = _plane_through(points[best])
        pelvis = joints[ok, 0].mean(0)
        if normal @ pelvis + offset < 0:
            normal, offset = -normal, -offset
        inliers = points[best]
        spread = np.linalg.svd(inliers - inliers.mean(0), compute_uv=False)[1] / np.sqrt(len(inliers))
        tilt = np.degrees(np.arccos(np.clip(normal @ body_up, -1.0, 1.0)))
        if 2.0 * spread < MIN_SPREAD_M or tilt > MAX_TILT_DEG:
            normal = body_up / np.linalg.norm(body_up)
            offset = -float(np.median(points @ normal))
            best = np.abs(points @ normal + offset) < INLIER_M
        plane = GroundPlane(normal, offset, int(best.sum()), len(points))
        down = -normal
    return plane
