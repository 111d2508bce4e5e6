"""Restricted unpickling for every ``.pkl`` file the project reads.

A pickle is a small program: loading one may import any module and call any function it names.
The official files we must read are pickles all the same: SMPL model files (Python 2 pickles
holding chumpy arrays and scipy sparse matrices), SMPLify's ``gmm_08.pkl`` pose prior and the
3DPW sequence files. ``load_pickle`` reads them with an unpickler whose ``find_class`` answers
only names on an explicit allow-list, each mapped to a fixed object. Nothing is imported by name,
so a file that names ``os.system``, ``builtins.eval`` or ``getattr`` is refused before anything
runs.

What the default allow-list admits:

- numpy array reconstruction: ``_reconstruct``, ``scalar`` and ``_frombuffer`` under both
  ``numpy.core`` (older writers) and ``numpy._core`` (numpy 2), ``numpy.ndarray``, ``numpy.dtype``;
- the pieces Python pickles use for plain containers and byte strings: ``set``, ``frozenset``,
  ``object``, ``copyreg._reconstructor`` (only for the stubs below), ``_codecs.encode`` (only
  str to latin-1 bytes) and ``bytes()`` (only the empty one);
- scipy sparse ``csc_matrix`` / ``csr_matrix`` under their old (``scipy.sparse.csc``) and new
  (``scipy.sparse._csc``) module paths, read into a stub that keeps the pickled state and is
  rebuilt afterwards as a real matrix from ``(data, indices, indptr)`` and validated;
- chumpy's plain ``Ch`` (``chumpy.ch.Ch``, ``chumpy.Ch``), read into a stub that keeps the
  pickled state and is replaced afterwards by ``np.asarray(state['x'])``. Derived chumpy
  expressions (any other chumpy class, or a ``Ch`` without ``x``) are an ``InputError``: their
  value only exists after chumpy evaluates them.

Pickles are read with ``encoding='latin1'``, which is what Python 2 pickles need and what numpy
expects for the raw bytes of Python 2 arrays.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np
import scipy.sparse

from body_models.errors import HMRError, InputError, MissingFileError, UnsafeFileError

try:  # numpy >= 1.26 (numpy 2 moved the internals to numpy._core)
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - older numpy
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric

__all__ = ["DEFAULT_ALLOW", "RestrictedUnpickler", "load_pickle"]

_REEXPORT_HINT = "re-export the file as .npz"
_CHUMPY_HINT = (
    "only plain chumpy arrays can be read without chumpy; convert the file once with chumpy "
    "installed (smplx's tools/clean_ch.py) or re-export it as .npz"
)


class _Refused(Exception):
    """Raised while unpickling when the file asks for something off the allow-list."""


class _Unsupported(Exception):
    """Raised while unpickling when the file holds a harmless object we cannot convert."""


class _Stub:
    """Stand-in for a class we never import: records the state the pickle restores."""

    __slots__ = ("state",)

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ChumpyArray(_Stub):
    """Stand-in for ``chumpy.ch.Ch``; becomes ``np.asarray(state['x'])`` after loading."""

    __slots__ = ()


class _SparseMatrix(_Stub):
    """Stand-in for a scipy sparse matrix; rebuilt from its pickled ``__dict__`` after loading."""

    __slots__ = ()
    matrix_class: type = scipy.sparse.csc_matrix


class _CscMatrix(_SparseMatrix):
    __slots__ = ()
    matrix_class = scipy.sparse.csc_matrix


class _CsrMatrix(_SparseMatrix):
    __slots__ = ()
    matrix_class = scipy.sparse.csr_matrix


def _copyreg_reconstructor(cls: Any, base: Any, state: Any) -> _Stub:
    """``copyreg._reconstructor`` restricted to our stubs (protocol 0/1 object pickling)."""
    if not (isinstance(cls, type) and issubclass(cls, _Stub)) or base is not object or state is not None:
        raise _Refused(
            f"it calls copyreg._reconstructor on {cls!r}, which is not an allowed array type; "
            f"{_REEXPORT_HINT}"
        )
    return object.__new__(cls)


def _codecs_encode(text: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    """``_codecs.encode`` restricted to what Python 3 uses for bytes in protocol 0-2 pickles."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise _Refused(
            f"it calls _codecs.encode with encoding {encoding!r}; only str to latin-1 bytes is "
            f"allowed; {_REEXPORT_HINT}"
        )
    return text.encode("latin-1")


