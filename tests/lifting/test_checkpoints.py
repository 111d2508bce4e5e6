"""Lifter checkpoints: official VideoPose3D .bin files (weights_only with a numpy allow-list),
project checkpoints, inference of the architecture, and refusal of files that would run code."""

import os
import pickle
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch
from lifting_helpers import randomise

from body_models.errors import InputError, MissingFileError, UnsafeFileError
from lifting import (
    TemporalModel,
    TemporalModelOptimized1f,
    load_pretrained,
    load_trajectory_model,
    save_checkpoint,
)
from lifting.checkpoints import load_checkpoint


def _official_dict(model, traj=None):
    """What VideoPose3D's run.py saves: Adam state after a step, a numpy RandomState, the
    state dict of the (optimized) training model, model_traj None unless semi-supervised."""
    params = list(model.parameters()) + (list(traj.parameters()) if traj is not None else [])
    optimizer = torch.optim.Adam(params, lr=0.001, amsgrad=True)
    x = torch.randn(2, model.receptive_field(), model.num_joints_in, model.in_features)
    loss = model(x).square().mean() + (traj(x).square().mean() if traj is not None else 0)
    loss.backward()
    optimizer.step()
    randomise(model)
    return {
        "epoch": 80,
        "lr": 0.00098,
        "random_state": np.random.RandomState(1234),
        "optimizer": optimizer.state_dict(),
        "model_pos": model.state_dict(),
        "model_traj": None if traj is None else randomise(traj, 1).state_dict(),
        "random_state_semi": None if traj is None else np.random.RandomState(5678),
    }


def _reference(model_train, cls=TemporalModel):
    c = model_train.config
    ref = cls.from_config(c)
    ref.load_state_dict(model_train.state_dict())
    return ref.eval()


def _outputs_equal(a, b, frames, joints=17, features=2):
    x = torch.randn(2, frames, joints, features, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=1e-6, atol=1e-6)


def test_official_bin_loads_with_inferred_architecture(tmp_path):
    train = TemporalModelOptimized1f(17, 2, 15, (3, 3, 3), channels=16)
    path = tmp_path / "pretrained.bin"
    torch.save(_official_dict(train), path)
    model = load_pretrained(path)
    assert isinstance(model, TemporalModel) and not model.training
    assert model.config.filter_widths == (3, 3, 3) and model.channels == 16
    assert (model.num_joints_in, model.in_features, model.num_joints_out) == (17, 2, 15)
    assert next(model.parameters()).dtype == torch.float32
    _outputs_equal(model, _reference(train), 40)
    assert load_trajectory_model(path) is None


class _OldNumpyPickler(pickle.Pickler):
    """Spells the numpy globals as numpy < 1.17 did (the published .bin files)."""

    stand_ins: dict = {}  # "reconstruct", "randomstate_ctor": functions named as numpy 1.x did

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            _, args, state = obj.__reduce__()
            return (self.stand_ins["reconstruct"], args, state)
        if type(obj) is np.random.RandomState:
            return (self.stand_ins["randomstate_ctor"], (), obj.get_state(legacy=True))
        return NotImplemented


