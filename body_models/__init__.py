"""The body: SMPL layer over smplx, model files, joint sets, rotations, cameras, metrics, meshes.

Submodules are imported where used (``from body_models.metrics import mpjpe``); the names below
are the common entry points.
"""

from body_models.model_files import load_model_file
from body_models.smpl import SMPL, SMPLOutput, load_smpl

__all__ = ["SMPL", "SMPLOutput", "load_model_file", "load_smpl"]
