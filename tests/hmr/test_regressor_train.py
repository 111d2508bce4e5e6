"""Regressor training: the axis-angle head's layout, augmentation of poses, losses, a short run with
the adversarial prior, exact resume, and one-line errors for bad input."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from body_models import joints as js
from body_models.errors import InputError
from body_models.rotations import axis_angle_to_matrix
from hmr.cli import main
from hmr.regressor import HMR, HMRConfig, ResNet50, load_pretrained
from hmr.regressor.data import flip_smpl_pose, rotate_global_orient, write_synthetic_dataset
from hmr.regressor.losses import joints3d_loss, keypoint_loss, smpl_param_loss
from hmr.regressor.train import (
    RegressorTrainConfig,
    RegressorTrainer,
    build_batch_source,
    load_train_checkpoint,
    load_train_config,
    train_regressor,
)

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "regressor" / "train_tiny_synthetic.yaml"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), num_samples=16, image_size=64,
                                   num_mocap=64, focal_length=250.0)


# A ResNet-18 trunk for the tests of the training loop's bookkeeping (resume, progress, the CLI),
# which do not depend on the trunk: a step and a checkpoint (model and Adam state) cost half of
# the preset's ResNet-50, whose training the short-run and adversarial tests keep.
RESNET18 = {"head": "rot6d", "backbone": "resnet18", "image_size": 32}


def _config(synthetic, **overrides):
    """The tiny preset on the shared synthetic files, smaller still (32 px crops, batch 4)."""
    values = yaml.safe_load(TINY.read_text())
    values.update(synthetic_samples=0, datasets=[{"npz": str(synthetic.npz), "images": str(synthetic.image_root)}],
                  mocap=str(synthetic.mocap), model={"head": "rot6d", "image_size": 32}, batch_size=4)
    values.update(overrides)
    return RegressorTrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def test_tiny_preset_reads():
    config = load_train_config(TINY)
    assert config.synthetic_samples > 0 and config.hmr_config().image_size == 64
    assert config.loss_weights().keypoints == 60.0 and config.adversarial_weight > 0
    with pytest.raises(InputError, match="'stpes'"):
        load_train_config(TINY, stpes=3)


def test_axis_angle_head_vector_layout_and_conversion():
    """θ = [cam (3) | pose (72) axis-angle | shape (10)]; each IEF iteration adds dectheta(x)."""
    model = HMR(HMRConfig(head="axis_angle", image_size=32)).eval()
    theta0 = model.init_theta[0].clone()
    step = torch.linspace(-0.05, 0.05, 85)
    with torch.no_grad():
        model.dectheta.weight.zero_()
        model.dectheta.bias.copy_(step)  # a constant update per iteration
        out = model(torch.randn(2, 3, 32, 32))
    theta = theta0 + 3 * step  # after n_iter = 3 iterations
    torch.testing.assert_close(out.cam, theta[:3].expand(2, 3))
    torch.testing.assert_close(out.pose, theta[3:75].expand(2, 72))
    torch.testing.assert_close(out.betas, theta[75:].expand(2, 10))
    torch.testing.assert_close(out.rotmat, axis_angle_to_matrix(theta[3:75].reshape(24, 3)).expand(2, 24, 3, 3))
    for i in range(3):
        torch.testing.assert_close(out.cam_iters[i], (theta0 + (i + 1) * step)[:3].expand(2, 3))
    # joint 0 of θ₀ is HMR's upright root (π about x)
    torch.testing.assert_close(theta0[3:6], torch.tensor([np.pi, 0.0, 0.0]))


def test_pose_flip_and_rotation_move_the_body_like_the_image(mannequin_smpl):
    rng = np.random.default_rng(0)
    pose = np.concatenate([[np.pi, 0.0, 0.0], 0.3 * rng.normal(size=69)])
    betas = torch.zeros(3, 10)

    def root_relative(poses):
        poses = torch.as_tensor(np.stack(poses), dtype=torch.float32)
        joints = mannequin_smpl(betas=betas[: len(poses)], body_pose=poses[:, 3:], global_orient=poses[:, :3]).joints
        return (joints - joints[:, :1]).numpy()

    angle = 0.4
    plain, flipped, turned = root_relative([pose, flip_smpl_pose(pose), rotate_global_orient(pose, angle)])
    mirrored = plain[list(js.SMPL_24.flip_perm)] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(flipped, mirrored, atol=2e-3)  # the mannequin is symmetric to ~mm
    c, s = np.cos(angle), np.sin(angle)
    np.testing.assert_allclose(turned, plain @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T, atol=1e-5)
    np.testing.assert_allclose(flip_smpl_pose(flip_smpl_pose(pose)), pose)


def test_losses_mask_and_align():
    gt = torch.zeros(2, 24, 3)
    gt[..., 2] = 1.0
    gt[1, :, 2] = 0.0  # sample 1 not annotated
    pred = torch.zeros(2, 24, 2)
    pred[0, :, 0] = 0.5
    pred[1] = 9.0
    assert keypoint_loss(pred, gt).item() == pytest.approx(0.25)  # mean over 24 joints × 2 coords
    joints = torch.randn(2, 14, 3)
    gt3d = torch.cat([joints + torch.tensor([1.0, 2.0, 3.0]), torch.ones(2, 14, 1)], dim=-1)
    assert joints3d_loss(joints, gt3d, torch.ones(2)).item() == pytest.approx(0.0, abs=1e-10)  # hips aligned
    assert joints3d_loss(joints + 1, gt3d * 0, torch.zeros(2)).item() == 0.0
    pose = 0.2 * torch.randn(2, 72)
    rotmat = axis_angle_to_matrix(pose.reshape(2, 24, 3))
    assert smpl_param_loss(rotmat, torch.ones(2, 10), pose, torch.ones(2, 10), torch.ones(2)).item() < 1e-10
    loss = smpl_param_loss(rotmat, torch.zeros(2, 10), pose, torch.ones(2, 10), torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(0.5 * 10 / 226, rel=1e-5)


def test_short_run_lowers_the_loss_with_the_prior_active(tmp_path, synthetic):
    """Six steps on one batch of the tiny recipe: the regressor's loss falls while the
    discriminator learns (its real scores rise) and every step carries the adversarial term."""
    config = _config(synthetic, steps=6)
    trainer = RegressorTrainer(config, torch.device("cpu"))
    batch = build_batch_source(config, tmp_path)[1]
    d_before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    losses = [trainer.step(batch) for _ in range(6)]
    assert config.adversarial_weight > 0 and all(l.adversarial > 0 for l in losses)
    assert losses[-1].loss < losses[0].loss - 1.0
    assert losses[-1].keypoints < losses[0].keypoints
    assert losses[-1].adversarial < losses[0].adversarial  # the regressor learns to fool D ...
    assert losses[-1].d_real > losses[0].d_real  # ... while D learns the mocap
    assert all(not torch.equal(a, b) for a, b in zip(d_before, trainer.discriminator.parameters()))


def test_adversarial_term_changes_the_regressors_gradients(tmp_path, synthetic):
    """The same first step with and without the prior: the regressor's gradients differ by the
    adversarial term's, which flows back through the IEF head into the trunk."""
    grads = {}
    for weight in (0.0, 1.0):
        config = _config(synthetic, adversarial_weight=weight)
        trainer = RegressorTrainer(config, torch.device("cpu"))
        losses = trainer.step(build_batch_source(config, tmp_path)[1])
        grads[weight] = {name: p.grad.clone() for name, p in trainer.model.named_parameters() if p.grad is not None}
        assert losses.adversarial > 0  # scored either way; only the weight differs
    for name in ("decpose.weight", "fc1.weight", "layer4.1.conv2.weight"):
        difference = (grads[1.0][name] - grads[0.0][name]).abs().max()
        assert difference > 1e-3 * grads[0.0][name].abs().max(), name


