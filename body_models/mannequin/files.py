"""The bytes of the mannequin's files and the checks a cached file must pass to be reused.

The writers give equal bytes for equal arrays (fixed zip timestamps), so a rebuilt file is
byte-identical to the cached one; a cached file that cannot be read or fails its check is
regenerated with a warning.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np

from body_models.atomic import memo_key
from body_models.joints import SMPL_24
from body_models.mannequin.layout import MODEL_NAME, N_BETAS, N_FACES, N_POSE_BASIS, N_VERTS


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` (deflate-compressed) with fixed timestamps, so equal arrays give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in arrays.items():
            value = np.asarray(value)
            if value.dtype == object:
                raise TypeError(f"array {name!r} has dtype object; store strings as str arrays")
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, value, allow_pickle=False)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _check_model(arrays: dict[str, np.ndarray]) -> None:
    """Raise ``ValueError`` unless ``arrays`` has the mannequin's keys and shapes."""
    shapes = {"v_template": (N_VERTS, 3), "f": (N_FACES, 3), "J_regressor": (len(SMPL_24), N_VERTS),
              "weights": (N_VERTS, len(SMPL_24)), "kintree_table": (2, len(SMPL_24)),
              "shapedirs": (N_VERTS, 3, N_BETAS), "posedirs": (N_VERTS, 3, N_POSE_BASIS),
              "J": (len(SMPL_24), 3), "model_name": ()}
    for key, shape in shapes.items():
        if key not in arrays:
            raise ValueError(f"missing array {key!r}")
        if arrays[key].shape != shape:
            raise ValueError(f"array {key!r} has shape {arrays[key].shape}, expected {shape}")
    if str(arrays["model_name"]) != MODEL_NAME:
        raise ValueError(f"model_name is {str(arrays['model_name'])!r}, not {MODEL_NAME!r}")


_VALID: set[tuple] = set()
"""(``body_models.atomic.memo_key``, check) of the large cached files that passed their check in
this process: the mannequin's model file is checked once, not at every load of the body."""


def _read_valid(path: Path, check) -> bool | None:
    """True if the cached file exists and passes ``check``; ``None`` if absent. A file that
    cannot be read or fails the check is reported with a warning and treated as absent."""
    if not path.exists():
        return None
    key = memo_key(path)
    if key is not None and (key, check) in _VALID:
        return True
    try:
        with open(path, "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            content = dict(loaded) if isinstance(loaded, np.lib.npyio.NpzFile) else loaded
        check(content)
    except Exception as err:  # noqa: BLE001 - any unreadable cache file is regenerated
        warnings.warn(f"regenerating the damaged mannequin file {path} ({type(err).__name__}: {err})",
                      stacklevel=3)
        return None
    if key is not None:
        _VALID.add((key, check))
    return True


def _shape_check(shape):
    def check(array):
        if not isinstance(array, np.ndarray) or array.shape != shape:
            raise ValueError(f"expected an array of shape {shape}")
        if not np.allclose(array.sum(axis=1), 1.0):
            raise ValueError("rows do not sum to 1")
    return check


def _check_mean(arrays) -> None:
    expected = {"pose": ((144,), np.float32), "shape": ((N_BETAS,), np.float64),
                "cam": ((3,), np.float32)}
    for key, (shape, dtype) in expected.items():
        if key not in arrays or arrays[key].shape != shape or arrays[key].dtype != dtype:
            raise ValueError(f"array {key!r} missing or not {shape} {np.dtype(dtype)}")
