"""Procedural SMPL motion: plausible pose sequences within joint limits.

Used by tests, by the synthetic datasets and by the demo, wherever a recorded motion would be
licensed or too large. Every clip is a smooth function of time built from a few sinusoids per
joint; the seed varies speed, amplitude, phase, which arm acts, posture and a small smooth noise.

Frames and conventions (SMPL's): y up, the subject faces +z, the subject's left is +x. A pose is
24 joints × axis-angle in radians in ``joints.SMPL_24`` order: ``global_orient`` is the root
(pelvis), ``body_pose`` the other 23 joints (69 values). At rest SMPL stands in a T-pose with the
arms horizontal, so every motion here first lowers the arms about z at the collars and shoulders.

Joint angles are written as Euler angles within each joint's range of motion
(``body_models.joint_limits``, whose docstring gives the axis orders and sign conventions); the
names of that module are importable from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from body_models.errors import InputError
from body_models.joint_limits import (_LOWER, _NUM_BODY, _UPPER, BODY_JOINTS, JOINT_LIMITS, JointLimit,
                                      body_pose_to_euler, clamp_to_limits, euler_to_body_pose, within_limits)
from body_models.joints import SMPL_24

__all__ = [
    "BODY_JOINTS",
    "JOINT_LIMITS",
    "MOTION_KINDS",
    "JointLimit",
    "MotionClip",
    "body_pose_to_euler",
    "clamp_to_limits",
    "euler_to_body_pose",
    "generate_motion",
    "sample_poses",
    "within_limits",
]

_X, _Y, _Z = 0, 1, 2


# ---------------------------------------------------------------------------------------------
# Forward kinematics on an approximate SMPL skeleton (used to keep the feet on the ground)

# Approximate rest joint positions of the neutral SMPL body, metres, relative to the pelvis;
# right joints mirror the left ones. Only the proportions matter here.
_REST_LEFT_AND_CENTRE: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, 0.0, 0.0), "left_hip": (0.06, -0.09, -0.01), "spine1": (0.0, 0.11, -0.03),
    "left_knee": (0.10, -0.47, -0.01), "spine2": (0.0, 0.25, -0.02),
    "left_ankle": (0.09, -0.89, -0.05), "spine3": (0.0, 0.30, 0.0),
    "left_foot": (0.12, -0.95, 0.07), "neck": (0.0, 0.51, -0.03),
    "left_collar": (0.08, 0.42, -0.01), "head": (0.0, 0.60, 0.02),
    "left_shoulder": (0.16, 0.46, -0.04), "left_elbow": (0.42, 0.45, -0.06),
    "left_wrist": (0.65, 0.45, -0.07), "left_hand": (0.74, 0.44, -0.08),
}
_REST_JOINTS = np.array([
    _REST_LEFT_AND_CENTRE[n] if not n.startswith("right_")
    else np.array(_REST_LEFT_AND_CENTRE["left_" + n[6:]]) * (-1.0, 1.0, 1.0)
    for n in SMPL_24.names
])  # (24, 3)
_ANKLES = [SMPL_24.index("left_ankle"), SMPL_24.index("right_ankle")]
_TOES = [SMPL_24.index("left_foot"), SMPL_24.index("right_foot")]
# The heel, under and behind the ankle joint, level with the foot joint (the ball of the foot):
# with the foot joints, the points that touch the ground.
_HEEL_OFFSET = np.array([0.0, -0.06, -0.05])  # metres, from the ankle, in the ankle's frame


def _kinematics(global_orient: np.ndarray, body_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics of the approximate skeleton (SMPL's chain, without ``transl``).

    Args:
        global_orient: (T, 3) axis-angle, radians.
        body_pose: (T, 69) axis-angle, radians.

    Returns:
        joints (T, 24, 3) metres with the rest pelvis at the origin, and each joint's rotation
        in the world frame (T, 24, 3, 3).
    """
    pose = np.concatenate([global_orient, body_pose], axis=-1).reshape(-1, 24, 3)
    local = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(-1, 24, 3, 3)
    world = np.empty_like(local)
    positions = np.empty((len(pose), 24, 3))
    for j, parent in enumerate(SMPL_24.parents):
        if parent < 0:
            world[:, j] = local[:, j]
            positions[:, j] = _REST_JOINTS[j]
            continue
        offset = _REST_JOINTS[j] - _REST_JOINTS[parent]
        world[:, j] = world[:, parent] @ local[:, j]
        positions[:, j] = positions[:, parent] + world[:, parent] @ offset
    return positions, world


