"""Fast inference paths: the precision choice and the folded channels_last network copies."""

import pytest
import torch

from body_models.errors import InputError
from hmr.core import fastpath
from hmr.core.fastpath import inference_copy, resolve_precision
from hmr.pose2d import HRNet, HRNetConfig
from hmr.regressor.model import HMR, HMRConfig


def _randomise(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            elif not name.endswith("num_batches_tracked"):
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.1)
    return model.eval()


def test_precision_choice(monkeypatch):
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16", "cuda") == "bf16"
    monkeypatch.setattr(fastpath, "cpu_bf16_flags", lambda: ("avx512_bf16",))
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(fastpath, "cpu_bf16_flags", lambda: ())
    assert resolve_precision("auto", "cpu") == "fp32"
    with pytest.raises(InputError, match="precision"):
        resolve_precision("fp16")


@pytest.mark.parametrize("build,size", [
    (lambda: HRNet(HRNetConfig(width=8, image_size=(64, 64), num_modules=(1, 1, 1), num_blocks=(1, 1, 1))), 64),
    (lambda: HMR(HMRConfig(image_size=64)), 64),
])
def test_folded_channels_last_copy_matches_and_leaves_the_original(build, size):
    model = _randomise(build())
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = model(images)
        fast = inference_copy(model)
        after = fast(images)
        again = model(images)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    pairs = [(before, after, again)] if isinstance(before, torch.Tensor) else [
        (before.rotmat, after.rotmat, again.rotmat), (before.cam, after.cam, again.cam)]
    for ref, got, same in pairs:
        assert torch.equal(ref, same)
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


class _Twice(torch.nn.Module):
    """A network with a batch-first tuple output, as the regress stage picks from HMR."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return {"maps": y, "pooled": y.mean((2, 3))}


@pytest.mark.slow
def test_compiled_network_pads_to_powers_of_two_and_matches_eager():
    from hmr.core.fastpath import CompiledNetwork

    torch.manual_seed(0)
    net = _Twice().eval()
    compiled = CompiledNetwork(net, max_batch=4, pick=lambda out: (out["maps"], out["pooled"]))
    assert [compiled._padded_size(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 4, 4]
    graph, batches = compiled.net, []
    compiled.net = lambda chunk: (batches.append(len(chunk)), graph(chunk))[1]
    with torch.no_grad():
        compiled.warm_up(torch.zeros(4, 3, 8, 8))
        for n in (3, 6):  # 3 is padded to 4; 6 runs as 4 + 2
            images = torch.randn(n, 3, 8, 8)
            maps, pooled = compiled(images)
            eager = net(images)
            assert maps.shape == (n, 4, 8, 8) and pooled.shape == (n, 4)
            torch.testing.assert_close(maps, eager["maps"], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(pooled, eager["pooled"], rtol=1e-5, atol=1e-5)
        empty = compiled(torch.zeros(0, 3, 8, 8))
        assert empty[0].shape == (0, 4, 8, 8)
    assert batches == [4, 4, 4, 2]  # the compiled graphs only ever see powers of two; none for no images


def test_a_network_that_does_not_compile_is_a_one_line_error():
    from hmr.core.fastpath import CompiledNetwork

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("no C++ compiler here\nlong trace")

    compiled = CompiledNetwork(Broken(), max_batch=2)
    with pytest.raises(InputError, match=r"torch.compile failed \(RuntimeError: no C\+\+ compiler here\); run without --compile"):
        compiled.warm_up(torch.zeros(2, 3))


_FUSABLE = [
    (lambda: HRNet(HRNetConfig(width=8, image_size=(64, 64), num_modules=(1, 1, 1), num_blocks=(1, 1, 1))),
     "heatmaps", 64),
    (lambda: HMR(HMRConfig(image_size=64, backbone="resnet18")), "features", 64),
    (lambda: HMR(HMRConfig(image_size=64)), "features", 64),
]


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN (mkldnn)")
@pytest.mark.parametrize("build,method,size", _FUSABLE)
def test_fused_copy_equals_the_autocast_copy_to_bf16_rounding(build, method, size):
    from hmr.core.fused import FusedConv2d

    model = _randomise(build())
    plain = inference_copy(model)
    fused = inference_copy(model, fuse=method, example_size=(1, 3, size, size))
    layers = [m for m in fused.modules() if isinstance(m, FusedConv2d)]
    num_convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert len(layers) == num_convs  # every convolution runs fused
    assert any(m.add for m in layers) and sum(m.unary == "relu" for m in layers) > num_convs // 2
    for batch in (1, 3):  # other batch sizes than the layout was chosen for
        images = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            want, got = getattr(plain, method)(images).float(), getattr(fused, method)(images)
        assert got.dtype == torch.float32 and got.shape == want.shape
        # bf16 keeps 8 bits: the two paths round at different places
        assert (got - want).abs().max() <= 0.05 * want.abs().max()
        assert (got - want).abs().mean() <= 0.01 * want.abs().mean()
    assert method not in model.__dict__  # the original keeps the class's method


def test_no_fusion_off_the_cpu():
    from hmr.core.fused import can_fuse

    model = HMR(HMRConfig(image_size=64, backbone="resnet18")).eval().to("meta")
    assert can_fuse("cpu") == torch.backends.mkldnn.is_available() and not can_fuse("meta")
    copy = inference_copy(model, fuse="features", example_size=(1, 3, 64, 64))
    assert "features" not in copy.__dict__ and not any(type(m).__name__ == "FusedConv2d" for m in copy.modules())
