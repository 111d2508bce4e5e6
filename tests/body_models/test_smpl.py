import numpy as np
import pytest
import torch

from body_models import joints as js
from body_models.errors import InputError
from body_models.smpl import SMPL


def test_shapes_for_axis_angle_and_rotmat_input(mannequin_smpl):
    smpl = mannequin_smpl
    b = 3
    torch.manual_seed(0)
    pose = 0.3 * torch.randn(b, 72)
    out = smpl(betas=torch.randn(b, 10), body_pose=pose[:, 3:], global_orient=pose[:, :3],
               transl=torch.randn(b, 3))
    assert out.vertices.shape == (b, 6890, 3)
    assert out.joints.shape == (b, 24, 3)
    assert out.landmarks.shape == (b, 21, 3)
    for name, n in [("h36m_17", 17), ("coco_17", 17), ("lsp_14", 14), ("openpose_25", 25),
                    ("spin_24", 24), ("spin_49", 49), ("smpl_54", 54), ("smpl_45", 45)]:
        assert out.joint_set(name).shape == (b, n, 3), name

    from body_models.rotations import axis_angle_to_matrix

    rot = axis_angle_to_matrix(pose.view(b, 24, 3))
    out_rot = smpl(body_pose=rot[:, 1:], global_orient=rot[:, :1])
    out_aa = smpl(body_pose=pose[:, 3:], global_orient=pose[:, :3])
    torch.testing.assert_close(out_rot.vertices, out_aa.vertices, atol=1e-5, rtol=0)


def test_zero_pose_gives_template_and_regressor_joints(mannequin_smpl):
    smpl = mannequin_smpl
    out = smpl(betas=torch.zeros(1, 10))
    template = smpl.smplx.v_template
    torch.testing.assert_close(out.vertices[0], template)
    torch.testing.assert_close(out.joints[0], smpl.smplx.J_regressor @ template, atol=1e-6, rtol=0)
    # H36M joints are the file's rows re-ordered to VideoPose3D's order.
    assert out.h36m is not None
    left_hip = out.h36m[0, js.H36M_17.index("left_hip")]
    assert left_hip[0] > 0, "the subject's left is +x in SMPL's frame"


def test_translation_moves_everything(mannequin_smpl):
    t = torch.tensor([[0.5, -1.0, 3.0]])
    a = mannequin_smpl(betas=torch.zeros(1, 10))
    b = mannequin_smpl(betas=torch.zeros(1, 10), transl=t)
    torch.testing.assert_close(b.vertices - a.vertices, t[:, None].expand_as(a.vertices), atol=1e-5, rtol=0)
    torch.testing.assert_close(b.joint_set("coco_17") - a.joint_set("coco_17"), t[:, None].expand(1, 17, 3), atol=1e-5, rtol=0)


def test_bad_shapes_raise_value_errors(mannequin_smpl):
    with pytest.raises(ValueError, match=r"\(2, 60\)"):
        mannequin_smpl(body_pose=torch.zeros(2, 60))
    with pytest.raises(ValueError, match="betas"):
        mannequin_smpl(betas=torch.zeros(2, 7))


def test_missing_regressor_is_named():
    from body_models.mannequin import load_mannequin

    arrays = {k: v for k, v in load_mannequin().items()  # the session's cached build, not a new one
              if k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}
    smpl = SMPL(arrays)
    out = smpl(betas=torch.zeros(1, 10))
    with pytest.raises(InputError, match="J_regressor_h36m"):
        out.joint_set("h36m_17")
    with pytest.raises(InputError, match="J_regressor_extra"):
        out.joint_set("coco_17")
    with pytest.raises(InputError, match=r"\(17, 6890\)"):
        SMPL(arrays, j_regressor_h36m=np.zeros((14, 6890)))
    assert "vertices=6890" in repr(smpl)
