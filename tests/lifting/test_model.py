"""TemporalModel / TemporalModelOptimized1f: official state-dict layout, receptive field, shapes."""

from pathlib import Path

import pytest
import torch
from lifting_helpers import randomise

from body_models.errors import InputError
from lifting import LiftingConfig, TemporalModel, TemporalModelOptimized1f

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "lifting"
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

# The official layout for J_in = 4, F_in = 2, J_out = 3, filter widths (3, 3), C = 8, in
# registration order (expand_bn, shrink, expand_conv, layers_conv, layers_bn).
EXPECTED_SMALL = (
    [(f"expand_bn.{n}", (8,) if n != "num_batches_tracked" else ()) for n in BN]
    + [("shrink.weight", (9, 8, 1)), ("shrink.bias", (9,)), ("expand_conv.weight", (8, 8, 3)),
       ("layers_conv.0.weight", (8, 8, 3)), ("layers_conv.1.weight", (8, 8, 1))]
    + [(f"layers_bn.{i}.{n}", (8,) if n != "num_batches_tracked" else ()) for i in (0, 1) for n in BN]
)


def _layout(model):
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


@pytest.mark.parametrize("cls", [TemporalModel, TemporalModelOptimized1f])
def test_state_dict_matches_the_official_layout(cls):
    assert _layout(cls(4, 2, 3, (3, 3), channels=8)) == EXPECTED_SMALL


@pytest.mark.parametrize("widths", [(3,), (3, 3, 3), (3, 5, 3), (3, 3, 3, 3, 3)])
def test_both_classes_share_keys_and_shapes(widths):
    with torch.device("meta"):
        a = TemporalModel(17, 2, 17, widths, channels=16)
        b = TemporalModelOptimized1f(17, 2, 17, widths, channels=16)
    assert _layout(a) == _layout(b)


def test_convolutions_have_no_bias_except_shrink():
    model = TemporalModel(17, 2, 17, (3, 3, 3), channels=8)
    assert model.expand_conv.bias is None and all(c.bias is None for c in model.layers_conv)
    assert model.shrink.bias is not None
    assert all(bn.momentum == 0.1 for bn in [model.expand_bn, *model.layers_bn])
    model.set_bn_momentum(0.01)
    assert all(bn.momentum == 0.01 for bn in [model.expand_bn, *model.layers_bn])


def test_published_parameter_count():
    with torch.device("meta"):
        model = TemporalModel(17, 2, 17, (3, 3, 3, 3, 3))
    assert sum(p.numel() for p in model.parameters()) == 16_952_371  # FORMATS.md §2.1


@pytest.mark.parametrize("widths, frames, pads", [
    ((3, 3, 3), 27, [1, 3, 9]),
    ((3, 3, 3, 3), 81, [1, 3, 9, 27]),
    ((3, 3, 3, 3, 3), 243, [1, 3, 9, 27, 81]),
    ((3, 3, 7), 63, [1, 3, 27]),
])
def test_receptive_field(widths, frames, pads):
    with torch.device("meta"):
        model = TemporalModel(17, 2, 17, widths, channels=8)
    assert model.receptive_field() == frames == LiftingConfig(filter_widths=widths).receptive_field
    assert model.pad == pads
    assert model.total_causal_shift() == 0 and model.causal_shift == [0] * len(widths)


def test_causal_shifts():
    dilated = TemporalModel(17, 2, 17, (3, 3, 3, 3, 3), causal=True, channels=8)
    strided = TemporalModelOptimized1f(17, 2, 17, (3, 3, 3, 3, 3), causal=True, channels=8)
    assert dilated.causal_shift == [1, 3, 9, 27, 81]
    assert strided.causal_shift == [1, 1, 1, 1, 1]
    assert dilated.total_causal_shift() == strided.total_causal_shift() == 121


def test_dense_kernels_and_no_dense_optimized():
    model = TemporalModel(17, 2, 17, (3, 3, 3), dense=True, channels=8)
    assert [c.kernel_size[0] for c in model.layers_conv] == [7, 1, 19, 1]
    assert all(c.dilation[0] == 1 for c in model.layers_conv)
    assert model.receptive_field() == 27
    with pytest.raises(InputError, match="dense"):
        TemporalModelOptimized1f(17, 2, 17, (3, 3, 3), dense=True, channels=8)


@pytest.mark.parametrize("causal", [False, True])
def test_optimized_equals_reference_in_eval(causal):
    ref = randomise(TemporalModel(5, 2, 4, (3, 3, 3), causal=causal, channels=16)).eval()
    opt = TemporalModelOptimized1f(5, 2, 4, (3, 3, 3), causal=causal, channels=16)
    opt.load_state_dict(ref.state_dict())
    opt.eval()
    x = torch.randn(3, 27, 5, 2)
    with torch.no_grad():
        expected = ref(x)
        assert expected.shape == (3, 1, 4, 3)
        torch.testing.assert_close(opt(x), expected, rtol=1e-5, atol=1e-5)
        longer = torch.randn(2, 40, 5, 2)  # several windows: still T - R + 1 frames
        torch.testing.assert_close(opt(longer), ref(longer), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", [TemporalModel, TemporalModelOptimized1f])
def test_forward_shape_in_train_mode(cls):
    model = cls(17, 3, 15, (3, 3), channels=8).train()
    assert model(torch.randn(2, 9, 17, 3)).shape == (2, 1, 15, 3)
    if cls is TemporalModel:
        assert model(torch.randn(2, 30, 17, 3)).shape == (2, 22, 15, 3)


@pytest.mark.parametrize("shape", [(2, 27, 34), (2, 27, 16, 2), (2, 27, 17, 3), (2, 26, 17, 2), (27, 17, 2, 1, 1)])
def test_bad_input_shapes_raise_value_error_with_the_shape(shape):
    model = TemporalModel(17, 2, 17, (3, 3, 3), channels=8)
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        model(torch.randn(shape))


def test_extra_repr_names_what_matters():
    text = repr(TemporalModel(17, 2, 17, (3, 3, 3), causal=True, channels=8))
    for part in ("filter_widths=(3, 3, 3)", "receptive_field=27", "channels=8", "causal=True"):
        assert part in text


def test_config_round_trip_and_validation():
    model = TemporalModelOptimized1f(17, 2, 15, [3, 3], causal=True, dropout=0.1, channels=8)
    config = model.config
    assert config == LiftingConfig(17, 2, 15, (3, 3), True, 0.1, 8, False)
    assert LiftingConfig.from_dict(config.to_dict()) == config
    assert _layout(TemporalModel.from_config(config)) == _layout(model)
    with pytest.raises(InputError, match="odd"):
        LiftingConfig(filter_widths=(3, 4))
    with pytest.raises(ValueError, match="odd"):
        TemporalModel(17, 2, 17, [2, 3])


@pytest.mark.parametrize("name, frames, joints_out", [
    ("pretrained_h36m_cpn", 243, 17),
    ("pretrained_h36m_detectron_coco", 243, 17),
    ("pretrained_humaneva15_detectron", 27, 15),
    ("demo_27f_256c", 27, 17),
])
def test_presets(name, frames, joints_out):
    config = LiftingConfig.from_yaml(CONFIGS / f"{name}.yaml")
    assert config.receptive_field == frames and config.num_joints_out == joints_out
    assert config.num_joints_in == 17 and config.in_features == 2 and not config.causal


def test_yaml_unknown_key_is_named(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("num_joints_in: 17\nfilter_width: [3, 3]\n")
    with pytest.raises(InputError, match="'filter_width'"):
        LiftingConfig.from_yaml(path)
