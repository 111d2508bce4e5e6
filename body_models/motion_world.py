"""A richer motion world: everyday movements with transitions between them, for training.

``body_models.motion`` makes one kind of movement per clip with a small seeded variation. A model
trained only on that learns a narrow world; a lifter trained on it can score a low MPJPE while
barely moving (predicting the mean pose). This module strings many movements together:

- ``WORLD_SEGMENTS``: walk (straight or on a curve), run, turn on the spot, sit down and
  stand up, bend to the floor, reach (one or both arms, low to overhead), arm swings (circles,
  punches, big swings), jump (on the spot or forward), crouch, and standing idle.
- ``generate_world_motion``: a clip of segments drawn with seeded durations, each with its own
  speed, amplitude, direction and side, cross-faded into one another (transitions), plus this
  person's posture and small smooth noise; every frame within ``motion.JOINT_LIMITS``. With a
  pose prior, each clip also wanders around its motion by a smooth offset drawn from the
  covariance of the prior's component nearest the clip ("poses drawn from the prior around the
  motion").
- ``sample_world_poses``: varied single poses of the world (for priors and image datasets).
- ``body_models.motion_coverage`` measures how much of a pose prior a set of poses visits.

Frames and conventions are those of ``body_models.motion`` (SMPL's: y up, facing +z at yaw 0,
the subject's left at +x; Euler angles in each joint's ``JointLimit.order``). A walking or running
body travels along its heading, which turns with the segment's yaw rate, so clips may face any
direction; ``global_orient`` is then not continuous where the heading passes ±π (axis-angle
wraps there), the joints are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from body_models.errors import InputError
from body_models.joint_limits import _LOWER, _NUM_BODY, _UPPER, BODY_JOINTS, body_pose_to_euler, euler_to_body_pose
from body_models.motion import MotionClip, _Angles, _planted_translation, _smooth_noise, _smoothstep

__all__ = ["WORLD_SEGMENTS", "WorldClip", "generate_world_motion", "sample_world_poses"]


@dataclass(frozen=True)
class _Segment:
    """What one movement gives, on the clip's time axis (T frames)."""

    angles: np.ndarray  # (T, 23, 3) body Euler angles, radians
    root: np.ndarray  # (T, 3) pelvis yaw, pitch, roll added to the heading, radians
    speed: np.ndarray  # (T,) metres per second along the heading (negative: backwards)
    yaw_rate: np.ndarray  # (T,) radians per second the heading turns
    lift: np.ndarray  # (T,) metres above the planted height (jumps)


