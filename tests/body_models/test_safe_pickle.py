"""Tests for body_models.safe_pickle: official-style pickles load, code-running pickles are refused.

``dumps_py2`` writes pickles the way Python 2's cPickle wrote the official SMPL, gmm_08 and 3DPW
files (protocol 2, byte strings as BINSTRING, Python 2 module names), so the tests read the same
opcodes as the real files without needing Python 2. test_model_files.py imports it.
"""

from __future__ import annotations

import copyreg
import importlib.util
import io
import os
import pickle
import pickletools
import struct
import sys

import numpy as np
import pytest
import scipy.sparse

from body_models.atomic import write_bytes
from body_models.errors import InputError, MissingFileError, UnsafeFileError
from body_models.safe_pickle import DEFAULT_ALLOW, load_pickle

# Module names as Python 2 (numpy 1.x, scipy < 1.8) wrote them.
PY2_MODULES = {
    "numpy._core.multiarray": "numpy.core.multiarray",
    "scipy.sparse._csc": "scipy.sparse.csc",
    "scipy.sparse._csr": "scipy.sparse.csr",
    "builtins": "__builtin__",
    "copyreg": "copy_reg",
}


class Py2Pickler(pickle._Pickler):
    """The pure-Python pickler, changed to write what Python 2's ``pickle.dump(obj, f, -1)`` wrote:
    every ``str`` and ``bytes`` as a Python 2 byte string (SHORT_BINSTRING / BINSTRING), globals as
    GLOBAL opcodes with Python 2 module names, and no import check on the names."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        module = PY2_MODULES.get(obj.__module__, obj.__module__)
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode("ascii"))
        self.memoize(obj)


def dumps_py2(obj) -> bytes:
    """``obj`` pickled as Python 2 with protocol 2 would have pickled it."""
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


class FakeCh:
    """Pickles exactly like a chumpy ``Ch``: NEWOBJ of ``chumpy.ch.Ch``, then its state dict."""

    def __init__(self, state: dict):
        self.state = state

    def __reduce_ex__(self, protocol):
        return copyreg.__newobj__, (type(self),), self.state


FakeCh.__module__, FakeCh.__qualname__ = "chumpy.ch", "Ch"


class FakeChAdd(FakeCh):
    """A derived chumpy expression, as ``a + b`` pickles."""


FakeChAdd.__module__, FakeChAdd.__qualname__ = "chumpy.ch_ops", "add"


def fake_chumpy_array(x: np.ndarray) -> FakeCh:
    """A plain chumpy array holding ``x``, with chumpy's bookkeeping state."""
    state = {
        "x": np.asarray(x, dtype=np.float64),
        "_dirty_vars": {"x"},
        "_itr": None,
        "_depends_on_deps": {},
        "_make_dense": False,
        "_make_sparse": False,
    }
    return FakeCh(state)


def write_pickle(path, data: bytes):
    write_bytes(path, data)
    return path


# ---------------------------------------------------------------- the Python 2 writer is faithful


def test_py2_writer_needs_latin1_like_real_python2_files():
    array = np.linspace(-1.0, 1.0, 7)
    data = dumps_py2(array)
    opcodes = {op.name for op, _, _ in pickletools.genops(data)}
    assert "SHORT_BINSTRING" in opcodes and "GLOBAL" in opcodes
    assert not opcodes & {"BINUNICODE", "SHORT_BINUNICODE", "BINBYTES", "SHORT_BINBYTES"}
    assert b"numpy.core.multiarray\n_reconstruct\n" in data
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(data)  # Python 3's default ASCII decoding fails, as for real py2 files
    np.testing.assert_array_equal(pickle.loads(data, encoding="latin1"), array)


# ---------------------------------------------------------------- what loads


