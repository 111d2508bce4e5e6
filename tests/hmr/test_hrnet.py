"""HRNet: official state-dict layout, shapes, and the three checkpoint layouts load_pretrained reads."""

import os
from pathlib import Path

import pytest
import torch

from body_models.errors import InputError, MissingFileError, UnsafeFileError
from hmr.pose2d import HRNet, HRNetConfig, load_pretrained, save_checkpoint

ROOT = Path(__file__).resolve().parents[2]
# Fewer modules and blocks than the official model: same key scheme, fast on CPU.
SMALL = dict(width=8, num_modules=(1, 2, 2), num_blocks=(1, 1, 1), image_size=(64, 64))


def _randomise(model: HRNet, seed: int = 0) -> HRNet:
    """Random weights and BN running statistics, so a lost or misplaced tensor shows in the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(7)
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def small_model():
    return _randomise(HRNet(HRNetConfig(**SMALL)))


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def _outputs_equal(a: HRNet, b: HRNet, images: torch.Tensor) -> bool:
    with torch.no_grad():
        return torch.equal(a(images), b(images))


# ---------------------------------------------------------------- architecture


def test_official_w32_keys_and_shapes():
    state = HRNet(HRNetConfig()).state_dict()
    expected = {
        "conv1.weight": (64, 3, 3, 3),
        "bn2.running_var": (64,),
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.1.conv1.weight": (64, 256, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "transition1.0.0.weight": (32, 256, 3, 3),
        "transition1.1.0.0.weight": (64, 256, 3, 3),
        "transition2.2.0.0.weight": (128, 64, 3, 3),
        "transition3.3.0.0.weight": (256, 128, 3, 3),
        "stage2.0.branches.0.0.conv1.weight": (32, 32, 3, 3),
        "stage2.0.fuse_layers.0.1.0.weight": (32, 64, 1, 1),
        "stage3.0.fuse_layers.2.0.0.0.weight": (32, 32, 3, 3),
        "stage3.0.fuse_layers.2.0.1.0.weight": (128, 32, 3, 3),
        "stage3.0.fuse_layers.2.1.0.0.weight": (128, 64, 3, 3),
        "stage4.2.fuse_layers.0.3.1.running_mean": (32,),
        "final_layer.weight": (17, 32, 1, 1),
        "final_layer.bias": (17,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert len(state) == 1754 and sum(not k.endswith("num_batches_tracked") for k in state) == 1462
    assert not any(k.startswith("stage4.2.fuse_layers.1") for k in state)  # last module: row 0 only
    assert not any(k.startswith(("transition2.0", "transition2.1", "transition3.0")) for k in state)
    assert sum(p.numel() for p in HRNet(HRNetConfig()).parameters()) == 28_536_113


def test_w48_build_parameter_count_and_bn_momentum():
    model = HRNet(HRNetConfig.from_yaml(ROOT / "configs/pose2d/hrnet_w48_384x288.yaml"))
    assert sum(p.numel() for p in model.parameters()) == 63_595_745
    assert tuple(model.state_dict()["transition3.3.0.0.weight"].shape) == (384, 192, 3, 3)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(m.momentum == 0.1 and m.eps == 1e-5 for m in bns)
    assert "width=48" in repr(model) and "288x384" in repr(model)


def test_output_shape_and_bad_input(small_model):
    with torch.no_grad():
        assert small_model(torch.zeros(3, 3, 64, 96)).shape == (3, 17, 16, 24)
    for shape in [(3, 64, 64), (1, 1, 64, 64), (1, 3, 64, 48)]:
        with pytest.raises(ValueError, match=r"got \(" + ", ".join(map(str, shape))):
            small_model(torch.zeros(shape))


def test_config_yaml_presets_and_unknown_key(tmp_path):
    w32 = HRNetConfig.from_yaml(ROOT / "configs/pose2d/hrnet_w32_256x192.yaml")
    assert w32 == HRNetConfig()
    assert w32.heatmap_size == (48, 64)
    bad = tmp_path / "bad.yaml"
    bad.write_text("width: 32\nnum_jionts: 17\n")
    with pytest.raises(InputError, match="num_jionts"):
        HRNetConfig.from_yaml(bad)
    with pytest.raises(InputError, match="heatmap_size"):
        HRNetConfig(heatmap_size=(40, 64))


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize("width, joints, expected_size", [(32, 17, (192, 256)), (48, 68, (288, 384))])
def test_width_and_joints_read_from_weights(tmp_path, width, joints, expected_size):
    model = HRNet(HRNetConfig(width=width, num_joints=joints, num_modules=(1, 1, 1), num_blocks=(1, 1, 1)))
    path = tmp_path / "pose_hrnet.pth"
    torch.save(model.state_dict(), path)
    loaded = load_pretrained(path)
    assert (loaded.config.width, loaded.config.num_joints) == (width, joints)
    assert loaded.config.image_size == expected_size
    assert loaded.config.num_modules == (1, 1, 1) and not loaded.training
    assert load_pretrained(path, image_size=(256, 256)).config.heatmap_size == (64, 64)


def test_official_file_with_module_prefix_and_without_counters(tmp_path, small_model, images):
    state = {f"module.{k}": v for k, v in small_model.state_dict().items() if "num_batches_tracked" not in k}
    path = tmp_path / "pose_hrnet_w8.pth"
    torch.save(state, path)
    loaded = load_pretrained(path, image_size=(64, 64))
    assert _outputs_equal(loaded, small_model, images)


def test_project_checkpoint_round_trip(tmp_path, small_model, images):
    path = save_checkpoint(tmp_path / "sub" / "hrnet.pt", small_model)
    assert [p.name for p in path.parent.iterdir()] == ["hrnet.pt"]  # no temporary left behind
    loaded = load_pretrained(path)
    assert loaded.config == small_model.config
    assert _outputs_equal(loaded, small_model, images)


def test_mmpose_checkpoint_mapping(tmp_path, small_model, images):
    import numpy as np

    state = {
        ("keypoint_head." if k.startswith("final_layer.") else "backbone.") + k: v
        for k, v in small_model.state_dict().items()
    }
    meta = {"mmcv_version": "1.7.0", "epoch": 210, "hook_msgs": {"best_score": np.float64(0.74)}}
    path = tmp_path / "hrnet_w8_mmpose.pth"
    torch.save({"meta": meta, "state_dict": state}, path)
    loaded = load_pretrained(path, image_size=(64, 64))
    assert _outputs_equal(loaded, small_model, images)


def test_strict_mismatch_is_one_line(tmp_path, small_model):
    state = dict(small_model.state_dict())
    del state["stage3.0.branches.1.0.conv2.weight"]
    state["stage9.extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(InputError) as info:
        load_pretrained(path)
    message = str(info.value)
    assert "\n" not in message
    assert "1 missing keys (stage3.0.branches.1.0.conv2.weight)" in message
    assert "1 unexpected keys (stage9.extra.weight)" in message


def test_missing_file_names_the_source(tmp_path):
    with pytest.raises(MissingFileError, match="leoxiaobin/deep-high-resolution-net.pytorch"):
        load_pretrained(tmp_path / "pose_hrnet_w32_256x192.pth")


class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_malicious_pickle_is_refused(tmp_path, small_model):
    marker = tmp_path / "marker"
    state = dict(small_model.state_dict())
    state["evil"] = _RunsCommand(f"touch {marker}")
    path = tmp_path / "pose_hrnet_w32_256x192.pth"
    torch.save(state, path)
    with pytest.raises(UnsafeFileError):
        load_pretrained(path)
    assert not marker.exists()