def _planted_translation(global_orient: np.ndarray, body_pose: np.ndarray, keep_feet_xz: bool) -> np.ndarray:
    """(T, 3) translation, metres, that keeps the lowest heel or toe on the ground (at its rest
    height) and, if ``keep_feet_xz``, the midpoint of the ankles where it is at rest."""
    joints, world = _kinematics(global_orient, body_pose)
    heels = joints[:, _ANKLES] + world[:, _ANKLES] @ _HEEL_OFFSET  # (T, 2, 3)
    lowest = np.minimum(heels[..., 1].min(axis=1), joints[:, _TOES, 1].min(axis=1))
    transl = np.zeros((len(joints), 3))
    transl[:, 1] = _REST_JOINTS[_TOES, 1].min() - lowest
    if keep_feet_xz:
        rest_mid = _REST_JOINTS[_ANKLES].mean(axis=0)
        mid = joints[:, _ANKLES].mean(axis=1)
        transl[:, [0, 2]] = rest_mid[[0, 2]] - mid[:, [0, 2]]
    return transl


# ---------------------------------------------------------------------------------------------
# Motion generators


@dataclass(frozen=True)
class _Style:
    """What a seed varies: amplitude and speed factors, a phase, the acting side, noise."""

    amplitude: float  # factor on the motion's angles, ~0.8–1.2
    speed: float  # factor on the motion's frequency, ~0.8–1.25
    phase: float  # radians
    side: str  # "left" or "right": the arm that waves or reaches
    rng: np.random.Generator

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _Style:
        return cls(
            amplitude=float(rng.uniform(0.8, 1.2)),
            speed=float(rng.uniform(0.8, 1.25)),
            phase=float(rng.uniform(0.0, 2.0 * np.pi)),
            side=("left", "right")[int(rng.integers(2))],
            rng=rng,
        )


class _Angles:
    """Euler angles (T, 23, 3) being built, set by joint name."""

    def __init__(self, num_frames: int) -> None:
        self.euler = np.zeros((num_frames, _NUM_BODY, 3))

    def add(self, joint: str, x=0.0, y=0.0, z=0.0) -> None:
        """Add angles (scalars or (T,) arrays, radians) to a joint, as written."""
        j = BODY_JOINTS.index(joint)
        self.euler[:, j, _X] += x
        self.euler[:, j, _Y] += y
        self.euler[:, j, _Z] += z

    def add_side(self, side: str, part: str, x=0.0, y=0.0, z=0.0) -> None:
        """Add angles written for the LEFT joint ``left_<part>`` to ``<side>_<part>``, mirrored
        (y and z negated) when ``side`` is right, so both sides share one description."""
        sign = 1.0 if side == "left" else -1.0
        self.add(f"{side}_{part}", x, sign * np.asarray(y), sign * np.asarray(z))


class _Curves(NamedTuple):
    """What a generator returns."""

    angles: _Angles  # body joints
    root: np.ndarray  # (T, 3) yaw, pitch, roll of the pelvis, radians
    offset: np.ndarray  # (T, 3) metres added to the translation that keeps the feet planted
    feet_fixed: bool  # whether the feet stay where they are (False: the body travels)


def _still(t: np.ndarray) -> np.ndarray:
    return np.zeros((len(t), 3))


def _smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _relaxed_arms(a: _Angles, style: _Style) -> None:
    """Arms hanging by the sides (lowered from the T-pose), slightly bent, with a slow drift."""
    rng = style.rng
    for side in ("left", "right"):
        a.add_side(side, "collar", z=-0.12)
        a.add_side(side, "shoulder", y=-0.08, z=-1.15 + rng.uniform(-0.08, 0.08))
        a.add_side(side, "elbow", y=-0.25 - rng.uniform(0.0, 0.2))


def _walk(t: np.ndarray, style: _Style) -> _Curves:
    a, amp = _Angles(len(t)), style.amplitude
    cadence = 0.9 * style.speed  # gait cycles per second
    phase = 2.0 * np.pi * cadence * t + style.phase
    a.add("spine1", x=0.05)
    a.add("spine2", y=0.06 * amp * np.sin(phase))
    a.add("neck", x=-0.05)
    _relaxed_arms(a, style)
    for side, q in (("left", phase), ("right", phase + np.pi)):
        a.add_side(side, "hip", x=-0.08 + 0.33 * amp * np.sin(q))  # sin(q) > 0: leg behind
        a.add_side(side, "knee", x=0.08 + amp * ((1.0 + np.cos(q - 0.9 * np.pi)) / 2.0) ** 2)
        a.add_side(side, "ankle", x=0.2 * amp * np.sin(q))
        a.add_side(side, "shoulder", y=-0.28 * amp * np.sin(q))  # arm swings against the leg
        a.add_side(side, "elbow", y=-0.12 * amp * (1.0 + np.sin(q)))
    root = np.zeros((len(t), 3))
    root[:, 0] = -0.08 * amp * np.sin(phase)  # pelvis yaw
    step_length = 2.0 * 0.85 * np.sin(0.33 * amp)  # metres, two legs of ~0.85 m
    forward = _still(t)
    forward[:, 2] = 2.0 * step_length * cadence * t  # metres along +z, ~1 m/s
    return _Curves(a, root, forward, feet_fixed=False)


