"""Human3.6M evaluation of a lifter, as VideoPose3D's run.py evaluates (FORMATS §2.10–2.12).

For every action group (the action name before the first space, so "Directions" and
"Directions 1" are one group) of the test subjects (S9, S11), every (subject, sequence, camera)
video is lifted whole: edge-padded by (R − 1)/2 frames on each side (shifted into the past for
causal models) and, with test-time augmentation, averaged with the lifted mirror image. The
prediction (all 17 joints, root included) is compared with the ground truth whose joint 0 is set
to zero. A group's error is the frame-weighted mean of its videos' errors; the reported averages
are the unweighted means over the groups. Errors are reported in millimetres.

    results = evaluate_h36m_files(model, "data/data_3d_h36m.npz", "data/data_2d_h36m_cpn_ft_h36m_dbb.npz")
    print_table(results)
    save_results(results, "out/eval")
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence, TextIO

import numpy as np
import torch

from body_models.atomic import write_json, write_text
from body_models.errors import InputError
from body_models.joints import H36M_17
from body_models.metrics import MM_PER_M, mpjpe, mpjve, n_mpjpe, pa_mpjpe
from body_models.motion_metrics import motion_following
from lifting.data import TEST_SUBJECTS, h36m_camera_views, load_h36m_2d, load_h36m_3d, normalized_h36m_2d

METRICS = ("mpjpe_mm", "pa_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")
"""Protocol #1, #2, #3 and the velocity error, in the order run.py prints them."""
MOTION_METRICS = ("knee_range_pct", "knee_r", "elbow_range_pct", "elbow_r", "static_mpjpe_mm")
"""Motion following (``body_models.motion_metrics``), per video, frame-weighted like the errors:
predicted knee / elbow flexion range as % of the truth's, correlation over time with the truth,
and the MPJPE of the video's mean true pose held still (a low MPJPE near it means little motion)."""


@dataclass(frozen=True)
class ActionResult:
    """Errors of one action group (or the average row), millimetres.

    Attributes:
        action: the group name, e.g. "Directions", or "Average".
        videos: (subject, sequence, camera) videos evaluated.
        frames: frames evaluated.
        mpjpe_mm: Protocol #1.
        pa_mpjpe_mm: Protocol #2 (Procrustes-aligned).
        n_mpjpe_mm: Protocol #3 (scale-aligned).
        mpjve_mm: mean per-joint velocity error, per frame.
        knee_range_pct, knee_r, elbow_range_pct, elbow_r, static_mpjpe_mm: ``MOTION_METRICS``.
    """

    action: str
    videos: int
    frames: int
    mpjpe_mm: float
    pa_mpjpe_mm: float
    n_mpjpe_mm: float
    mpjve_mm: float
    knee_range_pct: float = math.nan
    knee_r: float = math.nan
    elbow_range_pct: float = math.nan
    elbow_r: float = math.nan
    static_mpjpe_mm: float = math.nan


@dataclass(frozen=True)
class EvaluationResults:
    """Per-action rows and their action-wise average (VideoPose3D's reported numbers).

    Attributes:
        actions: one row per action group, in first-seen order.
        average: the unweighted mean of the rows (videos and frames are totals).
        subjects: the subjects evaluated.
        test_time_augmentation: whether flip averaging was on.
        receptive_field: R, frames of the model's input window.
    """

    actions: tuple[ActionResult, ...]
    average: ActionResult
    subjects: tuple[str, ...]
    test_time_augmentation: bool
    receptive_field: int

    def to_dict(self) -> dict:
        return {
            "subjects": list(self.subjects),
            "test_time_augmentation": self.test_time_augmentation,
            "receptive_field": self.receptive_field,
            "unit": "mm",
            "actions": [asdict(row) for row in self.actions],
            "average": asdict(self.average),
        }