def test_plain_python3_pickles_load_under_every_protocol(tmp_path):
    value = {
        "array": np.arange(12, dtype=np.float32).reshape(3, 4),
        "ints": np.array([1, 2], dtype=np.uint32),
        "empty": np.zeros((0, 3)),
        "scalar": np.float64(2.5),
        "sparse": scipy.sparse.csc_matrix(np.eye(3)),
        "csr": scipy.sparse.csr_matrix(np.array([[0.0, 2.0], [3.0, 0.0]])),
        "misc": [1, 2.0, "text", b"", b"bytes", None, True, (1, 2), {1, 2}, frozenset({3})],
    }
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        path = write_pickle(tmp_path / f"p{protocol}.pkl", pickle.dumps(value, protocol=protocol))
        loaded = load_pickle(path)
        np.testing.assert_array_equal(loaded["array"], value["array"])
        assert loaded["array"].dtype == np.float32
        assert loaded["ints"].dtype == np.uint32
        assert loaded["empty"].shape == (0, 3)
        assert loaded["scalar"] == 2.5
        assert isinstance(loaded["sparse"], scipy.sparse.csc_matrix)
        assert isinstance(loaded["csr"], scipy.sparse.csr_matrix)
        np.testing.assert_array_equal(loaded["sparse"].toarray(), np.eye(3))
        np.testing.assert_array_equal(loaded["csr"].toarray(), value["csr"].toarray())
        assert loaded["misc"] == value["misc"]


def test_python2_chumpy_and_sparse_load_without_chumpy(tmp_path):
    assert "chumpy" not in sys.modules and importlib.util.find_spec("chumpy") is None
    x = np.arange(24.0).reshape(4, 3, 2)
    regressor = scipy.sparse.csc_matrix(np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]))
    value = {"shapedirs": fake_chumpy_array(x), "J_regressor": regressor, "nested": [fake_chumpy_array(x[0])]}
    data = dumps_py2(value)
    assert b"chumpy.ch\nCh\n" in data and b"scipy.sparse.csc\ncsc_matrix\n" in data
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(data, encoding="latin1")  # a plain load would need chumpy

    loaded = load_pickle(write_pickle(tmp_path / "model.pkl", data))
    assert isinstance(loaded["shapedirs"], np.ndarray) and loaded["shapedirs"].dtype == np.float64
    np.testing.assert_array_equal(loaded["shapedirs"], x)
    np.testing.assert_array_equal(loaded["nested"][0], x[0])
    assert isinstance(loaded["J_regressor"], scipy.sparse.csc_matrix)
    np.testing.assert_array_equal(loaded["J_regressor"].toarray(), regressor.toarray())
    assert "chumpy" not in sys.modules


def test_protocol_1_objects_use_copyreg_reconstructor(tmp_path):
    """Old writers pickle new-style objects through copy_reg._reconstructor(cls, object, None)."""
    matrix = scipy.sparse.csc_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
    data = pickle.dumps({"m": matrix}, protocol=1)
    assert b"copy_reg\n_reconstructor" in data
    loaded = load_pickle(write_pickle(tmp_path / "old.pkl", data))
    np.testing.assert_array_equal(loaded["m"].toarray(), matrix.toarray())


def test_sparse_state_with_old_shape_key(tmp_path):
    """Older scipy kept the shape under 'shape' instead of '_shape'."""

    class OldCsc:
        def __reduce_ex__(self, protocol):
            state = {"shape": (2, 3), "data": np.array([1.0, 2.0]), "indices": np.array([0, 1], dtype=np.int32),
                     "indptr": np.array([0, 1, 2, 2], dtype=np.int32), "format": "csc", "maxprint": 50}
            return copyreg.__newobj__, (type(self),), state

    OldCsc.__module__, OldCsc.__qualname__ = "scipy.sparse.csc", "csc_matrix"
    loaded = load_pickle(write_pickle(tmp_path / "old_sparse.pkl", dumps_py2([OldCsc()])))
    np.testing.assert_array_equal(loaded[0].toarray(), [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])


def test_gmm_prior_layout(tmp_path):
    """gmm_08.pkl (FORMATS 3.11): a Python 2 dict of means (8, 69), covars (8, 69, 69), weights (8,)."""
    rng = np.random.default_rng(0)
    gmm = {"means": rng.normal(size=(8, 69)), "covars": np.stack([np.eye(69)] * 8), "weights": np.full(8, 0.125)}
    loaded = load_pickle(write_pickle(tmp_path / "gmm_08.pkl", dumps_py2(gmm)))
    assert set(loaded) == {"means", "covars", "weights"}
    for key in gmm:
        np.testing.assert_array_equal(loaded[key], gmm[key])