def _wave(t: np.ndarray, style: _Style) -> _Curves:
    a, amp = _Angles(len(t)), style.amplitude
    _relaxed_arms(a, style)
    raised = _smoothstep(t * style.speed / 0.8)  # (T,) 0 → 1 while the arm comes up
    wave = np.sin(2.0 * np.pi * 1.8 * style.speed * t + style.phase)
    # From hanging to waving: upper arm out to the side a little above horizontal, twisted so
    # that the bent forearm points up, then the elbow opens and closes.
    a.add_side(style.side, "collar", z=raised * 0.2)
    a.add_side(style.side, "shoulder", x=-1.4 * raised, y=-0.2 * raised, z=raised * 1.45)
    a.add_side(style.side, "elbow", y=raised * (-0.95 - 0.3 * amp * wave))
    a.add("neck", y=(0.15 if style.side == "left" else -0.15) * raised)
    a.add("spine2", z=0.03 * np.sin(2.0 * np.pi * 0.3 * t + style.phase))
    return _Curves(a, _still(t), _still(t), feet_fixed=True)


def _squat(t: np.ndarray, style: _Style) -> _Curves:
    a, amp = _Angles(len(t)), style.amplitude
    depth = amp * (1.0 - np.cos(2.0 * np.pi * 0.35 * style.speed * t + style.phase)) / 2.0
    _relaxed_arms(a, style)
    for side in ("left", "right"):
        hip, knee = -1.3 * depth, 1.7 * depth
        a.add_side(side, "hip", x=hip, z=0.12 * depth)
        a.add_side(side, "knee", x=knee)
        a.add_side(side, "ankle", x=-(hip + knee))  # keeps the feet flat
        a.add_side(side, "shoulder", y=-1.1 * depth, z=0.9 * depth)  # arms forward for balance
    a.add("spine1", x=0.35 * depth)
    a.add("spine2", x=0.1 * depth)
    a.add("neck", x=-0.3 * depth)
    return _Curves(a, _still(t), _still(t), feet_fixed=True)


def _reach(t: np.ndarray, style: _Style) -> _Curves:
    a, amp, rng = _Angles(len(t)), style.amplitude, style.rng
    forward = rng.uniform(-1.35, -0.7)  # shoulder swing towards the target (left convention)
    height = rng.uniform(-0.6, 0.5)  # shoulder elevation towards the target
    out = amp / 1.2 * (1.0 - np.cos(2.0 * np.pi * 0.3 * style.speed * t + style.phase)) / 2.0
    _relaxed_arms(a, style)
    a.add_side(style.side, "collar", y=-0.15 * out)
    a.add_side(style.side, "shoulder", y=(forward + 0.08) * out, z=(height + 1.15) * out)
    a.add_side(style.side, "elbow", y=0.2 * out)  # the arm straightens
    twist = -0.2 if style.side == "left" else 0.2  # turn the reaching shoulder forward
    low = max(0.0, -height)  # lean and bend more for low targets
    a.add("spine1", x=(0.15 + 0.4 * low) * out)
    a.add("spine2", y=twist * out)
    for side in ("left", "right"):
        a.add_side(side, "hip", x=-0.3 * low * out)
        a.add_side(side, "knee", x=0.5 * low * out)
        a.add_side(side, "ankle", x=-0.2 * low * out)
    return _Curves(a, _still(t), _still(t), feet_fixed=True)


def _idle(t: np.ndarray, style: _Style) -> _Curves:
    a, amp, rng = _Angles(len(t)), style.amplitude, style.rng
    slow = 2.0 * np.pi * 0.15 * style.speed * t + style.phase
    _relaxed_arms(a, style)
    shift = 0.06 * amp * np.sin(slow)  # weight shift: both thighs tilt, feet stay flat
    for side in ("left", "right"):
        a.add(f"{side}_hip", z=shift)
        a.add(f"{side}_ankle", z=-shift)
    a.add("left_knee", x=0.06 + 0.06 * (1.0 + np.sin(slow)))
    a.add("right_knee", x=0.06 + 0.06 * (1.0 - np.sin(slow)))
    a.add("spine1", z=-0.8 * shift)
    a.add("head", y=0.35 * amp * np.sin(2.0 * np.pi * 0.1 * style.speed * t + rng.uniform(0, 6.3)))
    a.add("neck", x=0.08 * np.sin(2.0 * np.pi * 0.13 * t + rng.uniform(0, 6.3)))
    root = np.zeros((len(t), 3))
    root[:, 0] = 0.1 * np.sin(2.0 * np.pi * 0.05 * t + rng.uniform(0, 6.3))
    return _Curves(a, root, _still(t), feet_fixed=True)


