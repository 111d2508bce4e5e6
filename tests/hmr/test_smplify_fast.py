"""SMPLify's joints-only fast path gives the full-mesh path's fit (same loss, same steps)."""

import dataclasses
import math

import torch

from body_models import mannequin
from body_models.cameras import perspective_project
from body_models.motion import sample_poses
from body_models.smpl import load_smpl
from hmr.smplify import SMPLify, SMPLifyConfig


def test_fast_path_fit_equals_full_mesh_fit():
    smpl = load_smpl("mannequin").double()
    b = 4
    pose = torch.from_numpy(sample_poses(b, seed=7)).double()
    orient = torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64).expand(b, 3)
    with torch.no_grad():
        body = smpl(body_pose=pose, global_orient=orient, betas=0.5 * torch.randn(b, 10, dtype=torch.float64),
                    transl=torch.tensor([0.0, 0.2, 10.0], dtype=torch.float64).expand(b, 3))
    uv = perspective_project(body.joint_set("coco_17"), 5000.0, torch.full((2,), 112.0, dtype=torch.float64))
    keypoints = torch.cat([uv + torch.randn_like(uv), torch.rand(b, 17, 1, dtype=torch.float64)], dim=-1)
    config = SMPLifyConfig(num_iters=6)
    assert config.joints_only  # on by default
    fast = SMPLify(smpl, mannequin.gmm_prior_path(), config, mean_params=mannequin.mean_params())(keypoints)
    full = SMPLify(smpl, mannequin.gmm_prior_path(), dataclasses.replace(config, joints_only=False),
                   mean_params=mannequin.mean_params())(keypoints)
    for name in ("global_orient", "body_pose", "betas", "transl", "joints", "vertices", "reprojection_loss"):
        torch.testing.assert_close(getattr(fast, name), getattr(full, name), rtol=1e-9, atol=1e-9, msg=name)
    assert torch.equal(fast.fitted, full.fitted) and fast.vertices.shape[-2] == smpl.smplx.v_template.shape[0]
    assert (fast.reprojection_loss < fast.initial_reprojection_loss).any()  # it did fit
