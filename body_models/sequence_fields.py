"""How the pipeline's sequence files are stored (``body_models.sequences`` holds the file types):

- each field of a file type declares its stored shape, in named sizes ("T P 3": frames, people,
  3), and dtype, with ``array``, ``scalar`` or ``size``;
- ``SequenceFile``, the frozen base of the types, checks those on construction and gives each
  type its one ``load`` and ``save``;
- ``save_sequence_arrays`` and ``load_sequence_arrays`` underneath stamp and check the
  ``schema_version`` and the required keys of each file kind (``SCHEMA_VERSIONS``,
  ``REQUIRED_KEYS``), with a one-line ``InputError`` naming the file.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, TypeVar

import numpy as np

from body_models.atomic import save_npz
from body_models.errors import InputError
from body_models.npz import load_npz

__all__ = ["INDEX", "KEYPOINTS2D_SCHEMA_VERSION", "REQUIRED", "REQUIRED_KEYS", "REWRITE_HINT", "SCHEMA_VERSIONS",
           "SequenceFile", "array", "load_sequence_arrays", "save_sequence_arrays", "scalar", "size"]

KEYPOINTS2D_SCHEMA_VERSION = 1

SCHEMA_VERSIONS = {"keypoints2d": KEYPOINTS2D_SCHEMA_VERSION, "joints3d": 1, "smpl": 1, "regressor": 1, "world": 1}
"""The newest ``schema_version`` this code writes and reads, per file kind."""

REQUIRED_KEYS = {
    "keypoints2d": ("keypoints", "boxes", "valid", "track_ids", "joint_names", "image_size", "fps", "frame_indices"),
    "joints3d": ("joints", "valid"),
    "smpl": ("global_orient", "body_pose", "betas", "transl", "valid"),
    "regressor": ("global_orient", "body_pose", "betas", "cam", "transl", "valid"),
    "world": ("global_orient", "transl", "transl_unrefined", "transl_refined", "joints", "joints_unrefined",
              "joints_refined", "contacts", "contact_names", "valid", "refined", "camera_rotation",
              "camera_position", "ground_plane", "ground_inliers"),
}
"""The keys each file kind must hold; the others are optional (an older or hand-made file)."""

REWRITE_HINT = "rerun the command that wrote it"


# ---------------------------------------------------------------------------------------------
# How a field is stored: its shape in named sizes and its dtype


REQUIRED = object()
"""A field with no default: the constructor and the file must have it."""
INDEX = object()
"""An array field that, left out, holds 0, 1, ... along its one axis (``track_ids``, ``frame_indices``)."""

# dtype kind of a field: (kinds accepted from code, kinds a file may hold and load converts, the name in errors)
_KINDS = {"f": ("f", "biuf", "numbers"), "i": ("iu", "iu", "integers"), "b": ("b", "biu", "booleans"),
          "U": ("US", "US", "text")}


def _fail(where: str | Path, message: str):
    """Raise the one-line ``InputError``: ``where`` is a file (then the message says what to do) or the
    name of a type built in code."""
    raise InputError(f"{where}: {message}; {REWRITE_HINT}" if isinstance(where, Path) else f"{where}: {message}")


def _check_kind(found: np.dtype, stored_as: np.dtype, name: str, where: str | Path) -> None:
    """Refuse values of another kind than a field ``stored_as`` this dtype takes (a file may hold
    any numbers for a float field, or integers for a flag)."""
    accepted_in_code, accepted_in_file, what = _KINDS[stored_as.kind]
    if found.kind not in (accepted_in_file if isinstance(where, Path) else accepted_in_code):
        _fail(where, f"{name} holds {found} values, not {what}")


@dataclass(frozen=True)
class _Array:
    """An array field: ``shape`` names its sizes ("T", "P", ...) or gives them, ``dtype`` is how
    it is stored, ``absent`` what it holds when left out (``REQUIRED``, None, ``INDEX`` or a value
    to fill it with)."""

    shape: tuple[str | int, ...]
    dtype: np.dtype
    absent: Any

    def check(self, value: Any, name: str, where: str | Path, sizes: dict[str, int]) -> None:
        """Check the kind of ``value``'s dtype and its shape against ``sizes`` (and add the sizes
        it is the first to give)."""
        if not isinstance(value, np.ndarray):
            _fail(where, f"{name} must be a numpy array, got {type(value).__name__}")
        _check_kind(value.dtype, self.dtype, name, where)
        bound = dict(sizes)
        fits = len(value.shape) == len(self.shape) and all(
            axis == (bound.setdefault(size, axis) if isinstance(size, str) else size)
            for size, axis in zip(self.shape, value.shape))
        if not fits:
            known = ", ".join(f"{s}={sizes[s]}" for s in self.shape if isinstance(s, str) and s in sizes)
            _fail(where, f"{name} has shape {value.shape}, expected {self.pattern}" + (f" with {known}" if known else ""))
        sizes.update(bound)

    @property
    def pattern(self) -> str:
        return "(" + ", ".join(str(s) for s in self.shape) + ("," if len(self.shape) == 1 else "") + ")"

    def normalized(self, value: np.ndarray) -> np.ndarray:
        return value

    def encode(self, value: np.ndarray) -> np.ndarray:
        return np.asarray(value, self.dtype)

    def decode(self, stored: np.ndarray, name: str, path: Path) -> np.ndarray:
        _check_kind(stored.dtype, self.dtype, name, path)
        return stored.astype(self.dtype)

    def filled(self, sizes: dict[str, int]) -> np.ndarray:
        """The array a field left out holds (sizes no other field gave are 0)."""
        if self.absent is INDEX:
            return np.arange(sizes[self.shape[0]], dtype=self.dtype)
        return np.full(tuple(sizes.get(s, 0) if isinstance(s, str) else s for s in self.shape), self.absent, self.dtype)


@dataclass(frozen=True)
class _Scalar:
    """A field holding one value: a Python ``float``, ``int``, ``bool`` or ``str``; ``absent`` is
    its default (``REQUIRED``: none)."""

    type: type
    absent: Any

    @property
    def dtype(self) -> np.dtype:
        return np.dtype({float: np.float64, int: np.int64, bool: np.bool_, str: np.str_}[self.type])

    def check(self, value: Any, name: str, where: str | Path, sizes: dict[str, int]) -> None:
        kinds = {float: numbers.Real, int: numbers.Integral, bool: (bool, np.bool_), str: str}[self.type]
        if not isinstance(value, kinds):
            _fail(where, f"{name} must be a {self.type.__name__}, got {type(value).__name__}")

    def normalized(self, value: Any) -> Any:
        return self.type(value)

    def encode(self, value: Any) -> np.ndarray:
        return np.array(value, self.dtype)

    def decode(self, stored: np.ndarray, name: str, path: Path) -> Any:
        if stored.shape != ():
            _fail(path, f"{name} must be one value, got shape {stored.shape}")
        _check_kind(stored.dtype, self.dtype, name, path)
        return self.type(stored.astype(self.dtype).item())


@dataclass(frozen=True)
class _Size:
    """(width, height) pixels, a tuple of two ints; (2,) int64 in the file, where NaN reads as 0
    (unknown). ``absent`` is its default (``REQUIRED``: none)."""

    absent: Any

    def check(self, value: Any, name: str, where: str | Path, sizes: dict[str, int]) -> None:
        if not (isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2
                and all(isinstance(v, numbers.Integral) for v in value)):
            _fail(where, f"{name} must be (width, height) integer pixels, got {value!r}")

    def normalized(self, value: Any) -> tuple[int, int]:
        return tuple(int(v) for v in value)

    def encode(self, value: tuple[int, int]) -> np.ndarray:
        return np.array(value, np.int64)

    def decode(self, stored: np.ndarray, name: str, path: Path) -> tuple[int, int]:
        _check_kind(stored.dtype, np.dtype(np.float64), name, path)
        if stored.shape != (2,):
            _fail(path, f"{name} must be (2,) width and height, got shape {stored.shape}")
        return tuple(int(v) for v in np.nan_to_num(stored.astype(np.float64)))


def _field(stored: _Array | _Scalar | _Size):
    """The dataclass field for a stored value; an array that is filled in when left out defaults
    to None until ``__post_init__`` fills it."""
    if stored.absent is REQUIRED:
        return dataclasses.field(metadata={"stored": stored})
    return dataclasses.field(default=None if isinstance(stored, _Array) else stored.absent, metadata={"stored": stored})


def array(shape: str, dtype, absent: Any = REQUIRED):
    """A field holding an array of ``shape`` ("T P 3": T frames, P people, 3 values), stored as
    ``dtype``; ``absent`` as in ``_Array``."""
    return _field(_Array(tuple(int(s) if s.isdigit() else s for s in shape.split()), np.dtype(dtype), absent))


def scalar(kind: type, default: Any = REQUIRED):
    """A field holding one ``float``, ``int``, ``bool`` or ``str``; a None default: not recorded."""
    return _field(_Scalar(kind, default))


def size(default: Any = REQUIRED):
    """A field holding (width, height) pixels."""
    return _field(_Size(default))


# ---------------------------------------------------------------------------------------------
# What the file types share

_S = TypeVar("_S", bound="SequenceFile")


class SequenceFile:
    """A frozen dataclass of one of the pipeline's files; its fields say how they are stored
    (``array``, ``scalar``, ``size``). ``KIND`` is the file's kind in ``SCHEMA_VERSIONS``. Every
    file has ``valid``, (T, P) bool."""

    KIND: ClassVar[str]
    valid: np.ndarray

    @property
    def num_frames(self) -> int:
        """T, the frames (rows)."""
        return self.valid.shape[0]

    @property
    def num_people(self) -> int:
        """P, the people (track columns)."""
        return self.valid.shape[1]

    def __post_init__(self) -> None:
        sizes = _check_fields(type(self), vars(self), type(self).__name__)
        for name, stored in _stored_fields(type(self)):  # frozen: only __post_init__ may set a field
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, stored.normalized(value))
            elif isinstance(stored, _Array) and stored.absent is not None:
                object.__setattr__(self, name, stored.filled(sizes))

    @classmethod
    def load(cls: type[_S], path: str | os.PathLike) -> _S:
        """Read the file (without pickle), with its version, keys, shapes and dtypes checked."""
        path = Path(path)
        values = cls._read(path, load_sequence_arrays(path, cls.KIND))
        _check_fields(cls, values, path)
        return cls(**values)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the file atomically, stamped with its ``schema_version``."""
        return save_sequence_arrays(path, self.KIND, **self.as_arrays())

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``save`` writes (all but ``schema_version``), in their stored dtypes."""
        arrays = {name: stored.encode(getattr(self, name)) for name, stored in _stored_fields(type(self))
                  if getattr(self, name) is not None}
        return {**arrays, **self._derived_arrays()}

    @classmethod
    def _read(cls, path: Path, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """The values of the fields a file's ``arrays`` hold, converted to their types."""
        return {name: stored.decode(arrays[name], name, path) for name, stored in _stored_fields(cls) if name in arrays}

    @classmethod
    def _check_values(cls, values: Mapping[str, Any], sizes: dict[str, int], where: str | Path) -> None:
        """Checks beyond shapes and dtypes (a type overrides it)."""

    def _derived_arrays(self) -> dict[str, np.ndarray]:
        """Arrays the file holds that follow from the fields (joint names)."""
        return {}


