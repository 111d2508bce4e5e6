"""Moved to ``hmr.io.render``; this module re-exports its names for old imports."""

from hmr.io.render import (  # noqa: F401
    MESH_COLOR,
    LIGHT_DIRECTION,
    AMBIENT,
    Camera,
    vertex_normals,
    MeshRenderer,
    available_backends,
)

__all__ = ['MESH_COLOR', 'LIGHT_DIRECTION', 'AMBIENT', 'Camera', 'vertex_normals', 'MeshRenderer', 'available_backends']
