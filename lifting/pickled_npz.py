"""Reading and writing VideoPose3D's npz files, whose dicts are pickled, without running their code.

VideoPose3D stores its dicts as pickled 0-d object arrays inside the npz, and reading them with
``np.load(allow_pickle=True)`` would run whatever code the file names. ``_read_npz_member`` opens
the ``.npy`` member of the zip and unpickles it with ``body_models.safe_pickle.RestrictedUnpickler``
(numpy arrays, dicts, lists and strings only). Writing the same layout needs pickling too (numpy
pickles a dict value passed to ``np.savez``); ``_npz_bytes`` does that deliberately so the
official code can read our files.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from body_models.errors import InputError, MissingFileError
from body_models.safe_pickle import load_pickle_stream


def _read_npz_member(path: Path, key: str) -> Any:
    """Array ``key`` of an npz; a pickled object array is read with the restricted unpickler.

    A 0-d object array (how numpy stores a dict) comes back as the object itself.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"cannot read {path}: not an npz archive ({error})") from None
    with archive:
        member = f"{key}.npy"
        if member not in archive.namelist():
            keys = sorted(n[:-4] for n in archive.namelist() if n.endswith(".npy"))
            raise InputError(f"{path} has no array {key!r} (it has {keys}); is it a VideoPose3D file of this kind?")
        with archive.open(member) as stream:
            try:
                version = np.lib.format.read_magic(stream)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)  # v2 and v3 share the layout
                shape, fortran, dtype = read_header(stream)
            except ValueError as error:
                raise InputError(f"cannot read {path}: array {key!r} is not a valid .npy ({error})") from None
            if dtype.hasobject:
                value = load_pickle_stream(stream, f"{path} (array {key!r})")
            else:
                value = np.lib.format.read_array(io.BytesIO(archive.read(member)), allow_pickle=False)
    if isinstance(value, np.ndarray) and value.dtype.hasobject and value.shape == ():
        return value.item()
    return value


def _existing(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{what} not found: {path}; see VideoPose3D's DATASETS.md for how to make it")
    return path


def _npz_bytes(**values: Any) -> bytes:
    """An npz (compressed, like VideoPose3D's) whose dict values are pickled 0-d object arrays.

    np.savez pickles any object array, so a dict passed here is stored exactly as VideoPose3D
    stores ``positions_3d`` / ``positions_2d`` / ``metadata``, and its ``np.load(...,
    allow_pickle=True)['key'].item()`` reads it back.
    """
    buffer = io.BytesIO()
    arrays = {}
    for name, value in values.items():
        if isinstance(value, dict):
            holder = np.empty((), dtype=object)
            holder[()] = value
            arrays[name] = holder
        else:
            arrays[name] = value
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """Plain Python containers and numpy arrays only (what the restricted unpickler reads back)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _dict_of(value: Any, path: Path, key: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{path}: {key!r} must be a pickled dict, got {type(value).__name__}")
    return value