def _stored_fields(cls: type) -> list[tuple[str, Any]]:
    return [(f.name, f.metadata["stored"]) for f in dataclasses.fields(cls) if "stored" in f.metadata]


def _check_fields(cls: type, values: Mapping[str, Any], where: str | Path) -> dict[str, int]:
    """Check every field value of ``cls`` in ``values``; return the sizes they give (T, P, ...)."""
    sizes: dict[str, int] = {}
    for name, stored in _stored_fields(cls):
        if values.get(name) is not None:
            stored.check(values[name], name, where, sizes)
        elif stored.absent is REQUIRED:
            _fail(where, f"{name} is missing")
    cls._check_values(values, sizes, where)
    return sizes


# ---------------------------------------------------------------------------------------------
# the files as arrays, with their version and keys checked


def save_sequence_arrays(path: str | os.PathLike, kind: str, **arrays) -> Path:
    """Write one of the pipeline's own files (``kind`` as in ``load_sequence_arrays``) atomically,
    stamped with its ``schema_version`` from ``SCHEMA_VERSIONS``; a writer that leaves out a
    required key or stamps its own version is a bug, refused here rather than by the reader.
    The file types' ``save`` writes through it."""
    if kind not in REQUIRED_KEYS:
        raise InputError(f"unknown sequence file kind {kind!r}; known: {', '.join(REQUIRED_KEYS)}")
    if "schema_version" in arrays:
        raise ValueError(f"the {kind}.npz writer must not set schema_version itself")
    missing = [key for key in REQUIRED_KEYS[kind] if key not in arrays]
    if missing:
        raise ValueError(f"a {kind}.npz needs {', '.join(missing)}")
    return save_npz(path, schema_version=np.int64(SCHEMA_VERSIONS[kind]), **arrays)


