"""One meaning of ``--device`` for every subcommand (``hmr.commands.runtime.resolve_device``)."""

import pytest
import torch

from body_models.errors import InputError
from hmr.commands.runtime import resolve_device


def test_auto_is_the_gpu_when_there_is_one_and_its_own_under_torchrun(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("auto") == "cuda:1"
    assert resolve_device("cuda:0") == "cuda:0"  # an explicit choice is kept


def test_a_device_that_cannot_run_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match=r"--device cuda:1: CUDA is not available here; use --device cpu or auto"):
        resolve_device("cuda:1")
    with pytest.raises(InputError, match=r"--device gpu0: not a device torch knows"):
        resolve_device("gpu0")


@pytest.mark.parametrize("command", ["run", "keypoints", "demo", "eval h36m-lifter"])
def test_the_subcommands_refuse_cuda_on_a_machine_without_it(command, monkeypatch, tmp_path, capsys):
    import numpy as np

    from hmr.cli import main
    from hmr.io.video import write_video

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clip = write_video(tmp_path / "clip.mp4", [np.zeros((32, 32, 3), np.uint8)] * 2, fps=10)
    positional = {"run": [str(clip)], "keypoints": [str(clip)],
                  "eval h36m-lifter": [str(tmp_path / "data.npz"), "--checkpoint", str(tmp_path / "w.bin")]}
    argv = [*command.split(), *positional.get(command, []), "--out", str(tmp_path / "out"), "--device", "cuda"]
    assert main(argv) == 2
    assert "--device cuda: CUDA is not available here; use --device cpu or auto" in capsys.readouterr().err
