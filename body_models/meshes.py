"""Mesh export: Wavefront OBJ in trimesh's layout (read back with trimesh), keeping SMPL's vertex order.

Files are written atomically. Vertex order and count are never changed (trimesh's merging and
cleaning are off), so vertex ``i`` of every file is SMPL vertex ``i``.
"""

from __future__ import annotations

import os
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from body_models.atomic import write_text
from body_models.errors import InputError

if TYPE_CHECKING:  # trimesh (0.7 s to import) is needed only to read meshes back
    import trimesh


def _as_numpy(array) -> np.ndarray:
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def _face_lines(faces: np.ndarray) -> str:
    """The OBJ face lines of (F, 3) 0-based faces, as trimesh writes them (1-based)."""
    return "\n".join(f"f {a} {b} {c}" for a, b, c in (faces.astype(np.int64) + 1).tolist())


def _obj_text(vertices: np.ndarray, face_lines: str, header: str | None) -> str:
    """An OBJ file's text, byte for byte as trimesh's ``export_obj`` without normals, colours or
    texture (a test checks this): the header comment, one line per vertex (8 decimals), the faces."""
    vertex_lines = ("v %.8f %.8f %.8f\n" * len(vertices)) % tuple(vertices.astype(np.float64).ravel())
    return f"# {header or 'hmr-video'}\n{vertex_lines}{face_lines}\n\n"


def _checked(vertices, faces, path) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces = _as_numpy(vertices), _as_numpy(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise InputError(f"save_obj: vertices must be (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise InputError(f"save_obj: faces must be (F, 3), got {faces.shape}")
    if not np.isfinite(vertices).all():
        raise InputError(f"save_obj: vertices for {path} contain NaN or inf")
    return vertices, faces


def save_obj(path: str | os.PathLike, vertices, faces, header: str | None = None) -> Path:
    """Write one mesh as OBJ.

    Args:
        path: output file; parent folders are created.
        vertices: (V, 3) metres (numpy or torch).
        faces: (F, 3) vertex indices, 0-based.
        header: a comment written at the top (e.g. which body model made the mesh).
    """
    vertices, faces = _checked(vertices, faces, path)
    return write_text(path, _obj_text(vertices, _face_lines(faces), header))


def save_obj_sequence(folder: str | os.PathLike, vertices, faces, frame_indices=None,
                      digits: int = 6, header: str | None = None) -> list[Path]:
    """Write one OBJ per frame, named by zero-padded frame index (``000000.obj``, ...); the face
    lines, the same in every frame, are formatted once.

    Args:
        folder: output folder.
        vertices: (T, V, 3) metres.
        faces: (F, 3).
        frame_indices: (T,) the frame number of each mesh; 0..T-1 when None.
        digits: zero padding of the file names.

    Returns:
        The T paths written, in order.
    """
    vertices = _as_numpy(vertices)
    if vertices.ndim != 3:
        raise InputError(f"save_obj_sequence: vertices must be (T, V, 3), got {vertices.shape}")
    frames = np.arange(len(vertices)) if frame_indices is None else np.asarray(frame_indices)
    if frames.shape != (len(vertices),):
        raise InputError(f"save_obj_sequence: {len(vertices)} meshes but frame_indices has shape {frames.shape}")
    folder = Path(folder)
    face_lines = None
    paths = []
    for i, v in zip(frames, vertices):
        path = folder / f"{int(i):0{digits}d}.obj"
        v, f = _checked(v, faces, path)
        face_lines = _face_lines(f) if face_lines is None else face_lines
        paths.append(write_text(path, _obj_text(v, face_lines, header)))
    return paths


def load_obj(path: str | os.PathLike) -> trimesh.Trimesh:
    """Read an OBJ without reordering or merging vertices."""
    import trimesh

    return trimesh.load(str(path), file_type="obj", process=False, maintain_order=True)
