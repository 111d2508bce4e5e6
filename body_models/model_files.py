"""SMPL model files: find them, read them without chumpy, write them back as clean ``.npz``.

The official SMPL ``.pkl`` files are Python 2 pickles that hold chumpy arrays, a scipy sparse
``J_regressor`` and a ``uint32`` kinematic tree whose root parent is 4294967295.
``load_model_file`` reads them through ``safe_pickle`` (chumpy need not be installed, and a
pickle that would run code is refused) or reads an ``.npz`` with ``allow_pickle=False``, and
returns plain numpy arrays in SMPL's layout:

=====================  ===============  ====================================================
key                    shape            dtype and meaning
=====================  ===============  ====================================================
``v_template``         (V, 3)           float64, template vertices, metres
``shapedirs``          (V, 3, NB)       float64, shape blend shapes (NB = 10 or 300)
``posedirs``           (V, 3, 9(J-1))   float64, pose-corrective blend shapes (207 for SMPL)
``J_regressor``        (J, V)           float64, dense joint regressor
``weights``            (V, J)           float64, skinning weights, rows sum to 1
``kintree_table``      (2, J)           int64, row 0 parents (root -1), row 1 joint ids
``f``                  (F, 3)           int64, triangle vertex indices
=====================  ===============  ====================================================

Other numeric arrays in the file (``J``, ``J_regressor_prior``, ``weights_prior``,
``vert_sym_idxs``, ...) are kept; ``bs_style`` and ``bs_type`` are kept as 0-d str arrays;
everything else (``pose_training_info`` and other dicts, strings, None) is dropped.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import scipy.sparse
from smplx.utils import Struct

from body_models.atomic import memo_key, save_npz
from body_models.errors import InputError, MissingFileError
from body_models.safe_pickle import load_pickle

__all__ = [
    "REQUIRED_KEYS",
    "convert_model_file",
    "load_model_file",
    "resolve_model_path",
    "save_model_file",
    "smplx_struct",
]

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
STRING_KEYS = ("bs_style", "bs_type")

WHERE_TO_GET_SMPL = (
    "SMPL is licensed and not shipped with this project: register at https://smpl.is.tue.mpg.de, "
    "download the model, then point --body-model at the .pkl or its folder"
)

_GENDERS = {"neutral": "neutral", "n": "neutral", "male": "male", "m": "male", "female": "female", "f": "female"}
# File names as distributed, in the order we prefer them; matched case-insensitively.
# SPIN and smplx rename the files to SMPL_{GENDER}.pkl; an .npz of the same name is our clean copy.
_FILE_NAMES = {
    "neutral": ("SMPL_NEUTRAL.npz", "SMPL_NEUTRAL.pkl", "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"),
    "male": ("SMPL_MALE.npz", "SMPL_MALE.pkl", "basicmodel_m_lbs_10_207_0_v1.0.0.pkl"),
    "female": ("SMPL_FEMALE.npz", "SMPL_FEMALE.pkl", "basicModel_f_lbs_10_207_0_v1.0.0.pkl"),
}
# Any later release with the same naming scheme (for example v1.1.0), tried after the names above.
_RELEASE_PATTERN = {
    "neutral": re.compile(r"basicmodel_neutral_lbs_10_207_0_v\d+\.\d+\.\d+\.pkl", re.IGNORECASE),
    "male": re.compile(r"basicmodel_m_lbs_10_207_0_v\d+\.\d+\.\d+\.pkl", re.IGNORECASE),
    "female": re.compile(r"basicmodel_f_lbs_10_207_0_v\d+\.\d+\.\d+\.pkl", re.IGNORECASE),
}
_ZIP_MAGIC = b"PK\x03\x04"  # an .npz is a zip archive
_WEIGHT_SUM_TOLERANCE = 1e-3
_UINT32_ROOT = 4294967295  # how the official files store the root's parent


def resolve_model_path(path_or_dir: str | os.PathLike, gender: str = "neutral") -> Path:
    """Find the SMPL model file for ``gender`` in a folder, or check a file path.

    In a folder (and in its ``smpl/`` subfolder, smplx's layout) the names tried are, in order and
    case-insensitively: ``SMPL_{GENDER}.npz``, ``SMPL_{GENDER}.pkl``, the v1.0.0 name
    (``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl``, ``basicModel_f_...``, ``basicmodel_m_...``)
    and the same name with any other version.

    Args:
        path_or_dir: a model file, or a folder holding model files.
        gender: ``"neutral"``, ``"male"`` or ``"female"`` (also ``"n"``, ``"m"``, ``"f"``).

    Returns:
        The path of the model file.

    Raises:
        InputError: ``gender`` is not one of the above.
        MissingFileError: no such file, or no matching file in the folder.
    """
    gender_key = _GENDERS.get(str(gender).lower())
    if gender_key is None:
        raise InputError(f"unknown SMPL gender {gender!r}; use neutral, male or female")
    path = Path(path_or_dir).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise MissingFileError(f"SMPL model file not found: {path}; {WHERE_TO_GET_SMPL}")

    for folder in (path, path / "smpl"):
        if not folder.is_dir():
            continue
        files = {entry.name.lower(): entry for entry in sorted(folder.iterdir()) if entry.is_file()}
        for name in _FILE_NAMES[gender_key]:
            if name.lower() in files:
                return files[name.lower()]
        for lower_name, entry in files.items():
            if _RELEASE_PATTERN[gender_key].fullmatch(lower_name):
                return entry
    looked_for = ", ".join(_FILE_NAMES[gender_key])
    raise MissingFileError(
        f"no {gender_key} SMPL model file in {path} (looked for {looked_for}); {WHERE_TO_GET_SMPL}"
    )


_LOADED: dict[tuple, dict[str, np.ndarray]] = {}
"""load_model_file's memo: the last large file read (``body_models.atomic.memo_key``), so that the
stages of one run, which each pose the body, read and check it once."""


def load_model_file(path: str | os.PathLike, *, gender: str = "neutral") -> dict[str, np.ndarray]:
    """Read an SMPL model file (official ``.pkl`` or ``.npz``) into numpy arrays.

    chumpy is not needed. The format is told from the file's first bytes, not its name.

    Args:
        path: the model file, or a folder searched by ``resolve_model_path``.
        gender: which model to pick when ``path`` is a folder.

    Returns:
        The arrays in SMPL's layout (see the module docstring): ``v_template (V, 3)``,
        ``shapedirs (V, 3, NB)``, ``posedirs (V, 3, 9(J-1))``, ``J_regressor (J, V)`` dense,
        ``weights (V, J)``, ``kintree_table (2, J)`` int64 with root parent -1, ``f (F, 3)``
        int64, plus any other numeric arrays of the file.

    Raises:
        MissingFileError: the file is not there (the message says where SMPL comes from).
        UnsafeFileError: the pickle would run code or build objects off the allow-list.
        InputError: the file is corrupt, or an array is missing or has the wrong shape.
    """
    path = resolve_model_path(path, gender)
    key = memo_key(path)
    if key is None or key not in _LOADED:
        with open(path, "rb") as file:
            magic = file.read(len(_ZIP_MAGIC))
        raw = _read_npz(path) if magic == _ZIP_MAGIC else load_pickle(path)
        if not isinstance(raw, Mapping):
            raise InputError(f"{path}: holds a {type(raw).__name__}, expected a dict of SMPL arrays")
        arrays = _smpl_arrays(raw, str(path))
        if key is None:
            return arrays
        _LOADED.clear()  # one model file kept: a run uses one body model, loaded by several stages
        _LOADED[key] = arrays
    return {name: array.copy() for name, array in _LOADED[key].items()}


def save_model_file(path: str | os.PathLike, model: Mapping[str, Any]) -> Path:
    """Write a model dict as a clean ``.npz`` (no object arrays) atomically.

    The arrays are checked and converted exactly as ``load_model_file`` does, so the file always
    loads back to the same dict, with ``np.load(path, allow_pickle=False)`` too.

    Args:
        path: the ``.npz`` file to write.
        model: SMPL arrays, for example from ``load_model_file``.

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise InputError(f"cannot save a model file as {path}: the name must end in .npz")
    arrays = _smpl_arrays(model, f"model for {path}")
    return save_npz(path, **arrays)


def convert_model_file(src: str | os.PathLike, dst: str | os.PathLike | None = None, *,
                       gender: str = "neutral") -> Path:
    """Convert an official SMPL ``.pkl`` (or any readable model file) into a clean ``.npz``.

    Args:
        src: the model file to read, or a folder searched by ``resolve_model_path``.
        dst: the ``.npz`` to write; by default the model file's path with the suffix ``.npz``.
        gender: which model to pick when ``src`` is a folder.

    Returns:
        The path written.
    """
    src = resolve_model_path(src, gender)
    dst = src.with_suffix(".npz") if dst is None else Path(dst)
    return save_model_file(dst, load_model_file(src))


def smplx_struct(model: Mapping[str, np.ndarray]) -> Struct:
    """Wrap model arrays for ``smplx.SMPL(model_path="", data_struct=...)``.

    smplx 0.1.28 reads ``shapedirs``, ``f``, ``v_template``, ``J_regressor`` (dense),
    ``posedirs``, ``kintree_table`` (row 0 as parents, index 0 set to -1) and ``weights``.

    Args:
        model: SMPL arrays, for example from ``load_model_file``.

    Returns:
        A ``smplx.utils.Struct`` holding the arrays as attributes.
    """
    missing = [key for key in REQUIRED_KEYS if key not in model]
    if missing:
        raise InputError(f"model arrays lack {', '.join(missing)}; smplx needs {', '.join(REQUIRED_KEYS)}")
    return Struct(**dict(model))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as error:
        message = " ".join(str(error).split())[:200]
        if "allow_pickle" in message:  # object arrays need pickle, which we never allow
            raise InputError(f"{path}: cannot read the .npz without pickle ({message}); save it again "
                             f"with plain numeric arrays") from None
        raise InputError(f"{path}: not a readable .npz ({type(error).__name__}: {message})") from None


def _numeric(value: Any) -> np.ndarray | None:
    """The value as a numeric ndarray (sparse matrices densified), or None if it is not one."""
    if scipy.sparse.issparse(value):
        value = value.toarray()
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biuf":
        return np.asarray(value)
    return None


def _is_text(value: Any) -> bool:
    """True for a str or a 0-d numpy str array (how an .npz stores a str)."""
    return isinstance(value, str) or (isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.ndim == 0)


def _smpl_arrays(raw: Mapping[Any, Any], source: str) -> dict[str, np.ndarray]:
    """Check and convert a raw model dict into SMPL's layout (see the module docstring).

    Args:
        raw: key -> value as read from the file.
        source: names the file in error messages.
    """
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise InputError(f"{source}: no {key!r} array; an SMPL model file holds {', '.join(REQUIRED_KEYS)}")
    arrays: dict[str, np.ndarray] = {}
    for key in REQUIRED_KEYS:
        array = _numeric(raw[key])
        if array is None:
            raise InputError(f"{source}: {key!r} is a {type(raw[key]).__name__}, expected a numeric array")
        arrays[key] = array

    v_template = _floats(arrays["v_template"], source, "v_template", (None, 3), "(V, 3)")
    num_verts = v_template.shape[0]
    j_regressor = _floats(arrays["J_regressor"], source, "J_regressor", (None, num_verts),
                          f"(J, V) with V = {num_verts} from v_template")
    num_joints = j_regressor.shape[0]
    joints_note = f"V = {num_verts} from v_template, J = {num_joints} from J_regressor"
    model = {
        "v_template": v_template,
        "shapedirs": _floats(arrays["shapedirs"], source, "shapedirs", (num_verts, 3, None),
                             f"(V, 3, NB) with {joints_note}"),
        "posedirs": _floats(arrays["posedirs"], source, "posedirs", (num_verts, 3, 9 * (num_joints - 1)),
                            f"(V, 3, 9 (J - 1)) with {joints_note}"),
        "J_regressor": j_regressor,
        "weights": _floats(arrays["weights"], source, "weights", (num_verts, num_joints),
                           f"(V, J) with {joints_note}"),
        "kintree_table": _kintree_table(arrays["kintree_table"], source, num_joints),
        "f": _faces(arrays["f"], source, num_verts),
    }
    row_sums = model["weights"].sum(axis=1)
    worst = int(np.argmax(np.abs(row_sums - 1.0)))
    if abs(row_sums[worst] - 1.0) > _WEIGHT_SUM_TOLERANCE:
        raise InputError(f"{source}: 'weights' row {worst} sums to {row_sums[worst]:.6g}, expected 1 "
                         f"(each vertex's skinning weights sum to 1)")

    known_extras = {
        "J": ((num_joints, 3), "(J, 3)"),
        "J_regressor_prior": ((num_joints, num_verts), "(J, V)"),
        "weights_prior": ((num_verts, num_joints), "(V, J)"),
    }
    dropped = []
    for key in sorted(k for k in raw if isinstance(k, str) and k not in model):
        value = raw[key]
        if key in STRING_KEYS and _is_text(value):
            model[key] = np.asarray(str(value))  # 0-d str array, e.g. bs_type 'lrotmin'
            continue
        array = _numeric(value)
        if array is None:
            dropped.append(key)
            continue
        try:  # an optional array that does not fit is dropped, it never blocks loading the model
            if key in known_extras:
                shape, meaning = known_extras[key]
                array = _floats(array, source, key, shape, f"{meaning} with {joints_note}")
            elif key == "vert_sym_idxs":
                array = _indices(array, source, key, (num_verts,), num_verts, f"(V,) with V = {num_verts}")
        except InputError as error:
            logger.warning("%s; dropping this optional array", error)
            continue
        model[key] = array
    if dropped:
        logger.debug("%s: dropped non-array entries %s", source, ", ".join(dropped))
    return model


def _check_shape(array: np.ndarray, source: str, key: str, shape: tuple[int | None, ...], meaning: str) -> None:
    matches = array.ndim == len(shape) and all(n is None or n == m for n, m in zip(shape, array.shape))
    if not matches or 0 in array.shape:
        raise InputError(f"{source}: {key!r} has shape {tuple(array.shape)}, expected {meaning}")


def _floats(array: np.ndarray, source: str, key: str, shape: tuple[int | None, ...], meaning: str) -> np.ndarray:
    _check_shape(array, source, key, shape, meaning)
    array = np.asarray(array, dtype=np.float64)
    if not np.isfinite(array).all():
        raise InputError(f"{source}: {key!r} holds NaN or infinite values")
    return array


def _indices(array: np.ndarray, source: str, key: str, shape: tuple[int | None, ...], upper: int,
             meaning: str) -> np.ndarray:
    _check_shape(array, source, key, shape, meaning)
    if array.dtype.kind not in "iu":
        raise InputError(f"{source}: {key!r} has dtype {array.dtype}, expected integers")
    if array.min() < 0 or array.max() >= upper:
        raise InputError(f"{source}: {key!r} holds indices outside [0, {upper})")
    return array.astype(np.int64)


def _faces(array: np.ndarray, source: str, num_verts: int) -> np.ndarray:
    """Faces (F, 3) as int64, checked against the vertex count."""
    return _indices(array, source, "f", (None, 3), num_verts, f"(F, 3) with V = {num_verts} from v_template")


def _kintree_table(array: np.ndarray, source: str, num_joints: int) -> np.ndarray:
    """The kinematic tree (2, J) as int64 with the root's parent -1 (official files: 4294967295)."""
    _check_shape(array, source, "kintree_table", (2, num_joints), f"(2, J) with J = {num_joints} from J_regressor")
    if array.dtype.kind not in "iu":
        raise InputError(f"{source}: 'kintree_table' has dtype {array.dtype}, expected integers")
    if array.dtype.kind == "u":
        is_root = array == np.iinfo(array.dtype).max
    else:
        is_root = (array == _UINT32_ROOT) | (array == -1)
    table = array.astype(np.int64)
    table[is_root] = -1
    parents, joint_ids = table
    if parents[0] != -1:
        raise InputError(f"{source}: 'kintree_table' gives the root a parent {parents[0]}, expected -1 "
                         f"(stored as {_UINT32_ROOT} in official files)")
    if not np.array_equal(joint_ids, np.arange(num_joints)):
        raise InputError(f"{source}: 'kintree_table' row 1 is {joint_ids.tolist()}, expected 0 .. {num_joints - 1}")
    for joint in range(1, num_joints):
        if not 0 <= parents[joint] < joint:
            raise InputError(f"{source}: 'kintree_table' gives joint {joint} the parent {parents[joint]}, "
                             f"expected a joint in 0 .. {joint - 1} (parents come before children)")
    return table
