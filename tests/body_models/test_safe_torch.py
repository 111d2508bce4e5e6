import os
import pickle

import numpy as np
import pytest
import torch

from body_models.errors import InputError, MissingFileError, UnsafeFileError
from body_models.safe_torch import load_torch_file


def test_tensors_numpy_arrays_and_random_state_load(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"model": {"w": torch.ones(2)}, "perm": np.arange(5), "rs": np.random.RandomState(3),
                "meta": {"epoch": np.int64(4), "lr": np.float32(0.1)}}, path)
    data = load_torch_file(path, "weights", "")
    assert torch.equal(data["model"]["w"], torch.ones(2))
    np.testing.assert_array_equal(data["perm"], np.arange(5))
    assert data["rs"].randint(0, 100, 3).tolist() == np.random.RandomState(3).randint(0, 100, 3).tolist()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_in_a_checkpoint_never_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": _Evil(marker)}, path)
    with pytest.raises(UnsafeFileError, match="system"):
        load_torch_file(path, "weights", "")
    assert not marker.exists()
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump(_Evil(marker), f, protocol=2)
    with pytest.raises((UnsafeFileError, InputError)):
        load_torch_file(tmp_path / "evil.pkl", "weights", "")
    assert not marker.exists()


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(MissingFileError, match="get it from here"):
        load_torch_file(tmp_path / "nope.pt", "weights", "get it from here")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="not a readable PyTorch checkpoint"):
        load_torch_file(tmp_path / "junk.pt", "weights", "")
