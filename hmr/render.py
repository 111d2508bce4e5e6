"""Moved to ``hmr.io.render``; this module re-exports its names for old imports."""

from hmr.io.render import (  # noqa: F401
    AMBIENT,
    Camera,
    LIGHT_DIRECTION,
    MESH_COLOR,
    MeshRenderer,
    available_backends,
    vertex_normals,
)

__all__ = [
    "AMBIENT",
    "Camera",
    "LIGHT_DIRECTION",
    "MESH_COLOR",
    "MeshRenderer",
    "available_backends",
    "vertex_normals",
]