def _empty_bytes(*args: Any) -> bytes:
    """``bytes()`` restricted to the empty string (how Python 3 pickles ``b''`` in protocol 2)."""
    if args:
        raise _Refused(f"it calls bytes with arguments {args!r:.60}; {_REEXPORT_HINT}")
    return b""


def _both_numpy_paths(submodule: str, name: str, value: Any) -> dict[str, Any]:
    return {f"numpy.core.{submodule}.{name}": value, f"numpy._core.{submodule}.{name}": value}


DEFAULT_ALLOW: Mapping[str, Any] = {
    # numpy arrays and scalars (Python 2, Python 3 protocol <= 4, protocol 5)
    **_both_numpy_paths("multiarray", "_reconstruct", _multiarray._reconstruct),
    **_both_numpy_paths("multiarray", "scalar", _multiarray.scalar),
    **_both_numpy_paths("numeric", "_frombuffer", _numeric._frombuffer),
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    # plain Python pieces that Python 2 and protocol-2 pickles name
    "__builtin__.set": set,
    "builtins.set": set,
    "__builtin__.frozenset": frozenset,
    "builtins.frozenset": frozenset,
    "__builtin__.object": object,
    "builtins.object": object,
    "copy_reg._reconstructor": _copyreg_reconstructor,
    "copyreg._reconstructor": _copyreg_reconstructor,
    "_codecs.encode": _codecs_encode,
    "__builtin__.bytes": _empty_bytes,
    "builtins.bytes": _empty_bytes,
    # scipy sparse matrices, old (SMPL files) and new module paths
    "scipy.sparse.csc.csc_matrix": _CscMatrix,
    "scipy.sparse._csc.csc_matrix": _CscMatrix,
    "scipy.sparse.csr.csr_matrix": _CsrMatrix,
    "scipy.sparse._csr.csr_matrix": _CsrMatrix,
    # chumpy's plain array class only
    "chumpy.ch.Ch": _ChumpyArray,
    "chumpy.Ch": _ChumpyArray,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose globals come only from an allow-list of ``"module.name"`` keys.

    Args:
        file: a binary file object.
        allow: maps ``"module.name"`` (as written in the pickle) to the object to use for it.
            Nothing is imported: a name that is not a key is refused.
    """

    def __init__(self, file: Any, *, allow: Mapping[str, Any] = DEFAULT_ALLOW) -> None:
        super().__init__(file, encoding="latin1")
        self._allow = allow

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if qualified in self._allow:
            return self._allow[qualified]
        if module == "chumpy" or module.startswith("chumpy."):
            raise _Unsupported(f"it holds a derived chumpy expression ({qualified}); {_CHUMPY_HINT}")
        raise _Refused(f"it references {qualified}, which is not an allowed array type; {_REEXPORT_HINT}")


def load_pickle(path: str | os.PathLike, *, allow: Mapping[str, Any] = DEFAULT_ALLOW) -> Any:
    """Load a pickle without running code from it.

    Chumpy arrays come back as numpy arrays and scipy sparse matrices as real (validated)
    ``csc_matrix`` / ``csr_matrix``, wherever they sit in dicts, lists, tuples, sets or object
    arrays.

    Args:
        path: the ``.pkl`` file (Python 2 or Python 3 pickle).
        allow: the allow-list, ``"module.name"`` -> object; see ``DEFAULT_ALLOW``.

    Returns:
        The unpickled object.

    Raises:
        MissingFileError: ``path`` does not exist.
        UnsafeFileError: the pickle names a global that is not on the allow-list.
        InputError: the file is not a readable pickle, or holds a derived chumpy expression or a
            malformed sparse matrix.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"pickle file not found: {path}")
    if not path.is_file():
        raise InputError(f"cannot load {path}: it is not a file")
    with open(path, "rb") as file:
        return load_pickle_stream(file, str(path), allow=allow)