def test_3dpw_sequence_layout(tmp_path):
    """3DPW sequence files (FORMATS 6.1): a Python 2 dict of per-actor lists, strings and arrays."""
    rng = np.random.default_rng(1)
    sequence = {
        "sequence": "downtown_walking_00",
        "genders": ["m", "f"],
        "betas": [rng.normal(size=10), rng.normal(size=10)],
        "poses": [rng.normal(size=(5, 72)), rng.normal(size=(5, 72))],
        "poses2d": [rng.normal(size=(5, 3, 18))] * 2,
        "campose_valid": [np.ones(5, dtype=bool), np.zeros(5, dtype=bool)],
        "cam_intrinsics": np.eye(3),
        "img_frame_ids": np.arange(5),
    }
    loaded = load_pickle(write_pickle(tmp_path / "seq.pkl", dumps_py2(sequence)))
    assert loaded["sequence"] == "downtown_walking_00" and loaded["genders"] == ["m", "f"]
    np.testing.assert_array_equal(loaded["poses"][1], sequence["poses"][1])
    assert loaded["campose_valid"][0].dtype == bool
    assert loaded["poses2d"][0] is loaded["poses2d"][1]  # shared references survive


def test_cycles_do_not_hang(tmp_path):
    loop = [fake_chumpy_array(np.ones(2))]
    loop.append(loop)
    loaded = load_pickle(write_pickle(tmp_path / "cycle.pkl", dumps_py2(loop)))
    np.testing.assert_array_equal(loaded[0], np.ones(2))
    assert loaded[1] is loaded


def test_allow_list_can_be_extended(tmp_path):
    import collections

    data = pickle.dumps(collections.OrderedDict(a=1), protocol=2)
    path = write_pickle(tmp_path / "ordered.pkl", data)
    with pytest.raises(UnsafeFileError, match="collections.OrderedDict"):
        load_pickle(path)
    allow = {**DEFAULT_ALLOW, "collections.OrderedDict": collections.OrderedDict}
    assert load_pickle(path, allow=allow) == {"a": 1}


# ---------------------------------------------------------------- chumpy that cannot be read


def test_derived_chumpy_class_is_refused(tmp_path):
    derived = FakeChAdd({"a": fake_chumpy_array(np.ones(3)), "b": fake_chumpy_array(np.ones(3))})
    path = write_pickle(tmp_path / "derived.pkl", dumps_py2({"J": derived}))
    with pytest.raises(InputError, match=r"derived chumpy expression \(chumpy\.ch_ops\.add\)"):
        load_pickle(path)


