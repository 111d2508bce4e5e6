"""Human3.6M lifter protocols #1–#3 and MPJVE, a thin wrapper over ``lifting.evaluate``.

Files (FORMATS §2.5, §2.7): VideoPose3D's ``data_3d_h36m.npz`` and ``data_2d_h36m_<source>.npz``
(made by its ``data/prepare_data_h36m.py`` and ``prepare_data_2d_h36m_*.py`` from Human3.6M,
vision.imar.ro/human3.6m, academic licence), and a checkpoint such as ``pretrained_h36m_cpn.bin``
(github.com/facebookresearch/VideoPose3D, CC BY-NC 4.0).

Protocol (VideoPose3D ``run.py``, FORMATS §2.12): S9 and S11, whole videos, joint 0 of the
target set to zero, test-time flip; per action group frame-weighted, reported as the unweighted
mean over the 15 groups. Beside the errors, whether the lifter follows the motion: knee and elbow
flexion range (% of the truth's) and correlation over time, and the MPJPE of a static mean pose.
"""

from __future__ import annotations

import os
from pathlib import Path

from body_models.errors import InputError, MissingFileError
from body_models.joints import H36M_17
from hmr.evaluation.report import BenchmarkReport, Row, VariantResult

METRICS = ("mpjpe_mm", "pa_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "knee_range_pct", "knee_r", "elbow_range_pct",
           "elbow_r", "static_mpjpe_mm")
"""Protocols #1–#3, MPJVE, then the motion-following columns (``lifting.evaluate.MOTION_METRICS``)."""
SOURCE = ("VideoPose3D's data/prepare_data_h36m.py (github.com/facebookresearch/VideoPose3D, DATASETS.md) from "
          "Human3.6M (vision.imar.ro/human3.6m, academic licence after registration)")


def evaluate_lifter(data_3d: str | os.PathLike, data_2d: str | os.PathLike, checkpoint: str | os.PathLike,
                    device: str = "cpu", flip: bool = True, causal: bool = False, record=None,
                    downsample: int = 1) -> BenchmarkReport:
    """Evaluate a VideoPose3D checkpoint on Human3.6M and return the report.

    Args:
        data_3d: ``data_3d_h36m.npz``.
        data_2d: ``data_2d_h36m_<source>.npz`` (its joint count must match the model's input).
        checkpoint: an official ``.bin`` or a project lifter checkpoint.
        device: where the model runs.
        flip: test-time flip augmentation (VideoPose3D's default).
        causal: the official checkpoint was trained causal (``run.py --causal``); its weights cannot
            tell, so it must be said. A project checkpoint carries it; this must then agree.
        record: an ``hmr.core.provenance.RunRecord`` to hash the files into, or None.
        downsample: keep every n-th frame (VideoPose3D's ``--downsample``).

    Raises:
        MissingFileError: a file is missing (the message says where it is published).
        InputError: a model whose output is not the 17 Human3.6M joints, or 2D keypoints that do
            not fit its input.
    """
    from lifting import load_pretrained
    from lifting.evaluate import evaluate_h36m_files

    for path, what in ((data_3d, "data_3d_h36m.npz"), (data_2d, "data_2d_h36m_<source>.npz")):
        if not Path(path).is_file():
            raise MissingFileError(f"{path} not found; h36m-lifter needs {what} from {SOURCE}")
    model = load_pretrained(checkpoint, causal=causal)
    if model.num_joints_out != len(H36M_17):
        raise InputError(f"{checkpoint} predicts {model.num_joints_out} joints but Human3.6M scores the "
                         f"{len(H36M_17)} H36M joints; use a Human3.6M model such as pretrained_h36m_cpn.bin")
    if record is not None:
        record.add_file("checkpoint", checkpoint)
        record.add_file("data_3d", data_3d)
        record.add_file("data_2d", data_2d)
    results = evaluate_h36m_files(model.to(device), data_3d, data_2d, flip=flip, downsample=downsample)
    rows = tuple(Row(r.action, r.frames, {m: getattr(r, m) for m in METRICS}) for r in results.actions)
    overall = Row("Average", results.average.frames, {m: getattr(results.average, m) for m in METRICS})
    variant = VariantResult("lifter", rows, overall, per_joint_mm={m: [row.values[m] for row in rows]
                                                                   for m in ("mpjpe_mm", "pa_mpjpe_mm")},
                            joint_names=tuple(r.name for r in rows), bars_of="action")
    description = (f"Human3.6M (VideoPose3D): subjects {', '.join(results.subjects)}, receptive field "
                   f"{results.receptive_field} frames, flip {'on' if results.test_time_augmentation else 'off'}"
                   + (f", every {downsample}th frame" if downsample > 1 else "") + "; "
                   f"{'causal' if model.causal else 'centred'} window; "
                   "per action frame-weighted, Average = unweighted mean over actions")
    conditions = {"input_2d": _source_of(data_2d), "flip": "on" if results.test_time_augmentation else "off",
                  "causal": "yes" if model.causal else "no", "receptive_field": str(results.receptive_field)}
    return BenchmarkReport("h36m-lifter", description, METRICS, (variant,), body_model="none", conditions=conditions)


def _source_of(data_2d: str | os.PathLike) -> str:
    """The 2D detections' name: ``cpn_ft_h36m_dbb`` from ``data_2d_h36m_cpn_ft_h36m_dbb.npz``."""
    name = Path(data_2d).name
    prefix, suffix = "data_2d_h36m_", ".npz"
    if name.startswith(prefix) and name.endswith(suffix):
        return name[len(prefix):-len(suffix)]
    return name
