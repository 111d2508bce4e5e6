"""The joints-only SMPL evaluation equals the full mesh's joint sets, values and gradients."""

import numpy as np
import pytest
import torch

from body_models import mannequin
from body_models.joints_only import JointsOnlySMPL, joint_set_matrix, joints_only_for, rodrigues
from body_models.model_files import load_model_file
from body_models.smpl import SMPL, load_smpl
from smplx.lbs import batch_rodrigues


@pytest.fixture(scope="module")
def dense_smpl() -> SMPL:
    """The mannequin with random dense skinning weights (every vertex moved by every bone), in
    float64, so no sparsity of the mannequin's weights can hide a skinning error."""
    arrays = load_model_file(mannequin.model_path())
    model = {k: v for k, v in arrays.items()
             if k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}
    rng = np.random.default_rng(0)
    weights = rng.random(model["weights"].shape) ** 4
    model["weights"] = weights / weights.sum(1, keepdims=True)
    model["posedirs"] = model["posedirs"] + 0.01 * rng.standard_normal(model["posedirs"].shape)
    extra = np.load(mannequin.j_regressor_extra_path())
    h36m = np.load(mannequin.j_regressor_h36m_path())
    return SMPL(model, j_regressor_h36m=h36m, j_regressor_extra=extra, name="dense").double().eval()


def _random_params(batch: int, dtype, seed: int):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 10, generator=gen, dtype=dtype),
            0.6 * torch.randn(batch, 69, generator=gen, dtype=dtype),
            torch.randn(batch, 3, generator=gen, dtype=dtype),
            torch.randn(batch, 3, generator=gen, dtype=dtype) + torch.tensor([0, 0, 5.0], dtype=dtype))


@pytest.mark.parametrize("name", ["coco_17", "openpose_25", "spin_49", "h36m_17", "smpl_24"])
def test_values_and_gradients_equal_the_full_mesh(dense_smpl, name):
    fast = JointsOnlySMPL(dense_smpl, name)
    params = [p.requires_grad_(True) for p in _random_params(5, torch.float64, seed=1)]
    weights = torch.randn(5, len(fast.root_share), 3, dtype=torch.float64)
    betas, pose, orient, transl = params

    full = dense_smpl(betas=betas, body_pose=pose, global_orient=orient, transl=transl)
    loss_full = (weights * full.joint_set(name)).sum() + full.joints.square().sum()
    grads_full = torch.autograd.grad(loss_full, params)
    kp, joints = fast(betas, pose, orient, transl)
    loss_fast = (weights * kp).sum() + joints.square().sum()
    grads_fast = torch.autograd.grad(loss_fast, params)

    torch.testing.assert_close(kp, full.joint_set(name), rtol=0, atol=1e-12)
    torch.testing.assert_close(joints, full.joints, rtol=0, atol=1e-12)
    torch.testing.assert_close(loss_fast, loss_full, rtol=1e-12, atol=0)
    for a, b in zip(grads_fast, grads_full):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_fewer_vertices_than_the_mesh_and_float32_matches(mannequin_smpl):
    fast = JointsOnlySMPL(mannequin_smpl, "coco_17")
    assert 0 < fast.num_vertices < 1000 < mannequin_smpl.smplx.v_template.shape[0]
    betas, pose, orient, transl = _random_params(4, torch.float32, seed=2)
    full = mannequin_smpl(betas=betas, body_pose=pose, global_orient=orient, transl=transl)
    kp, joints = fast(betas, pose, orient, transl)
    assert (kp - full.joint_set("coco_17")).abs().max() < 1e-5  # metres: 0.01 mm
    assert (joints - full.joints).abs().max() < 1e-5
    kp0, _ = fast(betas, pose, orient)  # no translation
    torch.testing.assert_close(kp0 + transl[:, None], kp, rtol=0, atol=1e-6)


def test_frozen_body_is_reused_only_while_unchanged(dense_smpl):
    fast = JointsOnlySMPL(dense_smpl, "coco_17")
    betas, pose, orient, transl = _random_params(3, torch.float64, seed=3)
    first, _ = fast(betas, pose, orient, transl)
    orient2 = orient + 0.3
    again, _ = fast(betas, pose, orient2, transl)  # same betas and pose: the cached body moves
    ref = dense_smpl(betas=betas, body_pose=pose, global_orient=orient2, transl=transl).joint_set("coco_17")
    torch.testing.assert_close(again, ref, rtol=0, atol=1e-12)
    with torch.no_grad():
        pose.add_(0.2)  # in place: the version counter changes, the cache must not be used
    moved, _ = fast(betas, pose, orient2, transl)
    ref = dense_smpl(betas=betas, body_pose=pose, global_orient=orient2, transl=transl).joint_set("coco_17")
    torch.testing.assert_close(moved, ref, rtol=0, atol=1e-12)


def test_joint_set_matrix_and_rodrigues(dense_smpl):
    m_joints, m_verts = joint_set_matrix(dense_smpl, "coco_17")
    assert m_joints.shape == (17, 24) and m_verts.shape == (17, dense_smpl.smplx.v_template.shape[0])
    np.testing.assert_allclose(m_joints.sum(1) + m_verts.sum(1), 1.0, atol=1e-6)  # affine combinations
    r = torch.randn(50, 3, dtype=torch.float64)
    r[0] = 0.0
    torch.testing.assert_close(rodrigues(r), batch_rodrigues(r), rtol=0, atol=1e-14)
    assert joints_only_for(dense_smpl, "coco_17") is joints_only_for(dense_smpl, "coco_17")