def load_sequence_arrays(path: str | os.PathLike, kind: str) -> dict[str, np.ndarray]:
    """The arrays of one of the pipeline's own files (``keypoints2d.npz``, ``joints3d.npz``,
    ``smpl.npz``, ``regressor.npz``, ``world.npz``: ``kind`` without the suffix), loaded without pickle, with
    its ``schema_version`` and required keys checked; every problem is a one-line error naming
    the file. The file types' ``load`` reads through it."""
    if kind not in REQUIRED_KEYS:
        raise InputError(f"unknown sequence file kind {kind!r}; known: {', '.join(REQUIRED_KEYS)}")
    path = Path(path)
    arrays = load_npz(path, what=f"a {kind}.npz")
    stored = arrays.get("schema_version", np.int64(0))
    if stored.shape != () or stored.dtype.kind not in "iuf":
        raise InputError(f"{path}: schema_version must be one integer, got {stored.dtype} {stored.shape}; rerun the "
                         "command that wrote it")
    version = int(stored)
    if version > SCHEMA_VERSIONS[kind]:
        raise InputError(f"{path} has schema_version {version}; this version of hmr reads {kind}.npz up to "
                         f"{SCHEMA_VERSIONS[kind]} (upgrade hmr, or rerun the command that wrote it)")
    missing = [key for key in REQUIRED_KEYS[kind] if key not in arrays]
    if missing:
        raise InputError(f"{path} lacks {', '.join(missing)}; expected a {kind}.npz written by hmr (rerun the "
                         "command that writes it)")
    return arrays
