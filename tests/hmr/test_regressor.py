"""HMR regressor: ResNet-50 key layout, SPIN's HMR keys, outputs, checkpoints and their errors."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from body_models.errors import InputError, MissingFileError, UnsafeFileError
from hmr.core.imagenet import normalize_images
from hmr.regressor import (
    HMR,
    HMRConfig,
    HMROutput,
    ResNet50,
    load_mean_params,
    load_pretrained,
    save_checkpoint,
)
from hmr.regressor.resnet import ResNetTrunk

ROOT = Path(__file__).resolve().parents[2]

# Top-level state-dict names of SPIN's HMR (nkolot/SPIN models/hmr.py, read at commit 2476c43):
# the ResNet-50 trunk without `fc`, the IEF head and the mean-parameter buffers.
SPIN_TOP_LEVEL = {
    "conv1", "bn1", "layer1", "layer2", "layer3", "layer4",
    "fc1", "fc2", "decpose", "decshape", "deccam", "init_pose", "init_shape", "init_cam",
}


def _write_mean_params(path, seed=0, **overrides):
    rng = np.random.default_rng(seed)
    arrays = {
        "pose": rng.normal(size=144).astype(np.float32),
        "shape": rng.normal(size=10).astype(np.float64),
        "cam": np.array([0.9, 0.0, 0.0], dtype=np.float32),
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def _randomise(model, seed=0):
    """Random weights and BN running statistics, scaled so activations stay O(1)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) / fan_in**0.5)
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=gen))
                module.running_var.copy_(0.75 + 0.5 * torch.rand(module.running_var.shape, generator=gen))
                module.weight.copy_(0.5 + 0.5 * torch.rand(module.weight.shape, generator=gen))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
            elif isinstance(module, torch.nn.Linear):
                module.weight.copy_(0.02 * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(0.02 * torch.randn(module.bias.shape, generator=gen))
    return model.eval()


@pytest.fixture(scope="module")
def mean_params_path(tmp_path_factory):
    return _write_mean_params(tmp_path_factory.mktemp("means") / "smpl_mean_params.npz")


@pytest.fixture(scope="module")
def spin_model(mean_params_path):
    return _randomise(HMR(HMRConfig(), load_mean_params(mean_params_path)))


@pytest.fixture(scope="module")
def image():
    return torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def spin_output(spin_model, image):
    with torch.no_grad():
        return spin_model(image)


# --- ResNet-50 -----------------------------------------------------------------------------------


def test_resnet50_has_torchvision_keys_and_shapes():
    model = ResNet50()
    state = model.state_dict()
    assert len(state) == 320  # torchvision resnet50: 53 convs, 53 BNs × 5 entries, fc weight+bias
    assert sum(p.numel() for p in model.parameters()) == 25_557_032
    expected = {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.num_batches_tracked": (),
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer1.0.downsample.1.running_var": (256,),
        "layer2.0.conv2.weight": (128, 128, 3, 3),
        "layer3.5.bn3.weight": (1024,),
        "layer4.2.conv3.weight": (2048, 512, 1, 1),
        "fc.weight": (1000, 2048),
        "fc.bias": (1000,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert "layer1.1.downsample.0.weight" not in state
    # v1.5: the stride sits on the 3×3 conv, not on the first 1×1.
    assert model.layer2[0].conv1.stride == (1, 1) and model.layer2[0].conv2.stride == (2, 2)


def test_resnet50_features_and_logits():
    model = ResNet50(num_classes=7).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert model.features(x).shape == (2, 2048)
        assert model(x).shape == (2, 7)
    with pytest.raises(ValueError, match=r"\(2, 64, 64\)"):
        model(torch.randn(2, 64, 64))


@pytest.mark.parametrize("depth, params, entries", [(18, 11_689_512, 122), (34, 21_797_672, 218)])
def test_small_resnets_match_torchvision_counts(depth, params, entries):
    """torchvision's resnet18 / resnet34 (with the 1000-class fc): parameters and state entries."""
    trunk = ResNetTrunk(depth)
    fc_params = 512 * 1000 + 1000
    assert sum(p.numel() for p in trunk.parameters()) + fc_params == params
    assert len(trunk.state_dict()) + 2 == entries
    state = trunk.state_dict()
    assert tuple(state["layer1.0.conv2.weight"].shape) == (64, 64, 3, 3)
    assert tuple(state["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1)
    assert "layer1.0.conv3.weight" not in state and "layer1.0.downsample.0.weight" not in state
    assert trunk.layer2[0].conv1.stride == (2, 2)
    with torch.no_grad():
        assert trunk.eval().features(torch.randn(1, 3, 64, 64)).shape == (1, 512)


@pytest.mark.parametrize("backbone", ["resnet18", "resnet34"])
def test_small_backbone_bare_state_dict_loads_as_itself(tmp_path, backbone, mean_params_path, image):
    model = _randomise(HMR(HMRConfig(backbone=backbone), load_mean_params(mean_params_path)))
    path = tmp_path / "bare.pt"
    torch.save(model.state_dict(), path)
    loaded = load_pretrained(path)
    assert loaded.config.backbone == backbone
    with torch.no_grad():
        assert torch.equal(loaded(image).rotmat, model(image).rotmat)
    with pytest.raises(InputError, match="backbone"):
        HMRConfig(backbone="resnet101")


# --- HMR model -----------------------------------------------------------------------------------


def test_hmr_state_dict_matches_spin():
    model = HMR()
    state = model.state_dict()
    assert {key.split(".")[0] for key in state} == SPIN_TOP_LEVEL
    assert len(state) == 331  # 318 trunk entries + 10 head + 3 buffers
    assert sum(p.numel() for p in model.parameters()) == 26_977_501
    assert tuple(state["fc1.weight"].shape) == (1024, 2048 + 144 + 10 + 3)
    assert tuple(state["decpose.weight"].shape) == (144, 1024)
    assert tuple(state["init_pose"].shape) == (1, 144)
    assert tuple(state["init_shape"].shape) == (1, 10)
    assert tuple(state["init_cam"].shape) == (1, 3)
    text = repr(model)
    assert "head='rot6d'" in text and "n_iter=3" in text


def test_hmr_output_shapes_and_rotations(spin_output):
    out = spin_output
    assert isinstance(out, HMROutput)
    assert out.rotmat.shape == (1, 24, 3, 3)
    assert out.betas.shape == (1, 10)
    assert out.cam.shape == (1, 3)
    assert out.features.shape == (1, 2048)
    assert out.pose.shape == (1, 144)
    assert out.rotmat_iters.shape == (3, 1, 24, 3, 3)
    assert out.betas_iters.shape == (3, 1, 10) and out.cam_iters.shape == (3, 1, 3)
    assert torch.equal(out.rotmat_iters[-1], out.rotmat)
    eye = torch.eye(3).expand(1, 24, 3, 3)
    assert torch.allclose(out.rotmat @ out.rotmat.transpose(-1, -2), eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(out.rotmat), torch.ones(1, 24), atol=1e-5)


def test_hmr_rejects_bad_input_shapes(spin_model):
    for shape in [(1, 3, 128, 128), (3, 224, 224), (1, 1, 224, 224), (1, 224, 224, 3)]:
        with pytest.raises(ValueError, match=str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")):
            spin_model(torch.zeros(shape))


def test_axis_angle_head(tmp_path, mean_params_path, image):
    means = load_mean_params(mean_params_path)
    model = _randomise(HMR(HMRConfig(head="axis_angle"), means), seed=3)
    state = model.state_dict()
    assert tuple(state["fc1.weight"].shape) == (1024, 2048 + 85)
    assert tuple(state["dectheta.weight"].shape) == (85, 1024)
    theta0 = state["init_theta"][0]
    assert torch.allclose(theta0[:3], torch.tensor([0.9, 0.0, 0.0]))
    assert torch.allclose(theta0[3:6], torch.tensor([math.pi, 0.0, 0.0]))
    assert torch.allclose(theta0[75:], torch.from_numpy(means.shape))
    with torch.no_grad():
        out = model(image)
    assert out.rotmat.shape == (1, 24, 3, 3) and out.pose.shape == (1, 72)
    assert out.betas.shape == (1, 10) and out.cam.shape == (1, 3)
    assert torch.allclose(torch.linalg.det(out.rotmat), torch.ones(1, 24), atol=1e-5)
    # Project checkpoint of the axis-angle head round-trips without being told the head.
    path = save_checkpoint(tmp_path / "hmr_aa.pt", model)
    loaded = load_pretrained(path)
    assert loaded.config.head == "axis_angle" and not loaded.training
    for key, value in state.items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_config_preset_and_unknown_key():
    preset = yaml.safe_load((ROOT / "configs" / "regressor" / "spin.yaml").read_text())
    assert HMRConfig.from_dict(preset) == HMRConfig()
    with pytest.raises(InputError, match="n_iters"):
        HMRConfig.from_dict({"n_iters": 3})
    with pytest.raises(InputError, match="head"):
        HMRConfig(head="quaternion")


def test_normalize_images():
    crops = np.zeros((2, 224, 224, 3), dtype=np.uint8)
    crops[..., 0] = 255
    out = normalize_images(crops)
    assert out.shape == (2, 3, 224, 224) and out.dtype == torch.float32
    assert torch.allclose(out[:, 0], torch.full((2, 224, 224), (1 - 0.485) / 0.229))
    assert torch.allclose(out[:, 2], torch.full((2, 224, 224), -0.406 / 0.225))
    with pytest.raises(InputError, match="uint8"):
        normalize_images(crops.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(224, 224, 3\)"):
        normalize_images(crops[0])


# --- checkpoints ---------------------------------------------------------------------------------


def test_project_checkpoint_round_trip(tmp_path, spin_model, spin_output, image):
    path = save_checkpoint(tmp_path / "hmr.pt", spin_model)
    assert [p.name for p in tmp_path.iterdir()] == ["hmr.pt"]  # no temporary left behind
    loaded = load_pretrained(path)
    assert not loaded.training
    with torch.no_grad():
        out = loaded(image)
    for name in ("rotmat", "betas", "cam", "features", "rotmat_iters"):
        assert torch.equal(getattr(out, name), getattr(spin_output, name)), name


def test_half_precision_checkpoint_loads_into_float32(tmp_path, spin_model, spin_output, image):
    full = save_checkpoint(tmp_path / "full.pt", spin_model)
    half = save_checkpoint(tmp_path / "half.pt", spin_model, half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    loaded = load_pretrained(half)
    parameters = {name for name, _ in spin_model.named_parameters()}
    for key, value in loaded.state_dict().items():
        original = spin_model.state_dict()[key]
        assert value.dtype == original.dtype, key
        if value.is_floating_point():
            # learned weights rounded to float16; buffers (IEF means, BN statistics) kept exactly
            assert torch.equal(value, original.half().float() if key in parameters else original), key
    assert torch.equal(loaded.init_pose, spin_model.init_pose)
    with torch.no_grad():
        out = loaded(image)
    torch.testing.assert_close(out.rotmat, spin_output.rotmat, rtol=0, atol=2e-2)


def _spin_checkpoint(model, prefix=""):
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-5)
    return {
        "model": {prefix + k: v for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "batch_idx": 17,
        "batch_size": 64,
        "dataset_perm": np.random.default_rng(0).permutation(1000),  # numpy int64 array
        "total_step_count": 12345,
    }


@pytest.mark.parametrize("prefix", ["", "module."])
def test_spin_checkpoint_with_numpy_perm_loads(tmp_path, spin_model, mean_params_path, prefix):
    path = tmp_path / "model_checkpoint.pt"
    torch.save(_spin_checkpoint(spin_model, prefix), path)
    loaded = load_pretrained(path, mean_params=mean_params_path)
    assert not loaded.training and loaded.config.head == "rot6d"
    for key, value in spin_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_mean_params_must_agree_or_fill_missing_buffers(tmp_path, spin_model, mean_params_path):
    state = spin_model.state_dict()
    other = _write_mean_params(tmp_path / "other.npz", seed=5)
    path = tmp_path / "model_checkpoint.pt"
    torch.save({"model": state}, path)
    with pytest.raises(InputError, match="init_pose"):
        load_pretrained(path, mean_params=other)
    without = {k: v for k, v in state.items() if not k.startswith("init_")}
    torch.save({"model": without}, path)
    with pytest.raises(InputError, match="mean_params"):
        load_pretrained(path)
    loaded = load_pretrained(path, mean_params=mean_params_path)
    assert torch.equal(loaded.init_pose, state["init_pose"])
    assert torch.equal(loaded.init_shape, state["init_shape"])


def test_malicious_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "model_checkpoint.pt"
    torch.save({"model": {"fc1.weight": torch.zeros(1)}, "epoch": Payload()}, path)
    with pytest.raises(UnsafeFileError, match="system"):
        load_pretrained(path)
    assert not marker.exists()


def test_strict_mismatch_is_one_line(tmp_path, spin_model):
    buffers = {k: v for k, v in spin_model.state_dict().items() if k.startswith("init_")}
    path = tmp_path / "model_checkpoint.pt"
    torch.save({"model": {**buffers, "head.extra": torch.zeros(3)}}, path)
    with pytest.raises(InputError) as error:
        load_pretrained(path)
    message = str(error.value)
    assert "\n" not in message
    assert "missing [conv1.weight, bn1.weight" in message and "more]" in message
    assert "unexpected [head.extra]" in message
    torch.save({"model": {**buffers, "decshape.weight": torch.zeros(11, 1024)}}, path)
    with pytest.raises(InputError, match=r"decshape.weight \(11, 1024\) != \(10, 1024\)"):
        load_pretrained(path)


def test_missing_files_name_the_source(tmp_path):
    with pytest.raises(MissingFileError, match="fetch_data.sh"):
        load_pretrained(tmp_path / "model_checkpoint.pt")
    with pytest.raises(MissingFileError, match="fetch_data.sh"):
        load_mean_params(tmp_path / "smpl_mean_params.npz")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError):
        load_pretrained(tmp_path / "junk.pt")


def test_mean_params_file_errors(tmp_path):
    missing = _write_mean_params(tmp_path / "a.npz", cam=None)
    with pytest.raises(InputError, match="cam"):
        load_mean_params(missing)
    wrong = _write_mean_params(tmp_path / "b.npz", pose=np.zeros((24, 6), np.float32))
    with pytest.raises(InputError, match=r"'pose' has shape \(24, 6\)"):
        load_mean_params(wrong)
    pickled = _write_mean_params(tmp_path / "c.npz", shape=np.array([{"x": 1}] * 10, dtype=object))
    with pytest.raises(InputError, match="c.npz"):
        load_mean_params(pickled)
    means = load_mean_params(_write_mean_params(tmp_path / "d.npz"))
    assert means.pose.dtype == means.shape.dtype == means.cam.dtype == np.float32


def test_numpy1_array_names_are_allowed(tmp_path, spin_model):
    """Files pickled under numpy 1.x name `numpy.core.multiarray._reconstruct`."""
    path = tmp_path / "model_checkpoint.pt"
    checkpoint = {"model": spin_model.state_dict(), "dataset_perm": np.arange(10)}
    torch.save(checkpoint, path, _use_new_zipfile_serialization=False)  # pickle stream inline
    data = path.read_bytes()
    assert data.count(b"numpy._core.multiarray") == 1
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    load_pretrained(path)
