"""The body: SMPL layer over smplx, model files, joint sets, rotations, cameras, metrics, meshes.

Submodules are imported where used (``from body_models.metrics import mpjpe``); the names below
are the common entry points. They are imported on first use, so that importing a small helper
(``body_models.errors``) does not load torch.
"""

import importlib

__all__ = ["SMPL", "SMPLOutput", "load_model_file", "load_smpl"]

_HOME = {"SMPL": "body_models.smpl", "SMPLOutput": "body_models.smpl", "load_smpl": "body_models.smpl",
         "load_model_file": "body_models.model_files"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'body_models' has no attribute {name!r}")
