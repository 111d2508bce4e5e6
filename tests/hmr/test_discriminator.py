"""HMR's factorised discriminator: published structure, parameter count, factorisation, LSGAN losses."""

import pytest
import torch

from body_models.rotations import axis_angle_to_matrix
from hmr.regressor.discriminator import Discriminator, DiscriminatorConfig, adversarial_loss, discriminator_loss


def _linear(n_in, n_out):
    return n_in * n_out + n_out


def test_parameter_count_matches_hmr_structure():
    """HMR `Discriminator_separable_rotations` (FORMATS §5.3), layer by layer."""
    trunk = _linear(9, 32) + _linear(32, 32)  # shared 1×1 convs
    joint_heads = 23 * _linear(32, 1)  # separate per-joint heads
    pose = _linear(23 * 32, 1024) + _linear(1024, 1024) + _linear(1024, 1)
    shape = _linear(10, 10) + _linear(10, 5) + _linear(5, 1)
    expected = trunk + joint_heads + pose + shape
    assert expected == 1_807_619
    model = Discriminator()
    assert sum(p.numel() for p in model.parameters()) == expected
    # The trunk is shared: one 9→32 and one 32→32 weight set, not 23 of them.
    assert model.joint_trunk[0].weight.shape == (32, 9, 1, 1)
    assert model.joint_trunk[2].weight.shape == (32, 32, 1, 1)
    assert model.joint_heads_weight.shape == (23, 32)


def test_output_shape_and_factorisation():
    torch.manual_seed(0)
    model = Discriminator().eval()
    rotmat = axis_angle_to_matrix(0.3 * torch.randn(5, 23, 3))
    betas = torch.randn(5, 10)
    scores = model(rotmat, betas)
    assert scores.shape == (5, 25) and scores.dtype == torch.float32
    # Turning joint 7 only changes joint 7's score and the whole-pose score.
    moved = rotmat.clone()
    moved[:, 7] = axis_angle_to_matrix(torch.tensor([0.0, 1.0, 0.0])).expand(5, 3, 3)
    delta = (model(moved, betas) - scores).abs().amax(dim=0)
    changed = (delta > 1e-7).nonzero().flatten().tolist()
    assert changed == [7, 23]
    # Changing betas only changes the shape score.
    delta = (model(rotmat, betas + 1.0) - scores).abs().amax(dim=0)
    assert (delta > 1e-7).nonzero().flatten().tolist() == [24]
    with pytest.raises(ValueError, match=r"\(5, 24, 3, 3\)"):
        model(torch.eye(3).expand(5, 24, 3, 3), betas)
    assert DiscriminatorConfig().num_outputs == 25


def test_lsgan_objectives():
    ones, zeros = torch.ones(4, 25), torch.zeros(4, 25)
    assert discriminator_loss(ones, zeros).item() == 0.0  # a perfect discriminator
    assert discriminator_loss(zeros, ones).item() == 50.0  # 25 scores, each off by 1, twice
    assert adversarial_loss(ones).item() == 0.0
    assert adversarial_loss(zeros).item() == 25.0  # summed over scores, averaged over samples
    assert adversarial_loss(torch.full((3, 25), 0.5)).item() == pytest.approx(25 * 0.25)