def test_legacy_file_with_old_numpy_names(tmp_path, monkeypatch):
    def stand_in(module, name):
        def function(*args):
            raise AssertionError("stand-in is only written, never called")
        function.__module__, function.__qualname__, function.__name__ = module, name, name
        return function

    fake_multiarray = types.ModuleType("numpy.core.multiarray")
    fake_multiarray._reconstruct = stand_in("numpy.core.multiarray", "_reconstruct")
    monkeypatch.setitem(sys.modules, "numpy.core.multiarray", fake_multiarray)
    ctor = stand_in("numpy.random", "__RandomState_ctor")
    monkeypatch.setattr(np.random, "__RandomState_ctor", ctor, raising=False)
    monkeypatch.setattr(_OldNumpyPickler, "stand_ins",
                        {"reconstruct": fake_multiarray._reconstruct, "randomstate_ctor": ctor})
    pickle_module = types.SimpleNamespace(__name__="pickle", Pickler=_OldNumpyPickler, dump=pickle.dump)

    train = TemporalModelOptimized1f(17, 2, 17, (3, 3), channels=8)
    path = tmp_path / "old.bin"
    torch.save(_official_dict(train), path, pickle_module=pickle_module,
               _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    assert b"numpy.random\n__RandomState_ctor" in data and b"numpy.core.multiarray\n_reconstruct" in data
    monkeypatch.undo()

    checkpoint = load_checkpoint(path)
    assert checkpoint["format"] == "official" and checkpoint["epoch"] == 80
    model = load_pretrained(path)
    _outputs_equal(model, _reference(train), 9)


def test_random_state_survives_the_allow_list(tmp_path):
    from body_models.safe_torch import load_torch_file

    path = tmp_path / "rs.bin"
    torch.save(_official_dict(TemporalModelOptimized1f(4, 2, 4, (3,), channels=4)), path)
    state = load_torch_file(path, "lifter weights", "")["random_state"]
    assert isinstance(state, np.random.RandomState)
    assert state.randint(0, 10**6, 5).tolist() == np.random.RandomState(1234).randint(0, 10**6, 5).tolist()


def test_trajectory_model_and_module_prefix(tmp_path):
    train = TemporalModelOptimized1f(17, 2, 17, (3, 3), channels=8)
    traj = TemporalModelOptimized1f(17, 2, 1, (3, 3), channels=8)
    data = _official_dict(train, traj)
    data["model_pos"] = OrderedDict(("module." + k, v) for k, v in data["model_pos"].items())
    path = tmp_path / "semi.bin"
    torch.save(data, path)
    _outputs_equal(load_pretrained(path), _reference(train), 12)
    trajectory = load_trajectory_model(path)
    assert trajectory.num_joints_out == 1
    _outputs_equal(trajectory, _reference(traj), 12)


def test_old_files_without_num_batches_tracked(tmp_path):
    train = randomise(TemporalModel(17, 2, 17, (3, 3), channels=8))
    state = {k: v for k, v in train.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "torch040.bin"
    torch.save({"epoch": 1, "model_pos": state}, path)
    _outputs_equal(load_pretrained(path), train.eval(), 9)


def test_in_features_and_dense_inference(tmp_path):
    train = TemporalModel(17, 3, 17, (3, 3, 3), dense=True, channels=8)
    path = tmp_path / "dense.bin"
    torch.save(_official_dict(train), path)
    model = load_pretrained(path, dense=True)
    assert model.in_features == 3 and model.dense and model.config.filter_widths == (3, 3, 3)
    _outputs_equal(model, _reference(train), 30, features=3)
    # 102 = 34·3 = 51·2 is ambiguous: 2 features unless told otherwise.
    wide = TemporalModelOptimized1f(34, 3, 17, (3,), channels=4)
    torch.save({"model_pos": wide.state_dict()}, path)
    assert load_pretrained(path).config.num_joints_in == 51
    assert load_pretrained(path, in_features=3).config.num_joints_in == 34


def test_project_checkpoint_round_trip(tmp_path):
    model = randomise(TemporalModelOptimized1f(17, 2, 17, (3, 3), causal=True, channels=8))
    traj = randomise(TemporalModel(17, 2, 1, (3, 3), causal=True, channels=8), 1)
    path = save_checkpoint(tmp_path / "run" / "lifter.pt", model, traj_model=traj,
                           extra={"epoch": 7, "note": "test"})
    assert sorted(p.name for p in path.parent.iterdir()) == ["lifter.pt"]  # no temporary left
    loaded = load_pretrained(path)
    assert loaded.config == model.config and loaded.causal
    _outputs_equal(loaded, _reference(model), 15)
    _outputs_equal(load_trajectory_model(path), traj.eval(), 15)
    checkpoint = load_checkpoint(path)
    assert checkpoint["format"] == "project" and checkpoint["extra"] == {"epoch": 7, "note": "test"}
    # loading it again and saving gives identical outputs
    again = load_pretrained(save_checkpoint(tmp_path / "again.pt", loaded))
    _outputs_equal(again, loaded, 15)


def test_wrong_architecture_is_one_line_input_error(tmp_path):
    path = tmp_path / "small.bin"
    torch.save(_official_dict(TemporalModelOptimized1f(17, 2, 17, (3, 3), channels=8)), path)
    with pytest.raises(InputError) as info:
        load_pretrained(path, filter_widths=(3, 3, 3), channels=1024)
    message = str(info.value)
    assert "\n" not in message and "filter_widths" in message and "channels" in message
    project = save_checkpoint(tmp_path / "p.pt", TemporalModel(17, 2, 17, (3, 3), channels=8))
    with pytest.raises(InputError, match="causal"):
        load_pretrained(project, causal=True)


def test_weights_that_do_not_fit_list_keys_in_one_line(tmp_path):
    state = TemporalModel(17, 2, 17, (3, 3), channels=8).state_dict()
    del state["layers_bn.1.running_var"]
    state["extra_head.weight"] = torch.zeros(3)
    path = tmp_path / "broken.bin"
    torch.save({"model_pos": state}, path)
    with pytest.raises(InputError) as info:
        load_pretrained(path)
    message = str(info.value)
    assert "\n" not in message
    assert "layers_bn.1.running_var" in message and "extra_head.weight" in message


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(MissingFileError, match="github.com/facebookresearch/VideoPose3D"):
        load_pretrained(tmp_path / "pretrained_h36m_cpn.bin")
    path = tmp_path / "other.bin"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2)}}, path)
    with pytest.raises(InputError, match="model_pos"):
        load_pretrained(path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError):
        load_pretrained(path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_malicious_checkpoint_is_refused_and_nothing_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.bin"
    payload = {"model_pos": TemporalModel(4, 2, 4, (3,), channels=4).state_dict(), "x": _Evil(marker)}
    if writer == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises((UnsafeFileError, InputError)) as info:
        load_pretrained(path)
    assert "\n" not in str(info.value)
    if writer == "torch":
        assert isinstance(info.value, UnsafeFileError) and "system" in str(info.value)
    assert not marker.exists()