def test_chumpy_stub_without_x_is_refused(tmp_path):
    no_value = FakeCh({"a": np.ones(3), "_dirty_vars": set(), "_itr": None})
    path = write_pickle(tmp_path / "no_x.pkl", dumps_py2({"shapedirs": no_value}))
    with pytest.raises(InputError, match="without a stored value 'x'") as info:
        load_pickle(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------- malicious pickles


class SystemCall:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class EvalCall:
    def __init__(self, source):
        self.source = source

    def __reduce__(self):
        return eval, (self.source,)


def test_the_payloads_are_live(tmp_path):
    """Control: an ordinary pickle.load of these payloads does run the command."""
    for number, payload in enumerate([SystemCall(f"touch {tmp_path / 'ran0'}"),
                                      EvalCall(f"__import__('os').system('touch {tmp_path / 'ran1'}')")]):
        pickle.loads(pickle.dumps(payload, protocol=2))
        assert (tmp_path / f"ran{number}").exists()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_os_system_is_refused(tmp_path, protocol):
    marker = tmp_path / "marker"
    payload = {"v_template": np.zeros((3, 3)), "evil": SystemCall(f"touch {marker}")}
    path = write_pickle(tmp_path / "evil.pkl", pickle.dumps(payload, protocol=protocol))
    with pytest.raises(UnsafeFileError) as info:
        load_pickle(path)
    message = str(info.value)
    assert f"refusing to load {path}" in message and f"{os.system.__module__}.system" in message
    assert "\n" not in message
    assert not marker.exists()


@pytest.mark.parametrize(("protocol", "written_as"), [(2, "__builtin__.eval"), (4, "builtins.eval")])
def test_builtins_eval_is_refused(tmp_path, protocol, written_as):
    marker = tmp_path / "marker"
    payload = EvalCall(f"__import__('os').system('touch {marker}')")
    path = write_pickle(tmp_path / "eval.pkl", pickle.dumps(payload, protocol=protocol))
    with pytest.raises(UnsafeFileError, match=f"it references {written_as},"):
        load_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize("builtins_module", ["builtins", "__builtin__"])
def test_getattr_chain_is_refused(tmp_path, builtins_module):
    """getattr(__import__('os'), 'system')('touch marker'), written by hand in protocol 0."""
    marker = tmp_path / "marker"
    data = (
        f"c{builtins_module}\ngetattr\n(c{builtins_module}\n__import__\n(S'os'\ntRS'system'\ntR"
        f"(S'touch {marker}'\ntR."
    ).encode()
    path = write_pickle(tmp_path / "getattr.pkl", data)
    with pytest.raises(UnsafeFileError, match=rf"{builtins_module}\.getattr"):
        load_pickle(path)
    assert not marker.exists()


def test_dotted_names_are_not_resolved(tmp_path):
    """Protocol 4 resolves dotted names attribute by attribute; we only match whole names."""
    module, name = b"numpy", b"ndarray.__class__.__subclasses__"
    data = (b"\x80\x04" + pickle.SHORT_BINUNICODE + bytes([len(module)]) + module
            + pickle.SHORT_BINUNICODE + bytes([len(name)]) + name + pickle.STACK_GLOBAL + pickle.STOP)
    with pytest.raises(UnsafeFileError, match=r"numpy\.ndarray\.__class__\.__subclasses__"):
        load_pickle(write_pickle(tmp_path / "dotted.pkl", data))


def test_reconstructor_only_builds_stubs(tmp_path):
    data = b"ccopy_reg\n_reconstructor\n(cnumpy\nndarray\nc__builtin__\nobject\nNtR."
    with pytest.raises(UnsafeFileError, match="copyreg._reconstructor"):
        load_pickle(write_pickle(tmp_path / "reconstructor.pkl", data))


def test_codecs_encode_only_encodes_latin1(tmp_path):
    data = b"c_codecs\nencode\n(Vabc\nVrot13\ntR."
    with pytest.raises(UnsafeFileError, match="_codecs.encode"):
        load_pickle(write_pickle(tmp_path / "codec.pkl", data))


# ---------------------------------------------------------------- broken files


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="missing.pkl"):
        load_pickle(tmp_path / "missing.pkl")


def test_folder_is_not_a_pickle(tmp_path):
    with pytest.raises(InputError, match="not a file"):
        load_pickle(tmp_path)


@pytest.mark.parametrize("data", [b"", b"this is not a pickle", bytes(range(256)) * 4,
                                  pickle.dumps({"a": np.arange(100.0)}, protocol=2)[:-40]])
def test_garbage_is_an_input_error(tmp_path, data):
    path = write_pickle(tmp_path / "garbage.pkl", data)
    with pytest.raises(InputError, match="not a readable pickle") as info:
        load_pickle(path)
    assert "\n" not in str(info.value)


def test_malformed_sparse_matrix_is_an_input_error(tmp_path):
    matrix = scipy.sparse.csc_matrix(np.eye(3))
    matrix.indices[2] = 7  # row index outside the 3 rows
    path = write_pickle(tmp_path / "bad_sparse.pkl", dumps_py2({"J_regressor": matrix}))
    with pytest.raises(InputError, match="csc_matrix is malformed"):
        load_pickle(path)