def test_resume_from_a_mid_run_checkpoint_is_exact(tmp_path, synthetic):
    # the learning rate halves after step 1: the resumed run must follow the schedule too
    config = _config(synthetic, steps=2, checkpoint_every=1, log_every=1, lr_steps=[1], lr_gamma=0.5, model=RESNET18)
    train_regressor(config, tmp_path / "continuous")

    def crash(step, losses):
        raise KeyboardInterrupt  # right after the step-1 checkpoint

    with pytest.raises(KeyboardInterrupt):
        train_regressor(config, tmp_path / "resumed", on_step=crash)
    assert load_train_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 1
    result = train_regressor(config, tmp_path / "resumed", resume=True)
    assert [step for step, _ in result.history] == [2]

    a = load_train_checkpoint(tmp_path / "continuous" / "checkpoint.pt")
    b = load_train_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert a["step"] == b["step"] == 2
    for part, base in (("optimizer", config.lr), ("d_optimizer", config.d_lr)):
        assert a[part]["param_groups"][0]["lr"] == b[part]["param_groups"][0]["lr"] == 0.5 * base
    for part in ("model", "discriminator"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), (part, key)
    for part in ("optimizer", "d_optimizer"):
        for index, state in a[part]["state"].items():
            for name, value in state.items():
                assert torch.equal(value, b[part]["state"][index][name]), (part, index, name)
    assert torch.equal(a["torch_rng"], b["torch_rng"])
    def losses_logged(run):  # every column but the wall-clock seconds
        return [row.rsplit(",", 1)[0] for row in (tmp_path / run / "log.csv").read_text().splitlines()]

    assert len(losses_logged("continuous")) == 3
    assert losses_logged("continuous")[0].startswith("step,loss,keypoints,joints3d,smpl,adversarial,discriminator")
    model = load_pretrained(tmp_path / "resumed" / "regressor.pt")
    assert model.config.image_size == 32 and not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, b["model"][key]), key
    assert losses_logged("resumed") == losses_logged("continuous")


