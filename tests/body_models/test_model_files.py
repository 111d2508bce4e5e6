"""Tests for body_models.model_files on a synthetic file in the official SMPL v1.0.0 layout.

The fixture imitates a real ``basicModel_*_lbs_10_207_0_v1.0.0.pkl``: a Python 2 protocol-2
pickle (byte strings that need ``encoding='latin1'``), ``shapedirs`` and ``J`` as chumpy ``Ch``
objects, ``J_regressor`` and ``J_regressor_prior`` as ``scipy.sparse.csc_matrix`` under the old
``scipy.sparse.csc`` module path, ``kintree_table`` and ``f`` as uint32 with 4294967295 as the
root's parent, and the string and dict entries ``bs_style``, ``bs_type``, ``pose_training_info``.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys

import numpy as np
import pytest
import scipy.sparse
import smplx
import torch

from body_models.atomic import save_npz, write_bytes
from body_models.errors import InputError, MissingFileError, UnsafeFileError
from body_models.model_files import (
    REQUIRED_KEYS,
    convert_model_file,
    load_model_file,
    resolve_model_path,
    save_model_file,
    smplx_struct,
)
from test_safe_pickle import FakeCh, SystemCall, dumps_py2, fake_chumpy_array

# SMPL's parents (FORMATS 4.4); the root's parent is stored as uint32 max in official files.
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
NUM_JOINTS = 24


def official_model(num_verts: int, num_faces: int = 40, seed: int = 0) -> dict:
    """Random arrays in the official layout, stored with the official types (chumpy, sparse, uint32)."""
    rng = np.random.default_rng(seed)
    v_template = rng.normal(scale=0.3, size=(num_verts, 3))
    weights = rng.random((num_verts, NUM_JOINTS)) ** 4
    weights /= weights.sum(axis=1, keepdims=True)
    regressor = np.zeros((NUM_JOINTS, num_verts))
    for joint in range(NUM_JOINTS):  # each joint: a convex combination of a few vertices
        columns = rng.choice(num_verts, size=min(8, num_verts), replace=False)
        regressor[joint, columns] = rng.dirichlet(np.ones(len(columns)))
    kintree = np.array([[4294967295 if p < 0 else p for p in SMPL_PARENTS], list(range(NUM_JOINTS))], dtype=np.uint32)
    return {
        "v_template": v_template,
        "shapedirs": fake_chumpy_array(rng.normal(scale=0.01, size=(num_verts, 3, 10))),
        "posedirs": rng.normal(scale=0.001, size=(num_verts, 3, 207)),
        "J_regressor": scipy.sparse.csc_matrix(regressor),
        "J_regressor_prior": scipy.sparse.csc_matrix(regressor),
        "weights": weights,
        "weights_prior": weights.copy(),
        "kintree_table": kintree,
        "f": rng.integers(0, num_verts, size=(num_faces, 3)).astype(np.uint32),
        "J": fake_chumpy_array(regressor @ v_template),
        "vert_sym_idxs": rng.permutation(num_verts),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "pose_training_info": {"n_poses": 1786, "sigma": 0.5, "subjects": ["a", "b"]},
    }


def plain(value):
    """The array an official-typed value stands for."""
    if isinstance(value, FakeCh):
        return value.state["x"]
    if scipy.sparse.issparse(value):
        return value.toarray()
    return value


@pytest.fixture()
def small_model():
    return official_model(num_verts=30)


@pytest.fixture()
def small_pkl(tmp_path, small_model):
    return write_bytes(tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl", dumps_py2(small_model))


@pytest.fixture(scope="module")
def full_size_pkl(tmp_path_factory):
    """6,890 vertices, as smplx's extra vertex joints index up to 6,889 (few faces keep it cheap)."""
    path = tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl"
    return write_bytes(path, dumps_py2(official_model(num_verts=6890, seed=1)))


def assert_same_model(left: dict, right: dict):
    assert list(left) == list(right)
    for key in left:
        assert left[key].dtype == right[key].dtype, key
        np.testing.assert_array_equal(left[key], right[key], err_msg=key)


# ---------------------------------------------------------------- official .pkl without chumpy


