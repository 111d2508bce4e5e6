"""The synthetic mannequin body model: SMPL's layout, a sound mesh, a human shape, and files."""

import os
import shutil
import warnings

import numpy as np
import pytest
import smplx
import torch
import trimesh
from scipy.spatial import cKDTree

from body_models import mannequin
from body_models.joints import H36M_REGRESSOR_17, SMPL_24, SMPL_EXTRA_9, SMPL_LANDMARK_VERTICES

J = {name: i for i, name in enumerate(SMPL_24.names)}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The session's private cache (tests/conftest.py) when set, so the model is built once."""
    env = os.environ.get(mannequin.CACHE_ENV)
    return env if env else tmp_path_factory.mktemp("hmr_cache")


@pytest.fixture(scope="module")
def model_file(cache):
    return mannequin.model_path(cache)


@pytest.fixture(scope="module")
def model(model_file):
    with np.load(model_file, allow_pickle=False) as z:
        return dict(z)


@pytest.fixture(scope="module")
def smpl(model):
    layer = smplx.SMPL("", data_struct=smplx.utils.Struct(**model))
    return layer.eval()


def _pose(**rotvecs):
    body_pose = torch.zeros(1, 69)
    for name, rv in rotvecs.items():
        j = J[name] - 1
        body_pose[0, 3 * j:3 * j + 3] = torch.tensor(rv)
    return body_pose


def test_arrays_have_smpl_layout(model):
    expected = {
        "v_template": ((6890, 3), np.float64), "f": ((13776, 3), np.int64),
        "J_regressor": ((24, 6890), np.float64), "weights": ((6890, 24), np.float64),
        "kintree_table": ((2, 24), np.int64), "shapedirs": ((6890, 3, 10), np.float64),
        "posedirs": ((6890, 3, 207), np.float64), "J": ((24, 3), np.float64),
    }
    for key, (shape, dtype) in expected.items():
        assert model[key].shape == shape and model[key].dtype == dtype, key
    assert str(model["model_name"]) == "mannequin" and model["model_name"].dtype.kind == "U"
    np.testing.assert_array_equal(model["kintree_table"][0], SMPL_24.parents)
    np.testing.assert_array_equal(model["kintree_table"][1], np.arange(24))
    assert model["f"].min() == 0 and model["f"].max() == 6889
    assert all(np.isfinite(model[k]).all() for k in expected)


