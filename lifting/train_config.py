"""A lifter training recipe, ``TrainConfig``: what ``lifting.train.train_lifter`` trains, on which
data, for how long and with which corruptions of the 2D input; ``configs/lifting/train_*.yaml``
are presets of it."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from body_models.configs import config_from_dict, config_from_yaml
from body_models.errors import InputError
from lifting.data import TEST_SUBJECTS, TRAIN_SUBJECTS
from lifting.model import LiftingConfig

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe; ``configs/lifting/train_*.yaml`` are presets of it.

    Attributes:
        data_3d: ``data_3d_h36m.npz`` (VideoPose3D layout); relative paths are taken from the
            working directory.
        data_2d: ``data_2d_h36m_<source>.npz``, the keypoint source (gt, cpn, detectron, ...);
            its metadata gives the flip symmetry of the input layout.
        model: the architecture (``LiftingConfig`` fields; a mapping in YAML).
        subjects_train: labelled subjects.
        subjects_test: subjects evaluated after every epoch.
        subjects_unlabeled: 2D-only subjects; not empty turns the semi-supervised mode on.
        actions: action-name prefixes to keep (None: all).
        epochs: total epochs.
        batch_size: output frames per step (``batch_size // stride`` chunks).
        learning_rate: Adam's initial learning rate.
        lr_decay: factor applied to the learning rate after every epoch.
        stride: output frames per training chunk (1 trains ``TemporalModelOptimized1f``).
        augment: flip augmentation (every chunk also mirrored).
        seed: seeds the weights, dropout and the chunk order (``run.py``'s generator uses 1234).
        seed_unlabeled: seeds the unlabeled chunk order (``run.py`` uses 4321).
        warmup: epochs of supervised-only training before the unlabeled terms start.
        projection_loss: use the 2D reprojection loss in the semi-supervised mode.
        linear_projection: project without lens distortion.
        bone_length_weight: weight of the bone-length term (0 turns it off).
        checkpoint_frequency: write ``epoch_NNNN.pt`` every this many epochs.
        evaluate: evaluate after every epoch (``run.py``'s ``--no-eval`` turns it off).
        downsample: keep every n-th frame of the 2D and 3D sequences.
        subset: fraction of every training video to keep, one contiguous piece whose start is a
            hash of the video length (``run.py``'s ``--subset``, for data-scarce experiments).
        keypoint_noise, keypoint_dropout, keypoint_truncation, keypoint_shift, keypoint_scale:
            corrupt the labelled 2D input as a detector and other cameras would
            (``lifting.augment.corrupt_keypoints``: x, y noise in normalised screen units, the
            share of keypoints dropped, the share of windows cut by a border line, the window's
            2D offset and log-scale spread), each step from its own seed; 0, the official recipe,
            turns each off.
    """

    data_3d: str
    data_2d: str
    model: LiftingConfig = field(default_factory=lambda: LiftingConfig(filter_widths=(3, 3, 3)))
    subjects_train: tuple[str, ...] = TRAIN_SUBJECTS
    subjects_test: tuple[str, ...] = TEST_SUBJECTS
    subjects_unlabeled: tuple[str, ...] = ()
    actions: tuple[str, ...] | None = None
    epochs: int = 60
    batch_size: int = 1024
    learning_rate: float = 0.001
    lr_decay: float = 0.95
    stride: int = 1
    augment: bool = True
    seed: int = 1234
    seed_unlabeled: int = 4321
    warmup: int = 1
    projection_loss: bool = True
    linear_projection: bool = False
    bone_length_weight: float = 1.0
    checkpoint_frequency: int = 10
    evaluate: bool = True
    downsample: int = 1
    subset: float = 1.0
    keypoint_noise: float = 0.0
    keypoint_dropout: float = 0.0
    keypoint_truncation: float = 0.0
    keypoint_shift: float = 0.0
    keypoint_scale: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.model, Mapping):
            object.__setattr__(self, "model", LiftingConfig.from_dict(self.model, source="TrainConfig.model"))
        if not isinstance(self.model, LiftingConfig):
            raise InputError(f"model must be a mapping of LiftingConfig settings, got {type(self.model).__name__}")
        for name in ("subjects_train", "subjects_test", "subjects_unlabeled", "actions"):
            value = getattr(self, name)
            if value is None and name == "actions":
                continue
            if isinstance(value, str):
                value = tuple(v.strip() for v in value.split(",") if v.strip())
            object.__setattr__(self, name, tuple(str(v) for v in value))
        if not self.subjects_train:
            raise InputError("subjects_train must name at least one subject")
        for name in ("epochs", "batch_size", "stride", "checkpoint_frequency", "downsample"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.subset <= 1:
            raise InputError(f"subset must lie in (0, 1], got {self.subset!r}")
        if not (self.keypoint_shift >= 0 and self.keypoint_scale >= 0):
            raise InputError(f"keypoint_shift and keypoint_scale must be >= 0, got {self.keypoint_shift!r} and "
                             f"{self.keypoint_scale!r}")
        if not (self.keypoint_noise >= 0 and 0 <= self.keypoint_dropout < 1 and 0 <= self.keypoint_truncation <= 1):
            raise InputError(f"keypoint_noise must be >= 0, keypoint_dropout in [0, 1) and keypoint_truncation in "
                             f"[0, 1], got {self.keypoint_noise!r}, {self.keypoint_dropout!r} and "
                             f"{self.keypoint_truncation!r}")
        if self.warmup < 0 or self.bone_length_weight < 0:
            raise InputError("warmup and bone_length_weight must not be negative")
        if not (self.learning_rate > 0 and 0 < self.lr_decay <= 1):
            raise InputError(f"learning_rate must be > 0 and lr_decay in (0, 1], got {self.learning_rate}, "
                             f"{self.lr_decay}")

    @property
    def semi_supervised(self) -> bool:
        return bool(self.subjects_unlabeled)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "TrainConfig":
        """Read a recipe such as ``configs/lifting/train_demo.yaml``; unknown keys are errors."""
        return config_from_yaml(cls, path)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "TrainConfig":
        return config_from_dict(cls, values, source)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the model as a dict, tuples as lists), as stored in checkpoints."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["model"] = self.model.to_dict()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
