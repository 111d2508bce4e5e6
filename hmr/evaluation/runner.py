"""The former home of the evaluation harness, kept so that existing imports keep working.

Its pieces now live in modules named for what they hold:

- ``hmr.evaluation.types``: ``JointProtocol``, ``LSP_14_PROTOCOL``, ``SPIN_EVAL_17_PROTOCOL``,
  ``SequenceSpec``, ``MeshDataset``, ``StoredSequence``, ``PredictedBodies``, ``Predictor``, ``mm``;
- ``hmr.evaluation.scoring``: ``per_sample_errors``, ``joint_summaries``, ``consecutive_triples``,
  ``acceleration_errors``;
- ``hmr.evaluation.harness``: ``MeshEvaluator``, ``regressor_predictor``, ``load_crops``,
  ``fingerprint_of``, ``evaluate_mesh``, ``run_evaluation``;
- ``hmr.evaluation.smplify_setup``: ``SmplifyStage``, ``load_smplify_keypoints``, ``smplify_stage``;
- ``hmr.commands.evaluate``: ``evaluate_benchmark``, which picks the benchmark's adapter.

Code inside the packages imports those modules, never this one (``tests/test_layout.py``).
``evaluate_benchmark`` is looked up on first use, so importing this module loads no adapter.
"""

from hmr.evaluation.harness import MeshEvaluator, fingerprint_of, load_crops, regressor_predictor
from hmr.evaluation.scoring import acceleration_errors, consecutive_triples, joint_summaries, per_sample_errors
from hmr.evaluation.smplify_setup import SmplifyStage, load_smplify_keypoints, smplify_stage
from hmr.evaluation.types import (FORMAT_VERSION, LSP_14_PROTOCOL, SPIN_EVAL_17_PROTOCOL, JointProtocol, MeshDataset,
                                  PredictedBodies, Predictor, SequenceSpec, StoredSequence, mm)

__all__ = ["FORMAT_VERSION", "LSP_14_PROTOCOL", "SPIN_EVAL_17_PROTOCOL", "JointProtocol", "MeshDataset",
           "MeshEvaluator", "PredictedBodies", "Predictor", "SequenceSpec", "SmplifyStage", "StoredSequence",
           "acceleration_errors", "consecutive_triples", "evaluate_benchmark", "fingerprint_of", "joint_summaries",
           "load_crops", "load_smplify_keypoints", "mm", "per_sample_errors", "regressor_predictor", "smplify_stage"]


def __getattr__(name: str):
    if name == "evaluate_benchmark":
        from hmr.commands.evaluate import evaluate_benchmark

        return evaluate_benchmark
    raise AttributeError(f"module 'hmr.evaluation.runner' has no attribute {name!r}")