def _jumping_jack(t: np.ndarray, style: _Style) -> _Curves:
    a, amp = _Angles(len(t)), style.amplitude
    cycle = 2.0 * np.pi * 0.8 * style.speed * t + style.phase
    spread = (1.0 - np.cos(cycle)) / 2.0  # 0 closed, 1 open
    _relaxed_arms(a, style)
    for side in ("left", "right"):
        a.add_side(side, "collar", z=0.45 * spread)
        a.add_side(side, "shoulder", y=0.08 * spread, z=2.2 * spread)  # arms up over the head
        a.add_side(side, "elbow", y=0.1 * spread)
        a.add_side(side, "hip", z=0.3 * amp * spread)
        a.add_side(side, "ankle", z=-0.3 * amp * spread)
        a.add_side(side, "knee", x=0.1 + 0.15 * np.sin(cycle) ** 2)
    hop = _still(t)
    hop[:, 1] = 0.08 * amp * np.sin(cycle) ** 2  # metres: airborne while opening and closing
    return _Curves(a, _still(t), hop, feet_fixed=True)


def _turn(t: np.ndarray, style: _Style) -> _Curves:
    a, amp = _Angles(len(t)), style.amplitude
    step = 2.0 * np.pi * 0.9 * style.speed * t + style.phase
    _relaxed_arms(a, style)
    for side, q in (("left", step), ("right", step + np.pi)):
        lift = np.maximum(np.sin(q), 0.0) ** 2  # stepping in place, one foot at a time
        a.add_side(side, "hip", x=-0.35 * amp * lift)
        a.add_side(side, "knee", x=0.05 + 0.7 * amp * lift)
        a.add_side(side, "ankle", x=-0.2 * amp * lift)
        a.add_side(side, "shoulder", y=0.1 * amp * np.sin(q))
    # Turning on the spot one way, then back: yaw stays within ±π/2, so the axis-angle of the
    # root never wraps around (a continuous spin would flip it at π).
    root = np.zeros((len(t), 3))
    direction = 1.0 if style.side == "left" else -1.0
    root[:, 0] = direction * 1.3 * amp * np.sin(2.0 * np.pi * 0.08 * style.speed * t + style.phase)
    return _Curves(a, root, _still(t), feet_fixed=True)


_GENERATORS: dict[str, Callable[[np.ndarray, _Style], _Curves]] = {
    "walk": _walk,
    "wave": _wave,
    "squat": _squat,
    "reach": _reach,
    "idle": _idle,
    "jumping_jack": _jumping_jack,
    "turn": _turn,
}
MOTION_KINDS: tuple[str, ...] = tuple(_GENERATORS)
"""Names accepted by ``generate_motion``."""


def _smooth_noise(t: np.ndarray, rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """(T, *shape) smooth noise: three slow sinusoids per value, amplitude about ``scale``."""
    freqs = rng.uniform(0.1, 0.7, size=(3, *shape))  # Hz
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(3, *shape))
    amps = rng.uniform(0.0, scale / np.sqrt(3.0), size=(3, *shape))
    tt = t.reshape(-1, *([1] * len(shape)))
    return sum(amps[k] * np.sin(2.0 * np.pi * freqs[k] * tt + phases[k]) for k in range(3))


def _motion_curves(kind: str, t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, _Curves]:
    """Body Euler angles (T, 23, 3) within the limits, radians, and the generator's curves."""
    style = _Style.draw(rng)
    curves = _GENERATORS[kind](t, style)
    posture = rng.normal(0.0, 0.03, size=(_NUM_BODY, 3))  # this person's resting posture
    euler = curves.angles.euler + posture + _smooth_noise(t, rng, (_NUM_BODY, 3), 0.03)
    root = curves.root + _smooth_noise(t, rng, (3,), 0.02)
    return np.clip(euler, _LOWER, _UPPER), curves._replace(root=root)


def _check_kind(kind: str) -> None:
    if kind not in _GENERATORS:
        raise InputError(f"unknown motion kind {kind!r}; choose one of {', '.join(MOTION_KINDS)}")


