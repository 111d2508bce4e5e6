"""Moved to ``hmr.synthetic.clip``; this module re-exports its names for old imports."""

from hmr.synthetic.clip import (  # noqa: F401
    BODY_TO_CAMERA,
    SCHEMA_VERSION,
    SyntheticClip,
    make_synthetic_clip,
    pose_in_camera,
)
from hmr.synthetic.clip import _view_rotation  # noqa: F401 (private, but tests and old scripts import it)

__all__ = [
    "BODY_TO_CAMERA",
    "SCHEMA_VERSION",
    "SyntheticClip",
    "make_synthetic_clip",
    "pose_in_camera",
]
