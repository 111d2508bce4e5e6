"""Reading ``.npz`` files that a user may have damaged: one-line errors, never a traceback.

    arrays = load_npz("run/keypoints2d.npz", what="a keypoints2d.npz")

``np.load`` alone raises ``BadZipFile`` on a truncated file, and trusts an array header that
claims a 40 GB shape, allocating before it notices the data is not there. ``load_npz`` reads
each member's header first and refuses an array larger than the bytes its member holds, object
(pickled) arrays, and archives that are not zip files, each as an ``InputError`` naming the file.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from body_models.errors import InputError, MissingFileError

__all__ = ["load_npz", "require_numeric"]


def load_npz(path: str | os.PathLike, what: str = "an npz file") -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, checked before it is read.

    Args:
        path: the file.
        what: what the file should be, for the error message ("a keypoints2d.npz").

    Raises:
        MissingFileError: nothing at ``path``.
        InputError: not a zip archive, truncated, an array whose header claims more data than
            the file holds, or an object array (which would need pickle).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path} not found; expected {what}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"{path} is not {what}: not a readable npz archive ({error}); "
                         "rerun the command that wrote it") from None
    out: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                with archive.open(info) as stream:
                    version = np.lib.format.read_magic(stream)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(stream)
                    if dtype.hasobject:
                        raise InputError(f"{path}: array {key!r} holds Python objects (pickle), which this project "
                                         f"never loads; expected {what}")
                    claimed = int(np.prod(shape, dtype=np.float64) * dtype.itemsize)
                    if claimed > info.file_size:
                        raise InputError(f"{path}: array {key!r} claims shape {tuple(shape)} ({claimed / 1e9:.3g} GB) "
                                         f"but the file holds {info.file_size} bytes for it; the file is damaged")
                out[key] = np.lib.format.read_array(io.BytesIO(archive.read(info)), allow_pickle=False)
            except InputError:
                raise
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as error:
                message = " ".join(str(error).split())
                raise InputError(f"{path}: array {key!r} cannot be read ({message}); the file is damaged or "
                                 f"not {what}") from None
    return out


def require_numeric(path: str | os.PathLike, name: str, array: np.ndarray) -> np.ndarray:
    """``array`` as float32, or an ``InputError`` when it holds strings or other non-numbers."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{path}: {name!r} holds {array.dtype} values, not numbers; write it as a float array")
    return array.astype(np.float32)
