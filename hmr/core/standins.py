"""One line on screen for each stand-in a command uses, and what to bring for the real thing.

The project runs end to end without licensed files by standing in for them: the synthetic
mannequin for SMPL (and its prior for gmm_08.pkl), a keypoint model, a lifter and an HMR regressor
trained on synthetic mannequin images and motion for the published weights (or, with no regressor
at all, SMPLify from the mean pose). Outputs
record this; ``stand_in_lines`` says it where a user looks (``hmr run``, ``hmr lift``,
``hmr fit``, ``hmr demo`` print these lines).
"""

from __future__ import annotations

import os
from pathlib import Path

from body_models.smpl import MANNEQUIN

__all__ = ["stand_in_lines"]

DEMO_HRNET_NAME = "demo_w16_128x160_coco.pt"  # hmr.pose2d.DEMO_WEIGHTS, named here without importing torch
DEMO_REGRESSOR_NAME = "demo_r18_160_world.pt"  # hmr.regressor.DEMO_WEIGHTS, likewise


def _synthetic_lifter(weights: str | os.PathLike) -> bool:
    from lifting.checkpoints import training_info
    from lifting.inference import DEMO_WEIGHTS

    path = Path(weights)
    if path.resolve() == DEMO_WEIGHTS.resolve():
        return True
    try:
        return training_info(path)["synthetic"]
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the stage that loads it
        return False


def stand_in_lines(body_model: str | os.PathLike | None = None, lifter_weights: str | os.PathLike | None = None,
                   regressor: bool | None = None, hrnet_weights: str | os.PathLike | None = None,
                   hmr_weights: str | os.PathLike | None = None) -> list[str]:
    """The stand-in lines for a command's settings (empty when nothing stands in).

    Args:
        body_model: the body model in use ("mannequin" or a model file); None when the command
            uses no body.
        lifter_weights: the lifter in use; None when the command lifts nothing.
        regressor: False when SMPLify starts from the mean pose because no HMR weights were given;
            None when the command has no regressor stage.
        hrnet_weights: the keypoint model in use; None when the command runs no HRNet.
        hmr_weights: the HMR regressor in use; None when the command runs none.
    """
    lines = []
    if hrnet_weights is not None and Path(hrnet_weights).name == DEMO_HRNET_NAME:
        lines.append(f"stand-in: the keypoint model {DEMO_HRNET_NAME} was trained on synthetic mannequin images only "
                     "(it knows the mannequin, not people); bring pose_hrnet_w32_256x192.pth (--hrnet-weights) for "
                     "the published one")
    if body_model is not None and str(body_model) == MANNEQUIN:
        lines.append("stand-in: the body is the synthetic mannequin, not SMPL (its numbers say nothing about SMPL's); "
                     "bring SMPL_NEUTRAL.pkl (--body-model) and gmm_08.pkl (--prior) for the real body")
    if lifter_weights is not None and _synthetic_lifter(lifter_weights):
        lines.append(f"stand-in: the lifter {Path(lifter_weights).name} was trained on synthetic mannequin motion only; "
                     "bring VideoPose3D's pretrained_h36m_detectron_coco.bin (--lifter-weights) for the published one")
    if hmr_weights is not None and Path(hmr_weights).name == DEMO_REGRESSOR_NAME:
        lines.append(f"stand-in: the HMR regressor {DEMO_REGRESSOR_NAME} was trained on synthetic mannequin images only "
                     "(ResNet-18, 160 px); bring SPIN's model_checkpoint.pt (--hmr-weights) for the published one")
    if regressor is False:
        lines.append("stand-in: no HMR regressor, SMPLify starts from the mean pose; bring SPIN's model_checkpoint.pt "
                     "(--hmr-weights) for a learned start")
    return lines