def load_pickle_stream(stream: BinaryIO, source: str, *, allow: Mapping[str, Any] = DEFAULT_ALLOW) -> Any:
    """``load_pickle`` for an open binary stream, e.g. a pickled array inside an ``.npz``.

    Args:
        stream: positioned at the start of the pickle.
        source: how errors name the data, e.g. ``"data_3d_h36m.npz, array 'positions_3d'"``.
        allow: the allow-list, as for ``load_pickle``.
    """
    try:
        result = RestrictedUnpickler(stream, allow=allow).load()
    except _Refused as error:
        raise UnsafeFileError(f"refusing to load {source}: {error}") from None
    except _Unsupported as error:
        raise InputError(f"cannot load {source}: {error}") from None
    except HMRError:
        raise
    except Exception as error:  # the unpickler reports corrupt input with many exception types
        message = " ".join(str(error).split())[:200]
        raise InputError(
            f"cannot load {source}: not a readable pickle ({type(error).__name__}: {message})"
        ) from error
    return _replace_stubs(result, Path(source))


def _replace_stubs(root: Any, path: Path) -> Any:
    """Replace every stub reachable through containers by the value it stands for."""
    seen: set[int] = set()  # mutable containers already visited (pickles may hold cycles)

    def visit(obj: Any) -> Any:
        if isinstance(obj, _ChumpyArray):
            return _array_from_chumpy(obj, visit, path)
        if isinstance(obj, _SparseMatrix):
            return _matrix_from_state(obj, path)
        if isinstance(obj, (dict, list)) or (isinstance(obj, np.ndarray) and obj.dtype == object):
            if id(obj) in seen:
                return obj
            seen.add(id(obj))
        if isinstance(obj, dict):
            for key in obj:
                if isinstance(key, _Stub):
                    raise InputError(f"cannot load {path}: it uses a chumpy or sparse object as a dict key")
            for key, value in obj.items():
                obj[key] = visit(value)
        elif isinstance(obj, list):
            for index, value in enumerate(obj):
                obj[index] = visit(value)
        elif isinstance(obj, tuple):
            return tuple(visit(value) for value in obj)
        elif isinstance(obj, (set, frozenset)):
            if any(isinstance(value, _Stub) for value in obj):
                raise InputError(f"cannot load {path}: it holds a chumpy or sparse object inside a set")
        elif isinstance(obj, np.ndarray) and obj.dtype == object:
            for index in np.ndindex(obj.shape):
                obj[index] = visit(obj[index])
        return obj

    return visit(root)


def _array_from_chumpy(stub: _ChumpyArray, visit: Any, path: Path) -> np.ndarray:
    state = getattr(stub, "state", None)
    if not isinstance(state, dict) or "x" not in state:
        raise InputError(
            f"cannot load {path}: it holds a chumpy object without a stored value 'x' "
            f"(a derived chumpy expression); {_CHUMPY_HINT}"
        )
    array = np.asarray(visit(state["x"]))
    if array.dtype.kind not in "biufc":
        raise InputError(f"cannot load {path}: a chumpy array holds {array.dtype} values, expected numbers")
    return array


def _matrix_from_state(stub: _SparseMatrix, path: Path) -> scipy.sparse.spmatrix:
    kind = stub.matrix_class.__name__
    state = getattr(stub, "state", None)
    if not isinstance(state, dict):
        raise InputError(f"cannot load {path}: a {kind} has no stored state")
    parts = {key: state.get(key) for key in ("data", "indices", "indptr")}
    for key, value in parts.items():
        if not isinstance(value, np.ndarray) or value.ndim != 1:
            raise InputError(f"cannot load {path}: a {kind} has no 1-D array {key!r}")
    if parts["data"].dtype.kind not in "biufc" or parts["indices"].dtype.kind not in "iu" \
            or parts["indptr"].dtype.kind not in "iu":
        raise InputError(f"cannot load {path}: a {kind} has non-numeric data or non-integer indices")
    shape = state.get("_shape", state.get("shape"))  # newer scipy stores _shape, older shape
    if not (isinstance(shape, tuple) and len(shape) == 2
            and all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape)):
        raise InputError(f"cannot load {path}: a {kind} has shape {shape!r:.60}, expected two sizes")
    try:
        matrix = stub.matrix_class(
            (parts["data"], parts["indices"], parts["indptr"]), shape=tuple(int(n) for n in shape)
        )
        matrix.check_format(full_check=True)
    except (ValueError, TypeError, IndexError) as error:
        message = " ".join(str(error).split())[:200]
        raise InputError(f"cannot load {path}: a {kind} is malformed ({message})") from None
    return matrix
