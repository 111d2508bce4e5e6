"""The lifter in chunks: the whole-sequence result exactly, with bounded network input."""

import numpy as np
import pytest
import torch

from body_models.errors import InputError
from lifting import TemporalModel, lift_keypoints
from lifting.evaluate import predict_sequence
from lifting_helpers import randomise


class _LongestInput(torch.nn.Module):
    """Wraps a lifter and records the longest input (frames) it was given in one call."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.longest = 0

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.model, name)

    def forward(self, x):
        self.longest = max(self.longest, x.shape[1])
        return self.model(x)


def _model(causal=False, widths=(3, 3, 3)):
    torch.manual_seed(0)
    return randomise(TemporalModel(17, 2, 17, widths, channels=16, causal=causal)).eval()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("frames,chunk", [(300, 64), (40, 7), (50, 1000)])
def test_chunks_equal_the_whole_sequence(causal, frames, chunk):
    model = _model(causal)
    rng = np.random.default_rng(frames)
    keypoints = rng.normal(0, 0.3, (frames, 17, 2)).astype(np.float32)
    whole = predict_sequence(model, keypoints, flip=True, chunk_frames=None)
    chunked = predict_sequence(model, keypoints, flip=True, chunk_frames=chunk)
    np.testing.assert_array_equal(chunked, whole)


def test_network_input_stays_bounded_from_1000_to_20000_frames():
    model = _LongestInput(_model(widths=(3, 3)))
    field = model.receptive_field()
    for frames in (1000, 20000):
        keypoints = np.random.default_rng(0).uniform(0, 640, (frames, 17, 3)).astype(np.float32)
        keypoints[..., 2] = 1.0
        model.longest = 0
        result = lift_keypoints(model, keypoints, (640, 480), chunk_frames=256, flip=False)
        assert result.joints.shape == (frames, 17, 3) and np.isfinite(result.joints).all()
        # The largest activation spans one chunk and its overlap, whatever the length.
        assert model.longest == 256 + field - 1


def test_bf16_is_close_and_bad_options_are_errors():
    model = _model()
    keypoints = np.random.default_rng(1).normal(0, 0.3, (80, 17, 2)).astype(np.float32)
    exact = predict_sequence(model, keypoints, chunk_frames=32)
    fast = predict_sequence(model, keypoints, chunk_frames=32, precision="bf16")
    assert 0 < np.abs(fast - exact).max() < 0.05 * np.abs(exact).max()
    with pytest.raises(InputError, match="precision"):
        predict_sequence(model, keypoints, precision="fp16")
    with pytest.raises(InputError, match="chunk_frames"):
        predict_sequence(model, keypoints, chunk_frames=0)


def test_folded_copy_matches_and_leaves_the_model():
    from lifting.fast import folded_copy

    model = _model()
    x = torch.randn(2, 60, 17, 2)
    with torch.no_grad():
        ref = model(x)
        folded = folded_copy(model)
        torch.testing.assert_close(folded(x), ref, rtol=1e-4, atol=1e-5)
        assert torch.equal(model(x), ref)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in folded.modules())


def test_the_folded_copy_is_made_once_per_state_of_the_model():
    from lifting.fast import cached_folded_copy

    model = _model()
    x = torch.randn(1, 60, 17, 2)
    first = cached_folded_copy(model)
    assert cached_folded_copy(model) is first  # person after person: folded once
    with torch.no_grad():
        model.layers_bn[0].running_mean.add_(0.5)  # an in-place change (a training step, a load)
        again = cached_folded_copy(model)
        assert again is not first
        torch.testing.assert_close(again(x), model(x), rtol=1e-4, atol=1e-5)
        model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})  # copies into the tensors
    assert cached_folded_copy(model) is not again


def test_the_fast_copy_keeps_its_first_and_last_layers_in_float32():
    """bf16 rounds a 0.5 m joint by about 2 mm: the ends in float32 keep the fast path closer
    to the exact one than the same copy with every layer in bf16."""
    from lifting.fast import FullPrecision, folded_copy

    model = _model()
    x = torch.randn(2, 80, 17, 2)
    folded = folded_copy(model)
    all_bf16 = folded_copy(model)
    all_bf16.expand_conv, all_bf16.shrink = all_bf16.expand_conv.layer, all_bf16.shrink.layer
    assert isinstance(folded.expand_conv, FullPrecision) and isinstance(folded.shrink, FullPrecision)
    with torch.no_grad():
        exact = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast, rounded = folded(x), all_bf16(x)
    assert fast.dtype == torch.float32 and rounded.dtype == torch.bfloat16
    assert (fast - exact).abs().mean() < 0.5 * (rounded.float() - exact).abs().mean()