def test_mesh_is_one_closed_outward_sphere(model):
    mesh = trimesh.Trimesh(model["v_template"], model["f"], process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.euler_number == 2
    assert len(mesh.split(only_watertight=False)) == 1
    assert mesh.volume > 0.04  # m³, outward normals; a 1.7 m adult is about 0.06-0.07
    # No duplicate vertices or degenerate triangles.
    assert len(np.unique(np.round(model["v_template"], 6), axis=0)) == 6890
    assert mesh.area_faces.min() > 1e-6


def test_body_frame_size_and_proportions(model):
    v, joints = model["v_template"], model["J"]
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < height < 1.8
    assert abs(v[:, 1].min() + 1.16) < 0.05 and abs(v[:, 1].max() - 0.52) < 0.05
    np.testing.assert_allclose(joints[J["pelvis"]], [0.0, -0.22, 0.0], atol=0.03)
    for name, i in J.items():
        if name.startswith("left_"):
            assert joints[i, 0] > 0.05 and joints[J["right_" + name[5:]], 0] < -0.05, name
    # T-pose: wrists level with the shoulders, far out; feet point forward (+z).
    assert abs(joints[J["left_wrist"], 1] - joints[J["left_shoulder"], 1]) < 0.03
    assert joints[J["left_wrist"], 0] > 0.6
    assert joints[J["left_foot"], 2] > joints[J["left_ankle"], 2] + 0.08
    # Head above neck above spine above pelvis above knees above ankles.
    chain = ["left_ankle", "left_knee", "pelvis", "spine1", "spine2", "spine3", "neck", "head"]
    assert np.all(np.diff([joints[J[n], 1] for n in chain]) > 0)
    # Near mirror symmetry.
    nearest, _ = cKDTree(v).query(v * [-1, 1, 1])
    assert np.percentile(nearest, 95) < 0.01


def test_skinning_weights(model):
    w, v = model["weights"], model["v_template"]
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert (w > 0.5).any(axis=0).all()  # every joint drives some vertices
    # Vertices near a limb's middle follow that limb's joint.
    for name, part in (("left_elbow", (0.55, 0.21, -0.03)), ("right_knee", (-0.095, -0.86, -0.01)),
                       ("left_shoulder", (0.30, 0.21, -0.025)), ("right_hip", (-0.09, -0.50, 0.0))):
        near = np.linalg.norm(v - part, axis=1) < 0.07
        assert near.any() and (w[near].argmax(axis=1) == J[name]).all(), name
    # Smooth: neighbouring vertices have similar weights.
    f = model["f"]
    jump = np.abs(w[f[:, 0]] - w[f[:, 1]]).max()
    assert jump < 0.35
    # Sparse: a handful of joints per vertex.
    assert (w > 0).sum(axis=1).max() <= 6


def test_joint_regressor(model):
    reg, v = model["J_regressor"], model["v_template"]
    assert (reg >= 0).all()
    np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(reg @ v, model["J"], atol=1e-12)
    np.testing.assert_allclose(model["J"], mannequin.design_joints(), atol=0.005)
    for j in range(24):
        support = np.flatnonzero(reg[j])
        assert 10 <= len(support) < 400
        assert np.linalg.norm(v[support] - model["J"][j], axis=1).max() < 0.25


def test_landmark_vertices_sit_on_their_landmarks(model):
    v, joints = model["v_template"], model["J"]
    lm = {name: v[i] for name, i in SMPL_LANDMARK_VERTICES.items()}
    assert len(set(SMPL_LANDMARK_VERTICES.values())) == 21
    for name, p in lm.items():
        if name.startswith("left_"):
            assert p[0] > 0.01, name
        if name.startswith("right_"):
            assert p[0] < -0.01, name
    head = v[:, 1] > joints[J["neck"], 1] + 0.04
    assert SMPL_LANDMARK_VERTICES["nose"] == np.flatnonzero(head)[np.argmax(v[head, 2])]
    for side, s in (("left", 1), ("right", -1)):
        eye, ear = lm[f"{side}_eye"], lm[f"{side}_ear"]
        assert lm["nose"][2] > eye[2] > ear[2] and abs(ear[0]) > abs(eye[0]) + 0.03
        assert abs(eye[1] - lm["nose"][1]) < 0.06
        ankle = joints[J[f"{side}_ankle"]]
        assert lm[f"{side}_big_toe"][2] > ankle[2] + 0.15 and lm[f"{side}_small_toe"][2] > ankle[2] + 0.12
        assert lm[f"{side}_heel"][2] < ankle[2] - 0.03
        assert abs(lm[f"{side}_big_toe"][0]) < abs(lm[f"{side}_small_toe"][0])
        for part in ("big_toe", "small_toe", "heel"):
            assert lm[f"{side}_{part}"][1] < -1.1
        wrist = joints[J[f"{side}_wrist"]]
        tips = [lm[f"{side}_{f}"] for f in ("thumb", "index", "middle", "ring", "pinky")]
        assert all(abs(t[0]) > abs(wrist[0]) + 0.05 for t in tips)
        # Thumb forward; fingers from index (front) to pinky (back).
        zs = [t[2] for t in tips]
        assert zs[0] == max(zs) and zs[1] > zs[2] > zs[3] > zs[4]
        assert s * lm[f"{side}_middle"][0] > s * wrist[0] + 0.15


def test_runs_through_smplx(smpl, model):
    out = smpl(betas=torch.zeros(2, 10), body_pose=torch.zeros(2, 69), global_orient=torch.zeros(2, 3),
               transl=torch.zeros(2, 3))
    assert out.vertices.shape == (2, 6890, 3) and out.joints.shape == (2, 45, 3)
    np.testing.assert_allclose(out.vertices[0].detach().numpy(), model["v_template"], atol=1e-5)
    np.testing.assert_allclose(out.joints[0, :24].detach().numpy(), model["J"], atol=1e-5)
    # The 21 extra joints are the landmark vertices.
    idx = list(SMPL_LANDMARK_VERTICES.values())
    np.testing.assert_allclose(out.joints[0, 24:].detach().numpy(), out.vertices[0, idx].detach().numpy())
    # Rest pose with a shape: template plus shape offsets.
    betas = torch.linspace(-2, 2, 10)[None].float()
    shaped = smpl(betas=betas).vertices[0].detach().numpy()
    np.testing.assert_allclose(shaped, model["v_template"] + model["shapedirs"] @ betas[0].numpy(), atol=1e-5)


def test_posed_knee_bends_only_that_leg(smpl, model):
    rest = smpl()
    bent = smpl(body_pose=_pose(left_knee=(1.5, 0.0, 0.0)))
    j0, j1 = rest.joints[0].detach().numpy(), bent.joints[0].detach().numpy()
    ankle = J["left_ankle"]
    assert j1[ankle, 2] < j0[ankle, 2] - 0.25 and j1[ankle, 1] > j0[ankle, 1] + 0.2
    np.testing.assert_allclose(j1[J["right_ankle"]], j0[J["right_ankle"]], atol=1e-6)
    v0, v1 = rest.vertices[0].detach().numpy(), bent.vertices[0].detach().numpy()
    moved = np.linalg.norm(v1 - v0, axis=1) > 1e-4
    assert moved.any() and (v0[moved, 0] > 0).all() and (v0[moved, 1] < -0.45).all()
    # The bent mesh stays sound: the thigh does not collapse.
    assert trimesh.Trimesh(v1, model["f"], process=False).volume == pytest.approx(
        trimesh.Trimesh(v0, model["f"], process=False).volume, rel=0.03)


def test_pose_correctives_are_small_local_and_in_smplx_order(smpl, model):
    posedirs = model["posedirs"]
    assert np.abs(posedirs).max() < 0.02  # metres per unit of (R - I)
    # Each joint's block only touches vertices near that joint.
    for name in ("left_knee", "right_elbow", "neck", "left_hand"):
        block = posedirs[:, :, 9 * (J[name] - 1):9 * J[name]]
        touched = np.abs(block).max(axis=(1, 2)) > 0
        assert touched.any()
        assert np.linalg.norm(model["v_template"][touched] - model["J"][J[name]], axis=1).max() < 0.3
    # In smplx the correctives of a bent knee move only vertices around that knee.
    body_pose = _pose(left_knee=(1.2, 0.0, 0.0))
    with_pd = smpl(body_pose=body_pose).vertices[0].detach().numpy()
    saved = smpl.posedirs.clone()
    smpl.posedirs.zero_()
    try:
        without_pd = smpl(body_pose=body_pose).vertices[0].detach().numpy()
    finally:
        smpl.posedirs.copy_(saved)
    diff = np.linalg.norm(with_pd - without_pd, axis=1)
    assert 0.002 < diff.max() < 0.03
    assert np.linalg.norm(model["v_template"][diff > 1e-4] - model["J"][J["left_knee"]], axis=1).max() < 0.3


def test_shape_components_do_what_the_docstring_says(model):
    v, S, reg, f = model["v_template"], model["shapedirs"], model["J_regressor"], model["f"]

    def height(x):
        return x[:, 1].max() - x[:, 1].min()

    def volume(x):
        return trimesh.Trimesh(x, f, process=False).volume

    def bone(x, a, b):
        j = reg @ x
        return np.linalg.norm(j[J[a]] - j[J[b]])

    assert 0.02 < height(v + S[..., 0]) - height(v) < 0.06
    assert volume(v + S[..., 1]) > 1.05 * volume(v)
    assert bone(v + S[..., 2], "left_collar", "left_shoulder") > bone(v, "left_collar", "left_shoulder") + 0.008
    assert bone(v + S[..., 3], "left_hip", "left_ankle") > bone(v, "left_hip", "left_ankle") + 0.02
    belly = (np.abs(v[:, 0]) < 0.05) & (np.abs(v[:, 1] + 0.07) < 0.05) & (v[:, 2] > 0)
    assert S[belly, 2, 4].max() > 0.01
    assert (reg @ (v + S[..., 5]))[J["left_hip"], 0] > (reg @ v)[J["left_hip"], 0] + 0.005
    assert bone(v + S[..., 6], "left_shoulder", "left_wrist") > bone(v, "left_shoulder", "left_wrist") + 0.02
    head = model["weights"][:, J["head"]] > 0.9
    assert np.ptp((v + S[..., 7])[head, 1]) > 1.03 * np.ptp(v[head, 1])
    assert volume(v + S[..., 9]) > volume(v) * 1.02
    # Roughly orthogonal, a few centimetres per unit, plausible bodies at ±3.
    flat = S.reshape(-1, 10) / np.linalg.norm(S.reshape(-1, 10), axis=0)
    off_diagonal = np.abs(flat.T @ flat - np.eye(10))
    assert off_diagonal.max() < 0.5
    assert (np.linalg.norm(S, axis=1).max(axis=0) < 0.03).all()
    for k in range(10):
        for b in (-3.0, 3.0):
            x = v + b * S[..., k]
            assert 1.55 < height(x) < 1.85 and 0.04 < volume(x) < 0.085, (k, b)


def test_joints_follow_shape_through_smplx(smpl):
    betas = torch.zeros(1, 10)
    betas[0, 0] = 2.0
    tall = smpl(betas=betas).joints[0].detach().numpy()
    rest = smpl().joints[0].detach().numpy()
    assert tall[J["head"], 1] - tall[J["left_ankle"], 1] > rest[J["head"], 1] - rest[J["left_ankle"], 1] + 0.03


def test_build_is_deterministic(model_file, model):
    again = mannequin.build_mannequin()
    assert again.keys() == model.keys()
    for key in model:
        np.testing.assert_array_equal(again[key], model[key], err_msg=key)
    assert mannequin._npz_bytes(again) == model_file.read_bytes()


def test_h36m_and_extra_regressors(cache, model):
    h36m = np.load(mannequin.j_regressor_h36m_path(cache), allow_pickle=False)
    extra = np.load(mannequin.j_regressor_extra_path(cache), allow_pickle=False)
    assert h36m.shape == (17, 6890) and extra.shape == (9, 6890)
    assert h36m.dtype == extra.dtype == np.float64
    for reg in (h36m, extra):
        assert (reg >= 0).all()
        np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-9)
    v, joints = model["v_template"], model["J"]
    hj = dict(zip(H36M_REGRESSOR_17.names, h36m @ v))
    ej = dict(zip(SMPL_EXTRA_9.names, extra @ v))
    # SPIN's row order: the left leg first (rows 1-3), then the right leg (rows 4-6).
    assert all(h36m[i] @ v[:, 0] > 0.05 for i in (1, 2, 3, 11, 12, 13))
    assert all(h36m[i] @ v[:, 0] < -0.05 for i in (4, 5, 6, 14, 15, 16))
    assert hj["head"][1] > hj["neck_nose"][1] > hj["thorax"][1] > hj["spine"][1] > hj["pelvis"][1]
    np.testing.assert_allclose(hj["left_knee"], joints[J["left_knee"]], atol=0.02)
    np.testing.assert_allclose(hj["pelvis"], 0.5 * (hj["left_hip"] + hj["right_hip"]), atol=1e-3)
    # J_regressor_extra: spine and jaw rows equal the H36M rows; the head row differs a little.
    np.testing.assert_array_equal(extra[SMPL_EXTRA_9.index("spine_h36m")], h36m[H36M_REGRESSOR_17.index("spine")])
    np.testing.assert_array_equal(extra[SMPL_EXTRA_9.index("jaw_h36m")], h36m[H36M_REGRESSOR_17.index("neck_nose")])
    assert 0.005 < np.linalg.norm(ej["head_h36m"] - hj["head"]) < 0.05
    for side, s in (("left", 1), ("right", -1)):
        lsp, smpl_hip = ej[f"{side}_hip_lsp"], joints[J[f"{side}_hip"]]
        assert lsp[1] < smpl_hip[1] - 0.03 and s * lsp[0] > s * smpl_hip[0]
    assert ej["head_top_lsp"][1] > v[:, 1].max() - 0.02
    assert ej["neck_lsp"][1] > joints[J["neck"], 1]
    assert ej["thorax_mpii"][1] > joints[J["spine3"], 1]