def test_cli_trains_and_reports_bad_input_in_one_line(tmp_path, synthetic, capsys):
    config = yaml.safe_load(TINY.read_text())
    config.update(synthetic_samples=0, datasets=[{"npz": str(synthetic.npz), "images": str(synthetic.image_root)}],
                  mocap=str(synthetic.mocap), model=RESNET18, batch_size=2, steps=1)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train-regressor", "--config", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert "regressor.pt" in capsys.readouterr().out
    assert (tmp_path / "run" / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def one_line_error(values, *needles):
        path.write_text(yaml.safe_dump({**config, **values}))
        assert main(["train-regressor", "--config", str(path), "--out", str(tmp_path / "bad"), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0, err
        for needle in needles:
            assert needle in err, err

    # a mean-parameter file of the wrong layout
    wrong_means = tmp_path / "means.npz"
    np.savez(wrong_means, pose=np.zeros((24, 6), np.float32), shape=np.zeros(10), cam=np.zeros(3, np.float32))
    one_line_error({"mean_params": str(wrong_means)}, "means.npz", "(24, 6)")
    # a mocap file of the wrong layout, and an unknown key
    np.savez(tmp_path / "mocap.npz", poses=np.zeros((5, 69)), betas=np.zeros((5, 10)))
    one_line_error({"mocap": str(tmp_path / "mocap.npz")}, "mocap.npz", "(N, 72)")
    one_line_error({"learning_rate": 1.0}, "learning_rate")
    # resuming where nothing was saved
    assert main(["train-regressor", "--config", str(TINY), "--out", str(tmp_path / "none"), "--resume", "--quiet"]) == 2
    assert "checkpoint.pt" in capsys.readouterr().err


def test_weights_from_another_architecture_are_one_line(tmp_path):
    path = tmp_path / "resnet50_imagenet.pt"
    torch.save(ResNet50().state_dict(), path)  # torchvision's classifier, not the regressor
    with pytest.raises(InputError) as error:
        load_pretrained(path)
    message = str(error.value)
    assert "\n" not in message and "resnet50_imagenet.pt" in message
    assert "fc1.weight" in message.split("unexpected")[0] and "unexpected [fc.weight, fc.bias]" in message


def test_learning_rate_schedule_and_its_errors(synthetic):
    config = _config(synthetic, lr_steps=[10, 20], lr_gamma=0.1)
    assert [config.lr_scale(step) for step in (1, 10, 11, 20, 21)] == [1.0, 1.0, 0.1, 0.1, pytest.approx(0.01)]
    assert _config(synthetic).lr_scale(10**6) == 1.0
    with pytest.raises(InputError, match="lr_steps"):
        _config(synthetic, lr_steps=[20, 10])
    with pytest.raises(InputError, match="lr_gamma"):
        _config(synthetic, lr_gamma=0.0)


def test_progress_counts_the_steps(tmp_path, synthetic):
    calls = []
    train_regressor(_config(synthetic, steps=2, model=RESNET18), tmp_path / "run",
                    progress=lambda *call: calls.append(call))
    assert calls == [("train", 0, 2), ("train", 1, 2), ("train", 2, 2)]


def test_fine_tuning_starts_from_init_weights(tmp_path, synthetic):
    from hmr.regressor import save_checkpoint

    first = RegressorTrainer(_config(synthetic, model=RESNET18, seed=3), torch.device("cpu"))
    path = save_checkpoint(tmp_path / "start.pt", first.model)
    tuned = RegressorTrainer(_config(synthetic, model={**RESNET18, "dropout": 0.1}, seed=4, init_weights=str(path)),
                             torch.device("cpu"))
    fresh = RegressorTrainer(_config(synthetic, model=RESNET18, seed=4), torch.device("cpu"))
    for (name, a), b, c in zip(first.model.state_dict().items(), tuned.model.state_dict().values(),
                               fresh.model.state_dict().values()):
        assert torch.equal(a, b), name
        if name.endswith("conv1.weight"):
            assert not torch.equal(b, c)  # another seed's start: the file, not the seed, set it
    with pytest.raises(InputError) as error:
        RegressorTrainer(_config(synthetic, model={**RESNET18, "image_size": 64}, init_weights=str(path)),
                         torch.device("cpu"))
    assert "\n" not in str(error.value) and "start.pt" in str(error.value) and "32 px" in str(error.value)