def _base(t: np.ndarray) -> tuple[_Angles, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(t)
    return _Angles(n), np.zeros((n, 3)), np.zeros(n), np.zeros(n), np.zeros(n)


def _arms_down(a: _Angles, rng: np.random.Generator, bend: float = 0.3) -> None:
    """Both arms hanging from the T-pose, elbows a little bent; varied per segment."""
    for side in ("left", "right"):
        a.add_side(side, "collar", z=-0.12)
        a.add_side(side, "shoulder", y=-0.1 + rng.uniform(-0.1, 0.1), z=-1.2 + rng.uniform(-0.15, 0.2))
        a.add_side(side, "elbow", y=-bend - rng.uniform(0.0, 0.3))


def _gait(t, rng, cadence, stride, knee_peak, arm_swing, elbow, lean):
    """Leg and arm cycle shared by walking and running (forwards only: a lifter trained on
    backward walking too cannot tell it from forward walking and learns a compromise whose knee
    flexion runs 2-3 frames ahead of forward walking's); returns (angles, phase)."""
    a = _Angles(len(t))
    phase = 2.0 * np.pi * cadence * t + rng.uniform(0.0, 2.0 * np.pi)
    a.add("spine1", x=lean)
    a.add("spine2", y=0.08 * stride * np.sin(phase))
    a.add("neck", x=-0.5 * lean)
    for side, q in (("left", phase), ("right", phase + np.pi)):
        swing = np.sin(q)  # > 0: leg behind
        a.add_side(side, "hip", x=-0.1 - 0.15 * max(knee_peak - 1.0, 0.0) + stride * swing)
        bent = ((1.0 + np.cos(q - 0.9 * np.pi)) / 2.0) ** 2
        a.add_side(side, "knee", x=0.1 + knee_peak * bent)
        a.add_side(side, "ankle", x=0.25 * stride * swing + 0.1 * bent)
        a.add_side(side, "collar", z=-0.12)
        a.add_side(side, "shoulder", y=-arm_swing * swing, z=-1.2 + rng.uniform(-0.1, 0.15))
        a.add_side(side, "elbow", y=-elbow - 0.3 * arm_swing * (1.0 + swing) / 2.0)
    return a, phase


def _walk(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    _, root, speed, yaw_rate, lift = _base(t)
    cadence = rng.uniform(0.6, 1.15)  # gait cycles per second
    stride = rng.uniform(0.15, 0.5)  # hip swing amplitude, radians
    a, phase = _gait(t, rng, cadence, stride, knee_peak=rng.uniform(0.5, 1.3),
                     arm_swing=rng.uniform(0.05, 0.6) * stride / 0.33, elbow=rng.uniform(0.15, 0.6),
                     lean=rng.uniform(-0.05, 0.2))
    root[:, 0] = -0.08 * stride / 0.33 * np.sin(phase)
    speed[:] = 2.0 * 2.0 * 0.85 * np.sin(stride) * cadence
    if rng.random() < 0.5:  # a curved path
        yaw_rate[:] = rng.uniform(-0.7, 0.7)
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _run(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    _, root, speed, yaw_rate, lift = _base(t)
    cadence = rng.uniform(1.2, 1.6)
    stride = rng.uniform(0.35, 0.6)
    a, phase = _gait(t, rng, cadence, stride, knee_peak=rng.uniform(1.3, 2.1),
                     arm_swing=rng.uniform(0.4, 0.9), elbow=rng.uniform(1.2, 1.7), lean=rng.uniform(0.1, 0.3))
    root[:, 0] = -0.1 * np.sin(phase)
    root[:, 1] = rng.uniform(0.0, 0.15)  # forward lean of the pelvis
    lift[:] = rng.uniform(0.02, 0.08) * np.abs(np.cos(phase))  # flight between steps
    speed[:] = 2.0 * 2.0 * 0.85 * np.sin(stride) * cadence * rng.uniform(1.1, 1.5)
    if rng.random() < 0.3:
        yaw_rate[:] = rng.uniform(-0.5, 0.5)
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _turn(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    a, root, speed, yaw_rate, lift = _base(t)
    _arms_down(a, rng)
    step = 2.0 * np.pi * rng.uniform(0.7, 1.2) * t + rng.uniform(0.0, 2.0 * np.pi)
    for side, q in (("left", step), ("right", step + np.pi)):
        up = np.maximum(np.sin(q), 0.0) ** 2  # stepping round, one foot at a time
        a.add_side(side, "hip", x=-0.4 * up)
        a.add_side(side, "knee", x=0.05 + 0.8 * up)
        a.add_side(side, "ankle", x=-0.2 * up)
    yaw_rate[:] = rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 2.0)
    a.add("neck", y=0.2 * np.sign(yaw_rate[0]))
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _hold_profile(t: np.ndarray, rng: np.random.Generator, period: tuple[float, float]) -> np.ndarray:
    """(T,) 0 → 1 → hold → 0, repeating: going down, staying, coming back up."""
    length = rng.uniform(*period)
    u = ((t + rng.uniform(0.0, length)) % length) / length
    return _smoothstep(u / 0.3) * (1.0 - _smoothstep((u - 0.65) / 0.3))


def _sit(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    a, root, speed, yaw_rate, lift = _base(t)
    d = _hold_profile(t, rng, (2.5, 5.0))
    moving = np.sin(np.pi * d)  # leaning forward while going down or getting up
    seat = rng.uniform(0.8, 1.0)
    _arms_down(a, rng)
    for side in ("left", "right"):
        a.add_side(side, "hip", x=-1.55 * seat * d, z=0.08 * d)
        a.add_side(side, "knee", x=1.6 * seat * d)
        a.add_side(side, "ankle", x=-0.15 * d - 0.2 * moving)
        a.add_side(side, "shoulder", y=-0.6 * d, z=0.2 * d)  # hands towards the thighs
        a.add_side(side, "elbow", y=-0.7 * d)
    a.add("spine1", x=0.15 * d + 0.45 * moving)
    a.add("spine2", x=0.15 * moving)
    a.add("neck", x=-0.3 * moving)
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _bend(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    a, root, speed, yaw_rate, lift = _base(t)
    d = _hold_profile(t, rng, (2.0, 4.0))
    pitch = rng.uniform(0.5, 1.1) * d  # the pelvis tips forward; the hips keep the legs upright
    root[:, 1] = pitch
    knees = rng.uniform(0.0, 0.6) * d
    _arms_down(a, rng)
    for side in ("left", "right"):
        a.add_side(side, "hip", x=-pitch - 0.5 * knees)
        a.add_side(side, "knee", x=knees)
        a.add_side(side, "ankle", x=-0.5 * knees)
        a.add_side(side, "shoulder", y=-(pitch + 0.6) * d)  # arms hang towards the floor
    a.add("spine1", x=0.4 * d)
    a.add("spine2", x=0.2 * d)
    a.add("spine3", x=0.15 * d)
    a.add("neck", x=-0.2 * d)
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _reach(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    a, root, speed, yaw_rate, lift = _base(t)
    _arms_down(a, rng)
    arms = [("left", "right")[int(rng.integers(2))]] if rng.random() < 0.7 else ["left", "right"]
    out = (1.0 - np.cos(2.0 * np.pi * rng.uniform(0.25, 0.6) * t + rng.uniform(0, 6.3))) / 2.0
    height = rng.uniform(-0.6, 2.3)  # abduction towards the target: low (-) to overhead (2.3)
    forward = rng.uniform(-1.4, 0.3)  # swing towards the target (negative: forward)
    for side in arms:
        a.add_side(side, "collar", z=0.15 * out * max(height, 0.0))
        a.add_side(side, "shoulder", y=(forward + 0.1) * out, z=height * out)
        a.add_side(side, "elbow", y=0.25 * out)
    low = max(0.0, -height)
    a.add("spine1", x=(0.1 + 0.5 * low) * out)
    if len(arms) == 1:
        a.add("spine2", y=(-0.25 if arms[0] == "left" else 0.25) * out)
    for side in ("left", "right"):
        a.add_side(side, "hip", x=-0.4 * low * out)
        a.add_side(side, "knee", x=0.6 * low * out)
        a.add_side(side, "ankle", x=-0.2 * low * out)
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _arm_swing(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    a, root, speed, yaw_rate, lift = _base(t)
    _arms_down(a, rng)
    omega = 2.0 * np.pi * rng.uniform(0.5, 1.5) * t
    style = int(rng.integers(3))
    anti = rng.random() < 0.5
    for k, side in enumerate(("left", "right")):
        q = omega + (np.pi if anti and k else 0.0) + rng.uniform(-0.2, 0.2)
        if style == 0:  # arm circles out to the side
            a.add_side(side, "shoulder", y=0.6 * np.sin(q), z=1.2 + 0.7 * np.cos(q))
        elif style == 1:  # punches: elbow from bent to straight, arm forward
            punch = (1.0 + np.sin(q)) / 2.0
            a.add_side(side, "shoulder", y=-1.1 - 0.3 * punch, z=0.9)
            a.add_side(side, "elbow", y=-1.6 + 1.5 * punch)
        else:  # big forward and back swings
            a.add_side(side, "shoulder", y=-1.0 * np.sin(q), z=0.2)
            a.add_side(side, "elbow", y=-0.3 * (1.0 + np.cos(q)))
    a.add("spine2", y=0.15 * np.sin(omega))
    for side in ("left", "right"):
        a.add_side(side, "knee", x=0.1)
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _jump(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    a, root, speed, yaw_rate, lift = _base(t)
    period = rng.uniform(0.9, 1.5)
    u = ((t + rng.uniform(0.0, period)) % period) / period
    crouch = np.exp(-((u - 0.2) / 0.1) ** 2) + 0.8 * np.exp(-((u - 0.85) / 0.08) ** 2)  # take-off, landing
    air = np.clip(1.0 - ((u - 0.52) / 0.16) ** 2, 0.0, None)  # parabola of the flight
    depth = rng.uniform(0.5, 1.0)
    for side in ("left", "right"):
        a.add_side(side, "hip", x=-1.2 * depth * crouch - 0.2 * air)
        a.add_side(side, "knee", x=1.5 * depth * crouch + 0.15 * air)
        a.add_side(side, "ankle", x=-0.3 * depth * crouch + 0.4 * air)
        a.add_side(side, "collar", z=-0.12 + 0.3 * air)
        a.add_side(side, "shoulder", y=0.4 * crouch - 1.2 * air, z=-1.1 + 0.8 * air)  # arms swing up
        a.add_side(side, "elbow", y=-0.3)
    a.add("spine1", x=0.4 * crouch)
    lift[:] = rng.uniform(0.1, 0.35) * air
    if rng.random() < 0.4:
        speed[:] = rng.uniform(0.5, 1.5) * air
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _crouch(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    a, root, speed, yaw_rate, lift = _base(t)
    d = _hold_profile(t, rng, (2.5, 5.0)) * rng.uniform(0.7, 1.0)
    shift = 0.1 * np.sin(2.0 * np.pi * 0.4 * t) * d  # weight shifts while down
    for side, s in (("left", 1.0), ("right", -1.0)):
        a.add_side(side, "hip", x=-1.9 * d, z=0.25 * d)
        a.add_side(side, "knee", x=2.3 * d + s * shift)
        a.add_side(side, "ankle", x=-0.45 * d)
        a.add_side(side, "collar", z=-0.12)
        a.add_side(side, "shoulder", y=-1.0 * d, z=-1.2 + 0.9 * d)  # arms forward for balance
        a.add_side(side, "elbow", y=-0.3 - 0.8 * d)
    a.add("spine1", x=0.5 * d)
    a.add("spine2", x=0.2 * d)
    a.add("neck", x=-0.4 * d)
    return _Segment(a.euler, root, speed, yaw_rate, lift)


def _idle(t: np.ndarray, rng: np.random.Generator) -> _Segment:
    a, root, speed, yaw_rate, lift = _base(t)
    _arms_down(a, rng)
    slow = 2.0 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 6.3)
    shift = 0.07 * np.sin(slow)
    for side in ("left", "right"):
        a.add(f"{side}_hip", z=shift)
        a.add(f"{side}_ankle", z=-shift)
    a.add("left_knee", x=0.06 + 0.08 * (1.0 + np.sin(slow)))
    a.add("right_knee", x=0.06 + 0.08 * (1.0 - np.sin(slow)))
    a.add("head", y=0.5 * np.sin(2.0 * np.pi * 0.12 * t + rng.uniform(0, 6.3)))
    if rng.random() < 0.4:  # hands on the hips
        for side in ("left", "right"):
            a.add_side(side, "shoulder", y=0.3, z=0.5)
            a.add_side(side, "elbow", y=-1.5)
    return _Segment(a.euler, root, speed, yaw_rate, lift)


_SEGMENTS: dict[str, Callable[[np.ndarray, np.random.Generator], _Segment]] = {
    "walk": _walk, "run": _run, "turn": _turn, "sit": _sit, "bend": _bend, "reach": _reach,
    "arm_swing": _arm_swing, "jump": _jump, "crouch": _crouch, "idle": _idle,
}
WORLD_SEGMENTS: tuple[str, ...] = tuple(_SEGMENTS)
"""The movements ``generate_world_motion`` strings together."""


@dataclass(frozen=True, eq=False)
class WorldClip(MotionClip):
    """A ``MotionClip`` of the motion world; ``kind`` is "world".

    Attributes:
        segments: the movement of each segment, in order.
        starts: (S,) seconds at which each segment takes over (the cross-fade's midpoint).
    """

    segments: tuple[str, ...] = ()
    starts: np.ndarray = None  # type: ignore[assignment]


def _schedule(duration: float, rng: np.random.Generator, segments: tuple[str, ...],
              segment_seconds: tuple[float, float]) -> tuple[list[str], np.ndarray]:
    names, starts, clock = [], [], 0.0
    while clock < duration or not names:
        names.append(segments[int(rng.integers(len(segments)))])
        starts.append(clock)
        clock += rng.uniform(*segment_seconds)
    return names, np.array(starts)


def _blend_weights(t: np.ndarray, starts: np.ndarray, fade: float) -> np.ndarray:
    """(S, T) weights summing to 1: segment i holds between its start and the next one's, with
    smooth cross-fades of ``fade`` seconds centred on each boundary."""
    ends = np.append(starts[1:], np.inf)
    up = np.where(np.arange(len(starts))[:, None] == 0, 1.0, _smoothstep((t - starts[:, None]) / fade + 0.5))
    down = 1.0 - _smoothstep((t - ends[:, None]) / fade + 0.5)
    weights = up * down + 1e-9
    return weights / weights.sum(axis=0, keepdims=True)


def _prior_offsets(euler: np.ndarray, t: np.ndarray, prior, scale: float, rng: np.random.Generator) -> np.ndarray:
    """(T, 23, 3) smooth Euler offsets: the covariance of the prior component most likely for the
    clip's mean pose, scaled by ``scale``, through a slowly varying unit Gaussian."""
    from body_models.priors import _log_gaussians

    mean_pose = euler_to_body_pose(euler.mean(axis=0))[None].astype(np.float64)
    k = int(np.argmax(_log_gaussians(mean_pose, prior.means, prior.covars)[0] + np.log(prior.weights)))
    latent = _smooth_noise(t, rng, (prior.dim,), 1.0)  # (T, 69), amplitude ~1
    latent /= max(float(latent.std()), 1e-6)
    chol = np.linalg.cholesky(prior.covars[k])
    around = euler_to_body_pose(euler) + scale * latent @ chol.T  # (T, 69) axis-angle
    return body_pose_to_euler(around) - euler


def _path(speed: np.ndarray, yaw_rate: np.ndarray, dt: float, heading0: float,
          arena_radius: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Heading (T,) radians and ground position (T, 2) metres (x, z) of a body that moves at
    ``speed`` along its heading while the heading turns at ``yaw_rate``; outside
    ``arena_radius`` of the start the heading also turns back towards it (up to 2.5 rad/s, faster when running)."""
    heading, position = np.empty(len(speed)), np.zeros((len(speed), 2))
    h, pos = heading0, np.zeros(2)
    for i in range(len(speed)):
        heading[i], position[i] = h, pos
        turn = yaw_rate[i]
        distance = float(np.hypot(*pos))
        if arena_radius is not None and distance > arena_radius and abs(speed[i]) > 1e-3:
            forward = np.sign(speed[i]) * np.array([np.sin(h), np.cos(h)])
            away = np.arctan2(forward[0] * pos[1] - forward[1] * pos[0], forward @ pos)
            turn += max(2.5, 1.5 * abs(speed[i])) * np.tanh(2.0 * (distance - arena_radius)) * np.sign(away) * (abs(away) < np.pi - 0.3)
        pos = pos + speed[i] * dt * np.array([np.sin(h), np.cos(h)])
        h += turn * dt
    return heading, position


def generate_world_motion(num_frames: int, fps: float = 30.0, seed: int = 0,
                          segments: tuple[str, ...] = WORLD_SEGMENTS,
                          segment_seconds: tuple[float, float] = (1.5, 4.0), fade_seconds: float = 0.6,
                          prior=None, prior_scale: float = 0.25,
                          arena_radius: float | None = None) -> WorldClip:
    """A clip of the motion world: seeded movements with cross-faded transitions.

    Args:
        num_frames: T, at least 1.
        fps: frames per second.
        seed: the same arguments give the same clip.
        segments: movements to draw from (``WORLD_SEGMENTS``); each segment draws its own speed,
            amplitude, direction and side.
        segment_seconds: (shortest, longest) duration of a segment.
        fade_seconds: length of each transition.
        prior: a ``priors.GMMPrior`` over the 69 body-pose values, or None; when given, the
            clip wanders around its motion by a smooth offset with ``prior_scale`` times the
            covariance of the component nearest its mean pose (then clamped to the limits).
        prior_scale: standard-deviation factor of that offset.
        arena_radius: metres; a travelling body that gets further than this from its start
            turns back towards it (None: it goes where its path takes it).

    Returns:
        A ``WorldClip``: ``global_orient``, ``body_pose`` within ``JOINT_LIMITS``, ``transl``
        (metres; the lowest heel or toe on the ground except in flight), the segment names and
        start times.
    """
    if int(num_frames) != num_frames or num_frames < 1:
        raise InputError(f"num_frames must be a positive integer, got {num_frames!r}")
    if not fps > 0:
        raise InputError(f"fps must be positive, got {fps!r}")
    unknown = [s for s in segments if s not in _SEGMENTS]
    if unknown or not segments:
        raise InputError(f"unknown world segments {unknown or '(none)'}; choose from {', '.join(WORLD_SEGMENTS)}")
    rng = np.random.default_rng(seed)
    t = np.arange(int(num_frames)) / float(fps)  # seconds
    names, starts = _schedule(float(t[-1]), rng, tuple(segments), segment_seconds)
    weights = _blend_weights(t, starts, fade_seconds)  # (S, T)
    parts = [_SEGMENTS[name](t - start, rng) for name, start in zip(names, starts)]

    def blend(field: str) -> np.ndarray:
        stacked = np.stack([getattr(p, field) for p in parts])  # (S, T, ...)
        return np.einsum("st,st...->t...", weights, stacked)

    posture = rng.normal(0.0, 0.04, size=(_NUM_BODY, 3))
    euler = blend("angles") + posture + _smooth_noise(t, rng, (_NUM_BODY, 3), 0.04)
    euler = np.clip(euler, _LOWER, _UPPER)
    if prior is not None:
        euler = np.clip(euler + _prior_offsets(euler, t, prior, prior_scale, rng), _LOWER, _UPPER)
    body_pose = euler_to_body_pose(euler)

    heading, travelled = _path(blend("speed"), blend("yaw_rate"), 1.0 / float(fps),
                               rng.uniform(-np.pi, np.pi), arena_radius)
    root = blend("root") + _smooth_noise(t, rng, (3,), 0.03)
    global_orient = Rotation.from_euler("YXZ", np.stack([heading + root[:, 0], root[:, 1], root[:, 2]], -1)).as_rotvec()
    transl = _planted_translation(global_orient, body_pose, keep_feet_xz=False)
    transl[:, 0] += travelled[:, 0]
    transl[:, 2] += travelled[:, 1]
    transl[:, 1] += blend("lift")
    return WorldClip(global_orient=global_orient.astype(np.float32), body_pose=body_pose.astype(np.float32),
                     transl=transl.astype(np.float32), kind="world", fps=float(fps),
                     segments=tuple(names), starts=starts)


def sample_world_poses(n: int, seed: int = 0, prior=None, prior_scale: float = 0.25) -> np.ndarray:
    """Varied body poses of the motion world: up to 24 random frames from each of many seeded
    12-second clips at 10 fps.

    Returns:
        (n, 69) float32 axis-angle body poses within ``JOINT_LIMITS``, radians.
    """
    if int(n) != n or n < 0:
        raise InputError(f"n must be a non-negative integer, got {n!r}")
    rng = np.random.default_rng(seed)
    chunks, count = [], 0
    while count < n:
        clip = generate_world_motion(120, fps=10.0, seed=int(rng.integers(2**31)), prior=prior,
                                     prior_scale=prior_scale)
        take = rng.choice(120, size=min(24, int(n) - count), replace=False)
        chunks.append(clip.body_pose[np.sort(take)])
        count += len(take)
    return np.concatenate(chunks) if chunks else np.zeros((0, 3 * len(BODY_JOINTS)), np.float32)