def test_fixture_is_an_official_style_pickle(small_pkl):
    data = small_pkl.read_bytes()
    assert data[:2] == b"\x80\x02"
    assert b"chumpy.ch\nCh\n" in data and b"scipy.sparse.csc\ncsc_matrix\n" in data
    assert b"numpy.core.multiarray\n_reconstruct\n" in data
    assert importlib.util.find_spec("chumpy") is None
    with pytest.raises(ImportError):
        import chumpy  # noqa: F401
    with pytest.raises(ModuleNotFoundError, match="chumpy"):
        pickle.loads(data, encoding="latin1")  # what smplx does: needs chumpy


def test_load_official_pkl_without_chumpy(small_pkl, small_model):
    model = load_model_file(small_pkl)
    assert "chumpy" not in sys.modules

    assert list(model)[: len(REQUIRED_KEYS)] == list(REQUIRED_KEYS)
    assert model["v_template"].shape == (30, 3) and model["v_template"].dtype == np.float64
    assert model["shapedirs"].shape == (30, 3, 10) and model["shapedirs"].dtype == np.float64
    assert model["posedirs"].shape == (30, 3, 207)
    assert model["J_regressor"].shape == (24, 30) and isinstance(model["J_regressor"], np.ndarray)
    assert model["weights"].shape == (30, 24)
    assert model["kintree_table"].dtype == np.int64 and model["f"].dtype == np.int64
    np.testing.assert_array_equal(model["kintree_table"], [SMPL_PARENTS, list(range(24))])
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f",
                "J", "J_regressor_prior", "weights_prior", "vert_sym_idxs"):
        np.testing.assert_array_equal(model[key], plain(small_model[key]), err_msg=key)
    assert str(model["bs_style"]) == "lbs" and str(model["bs_type"]) == "lrotmin"
    assert "pose_training_info" not in model
    assert all(isinstance(value, np.ndarray) and value.dtype != object for value in model.values())


def test_smplx_runs_on_loaded_pkl(full_size_pkl):
    model = load_model_file(full_size_pkl)
    body = smplx.SMPL(model_path="", data_struct=smplx_struct(model), batch_size=2)
    torch.manual_seed(0)
    with torch.no_grad():
        rest = body()  # zero pose and shape: the template
        posed = body(body_pose=0.3 * torch.randn(2, 69), betas=torch.randn(2, 10),
                     global_orient=0.3 * torch.randn(2, 3))
    assert rest.vertices.shape == posed.vertices.shape == (2, 6890, 3)
    assert posed.joints.shape[:1] == (2,) and posed.joints.shape[1] >= 24
    np.testing.assert_allclose(rest.vertices[0].numpy(), model["v_template"], atol=1e-6)
    np.testing.assert_allclose(rest.joints[0, :24].numpy(), model["J_regressor"] @ model["v_template"], atol=1e-5)
    np.testing.assert_array_equal(body.parents.numpy(), SMPL_PARENTS)
    assert torch.isfinite(posed.vertices).all()
    assert not torch.allclose(posed.vertices[0], rest.vertices[0])


def test_python3_cleaned_pickle_loads_the_same(tmp_path, small_pkl, small_model):
    """A file re-pickled under Python 3 with plain arrays (smplx's clean_ch.py) gives the same dict."""
    cleaned = {key: plain(value) for key, value in small_model.items()}
    cleaned["J_regressor"] = scipy.sparse.csc_matrix(cleaned["J_regressor"])
    path = write_bytes(tmp_path / "SMPL_NEUTRAL.pkl", pickle.dumps(cleaned, protocol=pickle.HIGHEST_PROTOCOL))
    assert_same_model(load_model_file(path), load_model_file(small_pkl))


# ---------------------------------------------------------------- converter


def test_convert_round_trip(tmp_path, small_pkl):
    destination = tmp_path / "out" / "SMPL_NEUTRAL.npz"
    assert convert_model_file(small_pkl, destination) == destination
    assert_same_model(load_model_file(destination), load_model_file(small_pkl))
    with np.load(destination, allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)
        assert set(data.files) >= set(REQUIRED_KEYS)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["SMPL_NEUTRAL.npz"]  # no temporaries


def test_convert_default_destination(small_pkl):
    written = convert_model_file(small_pkl.parent)  # a folder: the neutral model found in it
    assert written == small_pkl.with_suffix(".npz") and written.is_file()


def test_save_model_file_checks_before_writing(tmp_path, small_pkl):
    model = load_model_file(small_pkl)
    with pytest.raises(InputError, match="must end in .npz"):
        save_model_file(tmp_path / "model.pkl", model)
    broken = dict(model, weights=model["weights"][:, :23])
    with pytest.raises(InputError, match="'weights'"):
        save_model_file(tmp_path / "model.npz", broken)
    assert not (tmp_path / "model.npz").exists()