@dataclass(frozen=True, eq=False)
class MotionClip:
    """A procedural SMPL motion clip.

    Attributes:
        global_orient: (T, 3) float32 axis-angle of the root, radians (zero: upright, facing +z).
        body_pose: (T, 69) float32 axis-angle of the 23 body joints, radians.
        transl: (T, 3) float32 translation, metres, SMPL frame (y up). The lowest heel or toe
            stays at its rest height (the ground) unless the body jumps; the feet stay in place
            except when walking, which advances along +z at about 1 m/s.
        kind: one of ``MOTION_KINDS``.
        fps: frames per second.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    kind: str
    fps: float

    def __post_init__(self) -> None:
        num_frames = len(self.body_pose)
        for name, width in (("global_orient", 3), ("body_pose", 69), ("transl", 3)):
            value = getattr(self, name)
            if value.shape != (num_frames, width):
                raise InputError(f"MotionClip.{name} must have shape ({num_frames}, {width}), got {value.shape}")

    @property
    def num_frames(self) -> int:
        return len(self.body_pose)


def generate_motion(kind: str, num_frames: int, fps: float = 30.0, seed: int = 0) -> MotionClip:
    """Generate a smooth SMPL motion clip within ``JOINT_LIMITS``.

    Args:
        kind: one of ``MOTION_KINDS``: "walk" (forward along +z), "wave" (one arm), "squat",
            "reach" (one arm, forward to a seeded target), "idle" (standing, weight shifts and
            looking around), "jumping_jack", "turn" (stepping on the spot while turning one way and back, up to
            about 90°).
        num_frames: T, at least 1.
        fps: frames per second.
        seed: varies speed, amplitude, phase, the acting arm, posture and noise.

    Returns:
        A ``MotionClip`` of T frames; the same arguments give the same clip.
    """
    _check_kind(kind)
    if int(num_frames) != num_frames or num_frames < 1:
        raise InputError(f"num_frames must be a positive integer, got {num_frames!r}")
    if not fps > 0:
        raise InputError(f"fps must be positive, got {fps!r}")
    t = np.arange(int(num_frames)) / float(fps)  # seconds
    euler, curves = _motion_curves(kind, t, np.random.default_rng(seed))
    body_pose = euler_to_body_pose(euler)
    global_orient = Rotation.from_euler("YXZ", curves.root).as_rotvec()  # yaw, pitch, roll
    transl = _planted_translation(global_orient, body_pose, curves.feet_fixed) + curves.offset
    return MotionClip(
        global_orient=global_orient.astype(np.float32),
        body_pose=body_pose.astype(np.float32),
        transl=transl.astype(np.float32),
        kind=kind,
        fps=float(fps),
    )


def sample_poses(n: int, seed: int = 0, kind_weights: dict[str, float] | None = None) -> np.ndarray:
    """Varied body poses drawn from many seeded clips of every kind.

    Each clip (kind and seed drawn from ``seed``) is evaluated at up to 16 random times in its
    first 12 seconds, so the poses cover many speeds, amplitudes, phases and sides.

    Args:
        n: number of poses, at least 0.
        seed: the same seed gives the same poses.
        kind_weights: relative weight of each kind in ``MOTION_KINDS`` (kinds left out are never
            drawn); None draws every kind equally often.

    Returns:
        (n, 69) float32 axis-angle body poses within ``JOINT_LIMITS``, radians.
    """
    if int(n) != n or n < 0:
        raise InputError(f"n must be a non-negative integer, got {n!r}")
    probabilities = None
    if kind_weights is not None:
        for kind in kind_weights:
            _check_kind(kind)
        weights = np.array([float(kind_weights.get(k, 0.0)) for k in MOTION_KINDS])
        if (weights < 0).any() or not weights.sum() > 0:
            raise InputError(f"motion kind weights must be non-negative with a positive sum, got {kind_weights}")
        probabilities = weights / weights.sum()
    rng = np.random.default_rng(seed)
    chunks, count = [], 0
    while count < n:
        kind = MOTION_KINDS[int(rng.integers(len(MOTION_KINDS)) if probabilities is None
                                else rng.choice(len(MOTION_KINDS), p=probabilities))]
        times = np.sort(rng.uniform(0.0, 12.0, size=min(16, int(n) - count)))
        euler, _ = _motion_curves(kind, times, np.random.default_rng(rng.integers(2**32)))
        chunks.append(euler)
        count += len(euler)
    if not chunks:
        return np.zeros((0, _NUM_BODY * 3), dtype=np.float32)
    return euler_to_body_pose(np.concatenate(chunks)).astype(np.float32)