def predict_sequence(model: torch.nn.Module, keypoints: np.ndarray, flip: bool = True,
                     keypoints_left: Sequence[int] = H36M_17.left, keypoints_right: Sequence[int] = H36M_17.right,
                     joints_left: Sequence[int] = H36M_17.left, joints_right: Sequence[int] = H36M_17.right,
                     chunk_frames: int | None = None, precision: str = "fp32") -> np.ndarray:
    """Lift one whole sequence as VideoPose3D's UnchunkedGenerator + evaluate() do.

    The sequence is edge-padded by pad + shift frames in front and pad − shift behind, with
    pad = (R − 1)/2 and shift = pad for a causal model (else 0). With ``flip`` a mirrored copy
    (x negated, left/right keypoints swapped) is lifted too; its output is mirrored back (x
    negated, left/right joints swapped) and the two are averaged.

    Args:
        model: a lifter in eval mode (``TemporalModel`` or ``TemporalModelOptimized1f``; the
            latter needs T = 1 output frame, so use ``TemporalModel`` here).
        keypoints: (T, J_in, F) x, y normalised screen coordinates (+ confidence when F = 3).
        flip: test-time flip augmentation.
        keypoints_left, keypoints_right: input symmetry (the 2D file's ``keypoints_symmetry``).
        joints_left, joints_right: output symmetry (H36M-17 by default).
        chunk_frames: None runs the whole sequence through the network at once (as the
            official code); a number runs it in chunks of that many output frames, each with its
            receptive field's overlap, so memory stays bounded on any length. The convolutions
            see the same inputs either way: the result is the same (bitwise on CPU).
        precision: "fp32" (the model as loaded: exact), or "bf16" for bfloat16 autocast of a
            copy with its BatchNorms folded (``lifting.fast.folded_copy``).

    Returns:
        (T, J_out, 3) metres, camera frame (root-relative for the pose model).
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3:
        raise InputError(f"keypoints must be (T, J, F), got {keypoints.shape}")
    field = model.receptive_field()
    pad = (field - 1) // 2
    shift = pad if getattr(model, "causal", False) else 0
    padded = np.pad(keypoints, ((pad + shift, pad - shift), (0, 0), (0, 0)), mode="edge")
    batch = padded[None]  # (1, T + 2·pad, J, F)
    if flip:
        mirrored = padded.copy()
        mirrored[..., 0] *= -1
        mirrored[:, list(keypoints_left) + list(keypoints_right)] = mirrored[:, list(keypoints_right) + list(keypoints_left)]
        batch = np.stack([padded, mirrored])  # (2, T + 2·pad, J, F)
    parameter = next(model.parameters())
    if precision not in ("fp32", "bf16"):
        raise InputError(f"precision must be fp32 or bf16, got {precision!r}")
    if chunk_frames is not None and int(chunk_frames) < 1:
        raise InputError(f"chunk_frames must be a positive number of frames or None, got {chunk_frames!r}")
    step = len(keypoints) if chunk_frames is None else int(chunk_frames)
    if precision == "bf16":
        from lifting.fast import cached_folded_copy

        model = cached_folded_copy(model)
    inputs = torch.from_numpy(batch)
    parts = []
    with torch.no_grad(), torch.autocast(parameter.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        for start in range(0, len(keypoints), step):
            stop = min(start + step, len(keypoints))
            window = inputs[:, start:stop + 2 * pad].to(device=parameter.device, dtype=parameter.dtype)
            parts.append(model(window).float().cpu().numpy())
    output = np.concatenate(parts, axis=1)  # (B, T, J_out, 3)
    if flip:
        output[1, ..., 0] *= -1
        if output.shape[2] > 1:  # the trajectory model (one joint) only mirrors x
            output[1, :, list(joints_left) + list(joints_right)] = output[1, :, list(joints_right) + list(joints_left)]
        output = output.mean(axis=0, keepdims=True)
    return output[0]


def group_actions(positions: Mapping[str, Mapping[str, object]],
                  subjects: Sequence[str] = TEST_SUBJECTS) -> dict[str, list[tuple[str, str]]]:
    """Action group → (subject, action) pairs, grouped by ``action.split(' ')[0]`` as run.py does."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for subject in subjects:
        if subject not in positions:
            raise InputError(f"subject {subject} is not in the 3D data (has {sorted(positions)})")
        for action in positions[subject]:
            groups.setdefault(action.split(" ")[0], []).append((subject, action))
    return groups