def test_smplx_struct_needs_the_smpl_arrays():
    with pytest.raises(InputError, match="posedirs"):
        smplx_struct({"v_template": np.zeros((3, 3))})


# ---------------------------------------------------------------- finding the file


def test_resolve_official_and_renamed_names(tmp_path):
    names = ["basicmodel_neutral_lbs_10_207_0_v1.0.0.PKL", "basicModel_f_lbs_10_207_0_v1.0.0.pkl",
             "BASICMODEL_M_LBS_10_207_0_V1.0.0.pkl"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert resolve_model_path(tmp_path).name == names[0]
    assert resolve_model_path(tmp_path, "female").name == names[1]
    assert resolve_model_path(tmp_path, "m").name == names[2]
    (tmp_path / "smpl_neutral.pkl").write_bytes(b"")
    assert resolve_model_path(tmp_path, "NEUTRAL").name == "smpl_neutral.pkl"
    (tmp_path / "SMPL_NEUTRAL.npz").write_bytes(b"")
    assert resolve_model_path(tmp_path).name == "SMPL_NEUTRAL.npz"  # the clean copy wins
    assert resolve_model_path(tmp_path / names[1]) == tmp_path / names[1]


def test_resolve_smplx_layout_and_later_releases(tmp_path):
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "basicmodel_m_lbs_10_207_0_v1.1.0.pkl").write_bytes(b"")
    assert resolve_model_path(tmp_path, "male") == tmp_path / "smpl" / "basicmodel_m_lbs_10_207_0_v1.1.0.pkl"


def test_load_from_folder(tmp_path, small_pkl):
    assert_same_model(load_model_file(small_pkl.parent), load_model_file(small_pkl))


def test_missing_file_says_where_smpl_comes_from(tmp_path):
    expected = tmp_path / "models" / "SMPL_NEUTRAL.pkl"
    with pytest.raises(MissingFileError) as info:
        load_model_file(expected)
    message = str(info.value)
    assert str(expected) in message and "https://smpl.is.tue.mpg.de" in message and "--body-model" in message
    assert "\n" not in message
    with pytest.raises(MissingFileError, match="SMPL_FEMALE.pkl"):
        load_model_file(tmp_path, gender="female")
    assert isinstance(info.value, FileNotFoundError)


def test_unknown_gender(tmp_path):
    with pytest.raises(InputError, match="gender"):
        resolve_model_path(tmp_path, "other")


# ---------------------------------------------------------------- bad files


def npz_model(tmp_path, small_model, **changes):
    arrays = {key: plain(value) for key, value in small_model.items() if key in REQUIRED_KEYS}
    arrays.update(changes)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    return save_npz(tmp_path / "SMPL_NEUTRAL.npz", **arrays)


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (lambda m: {"v_template": m["v_template"][:, :2]}, "v_template", "(V, 3)"),
        (lambda m: {"shapedirs": m["shapedirs"][:, :2]}, "shapedirs", "(V, 3, NB)"),
        (lambda m: {"posedirs": m["posedirs"][..., :206]}, "posedirs", "(V, 3, 9 (J - 1))"),
        (lambda m: {"posedirs": m["posedirs"].reshape(-1, 207)}, "posedirs", "(V, 3, 9 (J - 1))"),
        (lambda m: {"J_regressor": m["J_regressor"][:, :29]}, "J_regressor", "(J, V) with V = 30"),
        (lambda m: {"weights": m["weights"][:, :23]}, "weights", "(V, J)"),
        (lambda m: {"weights": 2 * m["weights"]}, "weights", "sums to 2"),
        (lambda m: {"kintree_table": m["kintree_table"][:, :23]}, "kintree_table", "(2, J)"),
        (lambda m: {"kintree_table": m["kintree_table"][:, [0, 2, 1, *range(3, 24)]]}, "kintree_table", "row 1"),
        (lambda m: {"kintree_table": np.array([[-1, 2, 0, *SMPL_PARENTS[3:]], list(range(24))])},
         "kintree_table", "joint 1 the parent 2"),
        (lambda m: {"f": m["f"][:, :2]}, "f", "(F, 3)"),
        (lambda m: {"f": m["f"] + 30}, "f", "outside [0, 30)"),
        (lambda m: {"f": m["f"].astype(np.float64)}, "f", "expected integers"),
        (lambda m: {"v_template": np.full((30, 3), np.nan)}, "v_template", "NaN"),
        (lambda m: {"posedirs": None}, "posedirs", "no 'posedirs' array"),
    ],
)
def test_wrong_arrays_are_named(tmp_path, small_model, change, key, expected):
    model = {name: plain(value) for name, value in small_model.items()}
    path = npz_model(tmp_path, small_model, **change(model))
    with pytest.raises(InputError) as info:
        load_model_file(path)
    message = str(info.value)
    assert str(path) in message and repr(key) in message and expected in message
    assert "\n" not in message


