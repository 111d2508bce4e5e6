"""The data of a lifter training run: the recipe's subjects and actions, cut to the 3D frames,
normalised and downsampled as VideoPose3D's ``run.py`` prepares them.

    data = load_training_data(config)
    data.train.keypoints, data.train.targets, data.train.cameras  # lists, one entry per video

``config`` is a ``lifting.train_config.TrainConfig``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from body_models.errors import InputError
from body_models.joints import H36M_17
from lifting.data import h36m_camera_views, load_h36m_2d, load_h36m_3d, normalized_h36m_2d
from lifting.filling import HIP_ANCHOR
from lifting.h36m_cameras import h36m_cameras
from lifting.train_config import TrainConfig

__all__ = ["load_training_data"]


@dataclass
class _Videos:
    """Per-video lists (one entry per subject/action/camera)."""

    keypoints: list[np.ndarray]
    targets: list[np.ndarray] | None
    cameras: list[np.ndarray]


@dataclass
class _Data:
    train: _Videos
    test: _Videos | None
    unlabeled: _Videos | None
    kps_left: list[int]
    kps_right: list[int]
    hips: tuple[int, ...]  # the 2D layout's hips, anchoring the filling of corrupted input (lifting.filling)


def _subset_start(frames: int, kept: int) -> int:
    """Start of the kept piece of a video: sha256 of its length, as ``run.py`` picks it."""
    value = int.from_bytes(hashlib.sha256(str(frames).encode()).digest()[:4], "little")
    return int(value / (2 ** 32 - 1) * (frames - kept + 1))


def _fetch(keypoints: Mapping, views_3d: Mapping, subjects: Sequence[str], config: TrainConfig,
           with_3d: bool, path_2d: str, subset: float = 1.0) -> _Videos:
    out = _Videos([], [] if with_3d else None, [])
    step = config.downsample
    for subject in subjects:
        if subject not in keypoints:
            raise InputError(f"{path_2d} has no 2D keypoints for subject {subject} (has {sorted(keypoints)})")
        cams = h36m_cameras(subject)
        for action, views in keypoints[subject].items():
            if config.actions is not None and not any(action.startswith(a) for a in config.actions):
                continue
            for index, view in enumerate(views):
                piece = slice(None, None, step)
                if subset < 1:
                    kept = int(round(len(view) // step * subset) * step)
                    start = _subset_start(len(view), kept)
                    piece = slice(start, start + kept, step)
                out.keypoints.append(view[piece, :, :config.model.in_features])
                out.cameras.append(cams[index].intrinsic)
                if with_3d:
                    out.targets.append(views_3d[subject][action][index][piece])
    return out


def load_training_data(config: TrainConfig) -> _Data:
    world = load_h36m_3d(config.data_3d)
    subjects = dict.fromkeys(config.subjects_train + config.subjects_test + config.subjects_unlabeled)
    missing = [s for s in subjects if s not in world]
    if missing:
        raise InputError(f"{config.data_3d} has no subject {', '.join(missing)} (has {', '.join(sorted(world))}); "
                         "fix the subjects in the training config")
    views_3d = h36m_camera_views({s: world[s] for s in subjects})
    keypoints = load_h36m_2d(config.data_2d)
    model = config.model
    if keypoints.num_joints != model.num_joints_in:
        raise InputError(f"{config.data_2d} has {keypoints.num_joints} joints per frame but the model takes "
                         f"{model.num_joints_in} (num_joints_in); use a 2D file of the model's layout")
    features = next(v.shape[-1] for acts in keypoints.positions_2d.values() for views in acts.values() for v in views)
    if features < model.in_features:
        raise InputError(f"{config.data_2d} has {features} values per keypoint but the model takes "
                         f"{model.in_features} (in_features)")
    if model.num_joints_out != len(H36M_17):
        raise InputError(f"training targets are the {len(H36M_17)} H36M joints; num_joints_out is "
                         f"{model.num_joints_out}")
    chosen = type(keypoints)({s: keypoints.positions_2d[s] for s in subjects if s in keypoints.positions_2d},
                             keypoints.metadata)
    normalised = normalized_h36m_2d(chosen, views_3d)
    train = _fetch(normalised, views_3d, config.subjects_train, config, True, config.data_2d, config.subset)
    if not train.keypoints:
        raise InputError(f"no training videos for subjects {list(config.subjects_train)} and actions "
                         f"{list(config.actions or ['*'])} in {config.data_2d}")
    test = _fetch(normalised, views_3d, config.subjects_test, config, True, config.data_2d) \
        if config.evaluate and config.subjects_test else None
    unlabeled = _fetch(normalised, views_3d, config.subjects_unlabeled, config, False, config.data_2d) \
        if config.semi_supervised else None
    layout = keypoints.layout_name or ("h36m" if keypoints.num_joints == len(H36M_17) else None)
    return _Data(train, test, unlabeled, keypoints.keypoints_left, keypoints.keypoints_right,
                 HIP_ANCHOR.get(layout, ()))