def _video_errors(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4,) errors in metres of one video: MPJPE, PA-MPJPE, N-MPJPE, MPJVE."""
    velocity = mpjve(prediction, target) if len(target) >= 2 else math.nan
    return np.array([mpjpe(prediction, target), pa_mpjpe(prediction, target),
                     n_mpjpe(prediction, target), velocity])


def _video_motion(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(5,) ``MOTION_METRICS`` of one video (NaN where a flexion does not vary or T < 2)."""
    if len(target) < 2:
        return np.full(len(MOTION_METRICS), np.nan)
    s = motion_following(prediction, target)
    return np.array([100.0 * s["knee_range_ratio"], s["knee_correlation"], 100.0 * s["elbow_range_ratio"],
                     s["elbow_correlation"], s["static_mpjpe_mm"]])


def evaluate_h36m(model: torch.nn.Module,
                  keypoints_2d: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
                  positions_3d: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
                  keypoints_left: Sequence[int], keypoints_right: Sequence[int],
                  subjects: Sequence[str] = TEST_SUBJECTS, actions: Sequence[str] | None = None,
                  flip: bool = True, downsample: int = 1) -> EvaluationResults:
    """Evaluate a pose lifter on Human3.6M-layout data, per action group.

    Args:
        model: a ``TemporalModel`` (put in eval mode for the run, then restored).
        keypoints_2d: subject → action → per-camera (T, J_in, F), normalised
            (``lifting.data.normalized_h36m_2d``), each as long as its 3D sequence.
        positions_3d: subject → action → per-camera (T, 17, 3) metres, camera frame
            (``lifting.data.h36m_camera_views``); joint 0 is ignored (set to zero).
        keypoints_left, keypoints_right: the 2D layout's ``keypoints_symmetry``.
        subjects: test subjects.
        actions: optional action-name prefixes to keep (run.py's ``--actions``).
        flip: test-time flip augmentation (run.py's default).
        downsample: keep every n-th frame of 2D and 3D (run.py's ``--downsample``).

    Returns:
        ``EvaluationResults`` in millimetres.
    """
    if int(downsample) < 1:
        raise InputError(f"downsample must be a positive integer, got {downsample!r}")
    was_training = model.training
    model.eval()
    rows = []
    try:
        for group, pairs in group_actions(positions_3d, subjects).items():
            if actions is not None and not any(group.startswith(prefix) for prefix in actions):
                continue
            weighted = np.zeros(4)
            motion, motion_frames = np.zeros(len(MOTION_METRICS)), np.zeros(len(MOTION_METRICS))
            frames = videos = 0
            for subject, action in pairs:
                if subject not in keypoints_2d or action not in keypoints_2d[subject]:
                    raise InputError(f"{subject}/{action} has 3D ground truth but no 2D keypoints")
                views_2d, views_3d = keypoints_2d[subject][action], positions_3d[subject][action]
                if len(views_2d) != len(views_3d):
                    raise InputError(f"{subject}/{action}: {len(views_2d)} 2D views but {len(views_3d)} 3D views")
                for view_2d, view_3d in zip(views_2d, views_3d):
                    view_2d, view_3d = view_2d[::downsample], np.array(view_3d[::downsample], dtype=np.float32)
                    if len(view_2d) != len(view_3d):
                        raise InputError(f"{subject}/{action}: {len(view_2d)} 2D frames but {len(view_3d)} 3D "
                                         "frames; cut the 2D to the 3D length first (normalized_h36m_2d)")
                    prediction = predict_sequence(model, view_2d, flip, keypoints_left, keypoints_right)
                    view_3d[:, 0] = 0  # root-relative target, root included in the mean
                    weighted += len(view_3d) * _video_errors(prediction, view_3d)
                    follow = _video_motion(prediction, view_3d)
                    known = np.isfinite(follow)
                    motion[known] += len(view_3d) * follow[known]
                    motion_frames[known] += len(view_3d)
                    frames += len(view_3d)
                    videos += 1
            errors = weighted / frames * MM_PER_M
            with np.errstate(invalid="ignore"):
                following = motion / motion_frames  # NaN where no video had the value
            rows.append(ActionResult(group, videos, frames, *(float(e) for e in errors),
                                     *(float(v) for v in following)))
    finally:
        model.train(was_training)
    if not rows:
        raise InputError(f"no action of subjects {list(subjects)} matched {list(actions or [])}")
    means = np.mean([[getattr(row, name) for name in METRICS] for row in rows], axis=0)
    following = [[getattr(row, name) for name in MOTION_METRICS] for row in rows]
    with np.errstate(invalid="ignore"):
        follow_means = [float(np.nanmean(col)) if np.isfinite(col).any() else math.nan
                        for col in np.array(following, dtype=np.float64).T]
    average = ActionResult("Average", sum(r.videos for r in rows), sum(r.frames for r in rows),
                           *(float(m) for m in means), *follow_means)
    return EvaluationResults(tuple(rows), average, tuple(subjects), bool(flip), model.receptive_field())