def test_wrong_shape_in_official_pkl(tmp_path, small_model):
    small_model["shapedirs"] = fake_chumpy_array(np.zeros((29, 3, 10)))
    path = write_bytes(tmp_path / "SMPL_NEUTRAL.pkl", dumps_py2(small_model))
    with pytest.raises(InputError, match=r"'shapedirs' has shape \(29, 3, 10\), expected \(V, 3, NB\) with V = 30"):
        load_model_file(path)


def test_optional_array_that_does_not_fit_is_dropped(tmp_path, small_model, caplog):
    small_model["J"] = fake_chumpy_array(np.zeros((23, 3)))
    path = write_bytes(tmp_path / "SMPL_NEUTRAL.pkl", dumps_py2(small_model))
    model = load_model_file(path)
    assert "J" not in model and "weights_prior" in model
    assert "'J' has shape (23, 3)" in caplog.text


def test_derived_chumpy_expression_is_refused(tmp_path, small_model):
    small_model["shapedirs"] = FakeCh({"a": np.zeros(3), "_dirty_vars": set(), "_itr": None})
    path = write_bytes(tmp_path / "SMPL_NEUTRAL.pkl", dumps_py2(small_model))
    with pytest.raises(InputError, match="derived chumpy expression") as info:
        load_model_file(path)
    assert "clean_ch.py" in str(info.value)


def test_not_a_dict(tmp_path):
    path = write_bytes(tmp_path / "SMPL_NEUTRAL.pkl", dumps_py2([np.zeros(3)]))
    with pytest.raises(InputError, match="holds a list, expected a dict"):
        load_model_file(path)


@pytest.mark.parametrize("data", [b"", b"garbage that is not a pickle", b"PK\x03\x04 truncated zip"])
def test_garbage_files(tmp_path, data):
    path = write_bytes(tmp_path / "SMPL_NEUTRAL.pkl", data)
    with pytest.raises(InputError, match="not a readable"):
        load_model_file(path)


def test_npz_with_object_array_is_refused(tmp_path, small_model):
    arrays = {key: plain(value) for key, value in small_model.items() if key in REQUIRED_KEYS}
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, info=np.array([{"a": 1}], dtype=object), **arrays)
    with pytest.raises(InputError, match="without pickle"):
        load_model_file(path)


def test_malicious_model_pickle(tmp_path, small_model):
    marker = tmp_path / "marker"
    small_model["pose_training_info"] = SystemCall(f"touch {marker}")
    path = write_bytes(tmp_path / "SMPL_NEUTRAL.pkl", dumps_py2(small_model))
    refusal = rf"refusing to load {path}: it references {os.system.__module__}\.system"
    with pytest.raises(UnsafeFileError, match=refusal):
        load_model_file(tmp_path)
    assert not marker.exists()


def test_a_model_file_is_read_once_per_state_and_callers_get_their_own_arrays(tmp_path, monkeypatch):
    """The stages of a run each load the body model: the file is read and checked once, until it
    changes, and changing the returned arrays does not change what the next caller gets."""
    import os

    from body_models import model_files

    from body_models import mannequin

    source = model_files.load_model_file(mannequin.model_path())
    path = model_files.save_model_file(tmp_path / "model.npz", source)
    reads = []
    real = model_files._read_npz
    monkeypatch.setattr(model_files, "_read_npz", lambda p: reads.append(p) or real(p))
    first = model_files.load_model_file(path)
    first["v_template"][:] = 0.0
    second = model_files.load_model_file(path)
    assert len(reads) == 1 and not (second["v_template"] == 0).all()
    changed = dict(source, v_template=source["v_template"] + 1.0)
    model_files.save_model_file(path, changed)  # a new file (atomic rename): read again
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert len(reads) == 1 and (model_files.load_model_file(path)["v_template"] == changed["v_template"]).all()
    assert len(reads) == 2