def test_mean_params_layout(cache):
    with np.load(mannequin.mean_params_path(cache), allow_pickle=False) as z:
        params = dict(z)
    assert set(params) == {"pose", "shape", "cam"}
    assert params["pose"].shape == (144,) and params["pose"].dtype == np.float32
    assert params["shape"].shape == (10,) and params["shape"].dtype == np.float64
    np.testing.assert_array_equal(params["cam"], np.array([0.9, 0, 0], np.float32))
    assert params["cam"].dtype == np.float32
    # SPIN's 6D: the first two columns, row-major (R00, R01, R10, R11, R20, R21).
    cols = params["pose"].reshape(24, 3, 2).astype(np.float64)
    rot = np.concatenate([cols, np.cross(cols[:, :, 0], cols[:, :, 1])[:, :, None]], axis=2)
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (24, 3, 3)), atol=1e-6)
    np.testing.assert_allclose(rot[0], np.diag([1.0, -1.0, -1.0]), atol=1e-6)  # π about x
    # Relaxed arms: the left arm (along +x at rest) points down and out.
    arm = rot[J["left_collar"]] @ rot[J["left_shoulder"]] @ np.array([1.0, 0.0, 0.0])
    assert arm[1] < -0.5 and arm[0] > 0.3


def test_cache_is_reused_and_found_through_the_environment(cache, model_file, monkeypatch):
    def fail():
        raise AssertionError("regenerated although the cached file is fine")

    monkeypatch.setattr(mannequin, "build_mannequin", fail)
    assert mannequin.model_path(cache) == model_file
    monkeypatch.setenv(mannequin.CACHE_ENV, str(cache))
    assert mannequin.model_path() == model_file
    assert "v1" in model_file.name or mannequin.GENERATOR_VERSION in model_file.name
    leftovers = [p.name for p in model_file.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_damaged_cache_files_are_regenerated(tmp_path, model_file, model, cache, monkeypatch):
    folder = mannequin.cache_dir(tmp_path)
    folder.mkdir(parents=True)
    good_h36m = np.load(mannequin.j_regressor_h36m_path(cache))
    shutil.copy(model_file, folder / model_file.name)
    # A truncated regressor is rebuilt from the (good) model file.
    broken = mannequin.j_regressor_h36m_path(tmp_path)
    broken.write_bytes(broken.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="regenerating"):
        path = mannequin.j_regressor_h36m_path(tmp_path)
    np.testing.assert_array_equal(np.load(path), good_h36m)
    # A damaged model file is regenerated (the generator is stubbed to keep the test fast).
    monkeypatch.setattr(mannequin, "build_mannequin", lambda: model)
    (folder / model_file.name).write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="regenerating"):
        path = mannequin.model_path(tmp_path)
    assert path.read_bytes() == model_file.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mannequin.model_path(tmp_path) == path


def test_export_files(tmp_path, cache):
    written = mannequin.export_files(tmp_path / "out", cache)
    assert [p.suffix for p in written] == [".npz", ".npy", ".npy", ".npz", ".pkl"]
    assert all(p.is_file() and p.parent == tmp_path / "out" for p in written)
