"""SMPLify as an optional refinement stage of the mesh benchmarks: the keypoints file it fits to
and the solver with SPIN's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from body_models import joints as js
from body_models.errors import InputError, MissingFileError
from body_models.smpl import SMPL

@dataclass
class SmplifyStage:
    """SMPLify refinement of each batch from 2D keypoints, in the crop (SPIN's camera).

    Attributes:
        smplify: an ``hmr.smplify.SMPLify`` on the neutral body.
        keypoints: (imgname, actor) → (J, 3) image pixels x, y, confidence.
        joint_set: name of the keypoints' joint set (e.g. ``"coco_17"``).
    """

    smplify: object
    keypoints: Mapping[tuple[str, int], np.ndarray]
    joint_set: str


def load_smplify_keypoints(path: str | os.PathLike) -> tuple[dict[tuple[str, int], np.ndarray], str]:
    """Read a keypoints file for SMPLify: ``imgname (N,)``, ``keypoints (N, J, 3)`` pixels,
    ``joint_set`` (a name from ``body_models.joints``), optional ``actor (N,)``."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"SMPLify keypoints file {path} not found; it holds imgname (N,), keypoints "
                               "(N, J, 3) pixels and joint_set, one row per benchmark image")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    for key in ("imgname", "keypoints", "joint_set"):
        if key not in arrays:
            raise InputError(f"{path}: missing {key!r}; expected imgname (N,), keypoints (N, J, 3), joint_set")
    joint_set = str(arrays["joint_set"])
    if joint_set not in js.JOINT_SETS:
        raise InputError(f"{path}: joint_set {joint_set!r} is not one of {', '.join(js.JOINT_SETS)}")
    keypoints = np.asarray(arrays["keypoints"], dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (len(js.JOINT_SETS[joint_set]), 3):
        raise InputError(f"{path}: keypoints must be (N, {len(js.JOINT_SETS[joint_set])}, 3) for {joint_set}, "
                         f"got {keypoints.shape}")
    actors = arrays.get("actor", np.zeros(len(keypoints), dtype=np.int64))
    table = {(str(n), int(a)): k for n, a, k in zip(arrays["imgname"], actors, keypoints)}
    return table, joint_set


def smplify_stage(neutral: SMPL, body_model, keypoints_path, gmm, iters) -> tuple[SmplifyStage, dict]:
    """SMPLify on ``neutral`` with SPIN's settings (``SMPLifyConfig()``, ``iters`` Adam steps per stage when
    given), the pose prior ``gmm`` (the mannequin's with the mannequin) and a keypoints file.

    Returns:
        (the stage, the settings that go into the fingerprint).
    """
    from body_models import mannequin
    from hmr.smplify import SMPLify
    from hmr.smplify.fit import SMPLifyConfig

    config = SMPLifyConfig()  # SPIN's settings; configs/smplify/default.yaml spells them out
    if iters is not None:
        config = SMPLifyConfig.from_dict({**config.to_dict(), "num_iters": int(iters)})
    if gmm is None:
        if str(body_model) != "mannequin":
            raise MissingFileError("SMPLify needs the pose prior gmm_08.pkl (SPIN's fetch_data.sh, from the SMPLify "
                                   "project, non-commercial licence); pass --gmm")
        gmm = mannequin.gmm_prior_path()
    elif not Path(gmm).is_file():
        raise MissingFileError(f"pose prior {gmm} not found; gmm_08.pkl comes with SPIN's fetch_data.sh")
    keypoints, joint_set = load_smplify_keypoints(keypoints_path)
    try:
        neutral(betas=torch.zeros(1, neutral.num_betas)).joint_set(joint_set)
    except (InputError, KeyError) as err:
        raise InputError(f"{keypoints_path}: the body model cannot give {joint_set} joints for SMPLify ({err})") from None
    settings = {"config": config.to_dict(), "gmm": str(gmm), "keypoints": str(keypoints_path)}
    return SmplifyStage(SMPLify(neutral, gmm, config), keypoints, joint_set), settings