def evaluate_h36m_files(model: torch.nn.Module, path_3d: str | os.PathLike, path_2d: str | os.PathLike,
                        subjects: Sequence[str] = TEST_SUBJECTS, actions: Sequence[str] | None = None,
                        flip: bool = True, downsample: int = 1) -> EvaluationResults:
    """``evaluate_h36m`` on VideoPose3D's files: ``data_3d_h36m.npz`` and ``data_2d_h36m_<source>.npz``."""
    world = load_h36m_3d(path_3d)
    for subject in subjects:
        if subject not in world:
            raise InputError(f"{path_3d} has no subject {subject} (has {sorted(world)})")
    views_3d = h36m_camera_views({s: world[s] for s in subjects})
    keypoints = load_h36m_2d(path_2d)
    if keypoints.num_joints != model.num_joints_in:
        raise InputError(f"{path_2d} has {keypoints.num_joints} joints per frame but the model takes "
                         f"{model.num_joints_in}")
    test_2d = type(keypoints)({s: keypoints.positions_2d[s] for s in subjects if s in keypoints.positions_2d},
                              keypoints.metadata)
    views_2d = normalized_h36m_2d(test_2d, views_3d)
    views_2d = {s: {a: [v[..., :model.in_features] for v in views] for a, views in acts.items()}
                for s, acts in views_2d.items()}
    return evaluate_h36m(model, views_2d, views_3d, keypoints.keypoints_left, keypoints.keypoints_right,
                         subjects=subjects, actions=actions, flip=flip, downsample=downsample)


def format_table(results: EvaluationResults) -> str:
    """The per-action table with the average row, millimetres (velocity to 0.01 mm)."""
    header = f"{'action':<14} {'videos':>6} {'frames':>8} {'MPJPE':>8} {'P-MPJPE':>8} {'N-MPJPE':>8} {'MPJVE':>8}"
    lines = [f"Human3.6M evaluation, subjects {', '.join(results.subjects)}, "
             f"test-time flip {'on' if results.test_time_augmentation else 'off'}, "
             f"receptive field {results.receptive_field} frames (errors in mm)", header, "-" * len(header)]
    for row in results.actions + ("-", results.average):
        if row == "-":
            lines.append("-" * len(header))
            continue
        lines.append(f"{row.action:<14} {row.videos:>6d} {row.frames:>8d} {row.mpjpe_mm:>8.1f} "
                     f"{row.pa_mpjpe_mm:>8.1f} {row.n_mpjpe_mm:>8.1f} {row.mpjve_mm:>8.2f}")
    return "\n".join(lines)


def print_table(results: EvaluationResults, file: TextIO | None = None) -> None:
    """Print ``format_table(results)`` to ``file`` (stdout by default)."""
    print(format_table(results), file=file or sys.stdout)


def save_results(results: EvaluationResults, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.csv`` (one row per action, then "Average") atomically.

    Returns:
        The two paths.
    """
    out_dir = Path(out_dir)
    json_path = write_json(out_dir / "results.json", results.to_dict())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("action", "videos", "frames") + METRICS + MOTION_METRICS)
    for row in results.actions + (results.average,):
        writer.writerow((row.action, row.videos, row.frames)
                        + tuple(f"{getattr(row, m):.6f}" for m in METRICS + MOTION_METRICS))
    csv_path = write_text(out_dir / "results.csv", buffer.getvalue())
    return json_path, csv_path
