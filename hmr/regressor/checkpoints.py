"""Reading and writing HMR regressor weights.

Files `load_pretrained` reads:

- SPIN's `data/model_checkpoint.pt` (from SPIN's `fetch_data.sh`, github.com/nkolot/SPIN): a
  `torch.save` dict whose `model` entry is the state dict of SPIN's `HMR` (the rot6d head, with
  the `init_pose`/`init_shape`/`init_cam` buffers); training state (`optimizer`, `epoch`,
  `batch_idx`, `batch_size`, `dataset_perm`, `total_step_count`) is ignored. A `module.` prefix
  (DataParallel) is stripped.
- The project checkpoint written by `save_checkpoint`:
  `{"format": "hmr-video/hmr", "version": 1, "config": HMRConfig dict, "model": state dict}`,
  either head.
- A bare state dict of either head.

Every file is read with `torch.load(weights_only=True)`. The only globals allowed beyond torch's
own are what a numpy integer or float array needs (`dataset_perm` may be one): numpy's array
reconstructor (under its numpy 2 and numpy 1 module paths), `ndarray`, `dtype` and the
concrete dtype classes of the plain integer and float types. Anything else in the file is refused
with `UnsafeFileError` before it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from body_models.atomic import atomic_path
from body_models.errors import InputError, MissingFileError
from body_models.safe_torch import load_torch_file, require_finite
from hmr.regressor.model import (
    CAM_DIM,
    HMR,
    NUM_BETAS,
    ROT6D_POSE_DIM,
    HMRConfig,
    MeanParams,
)

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "DEMO_WEIGHTS", "load_mean_params", "load_pretrained", "save_checkpoint"]

CHECKPOINT_FORMAT = "hmr-video/hmr"
CHECKPOINT_VERSION = 1
# The demo regressor trained on the synthetic image world (configs/regressor/train_demo.yaml),
# installed with the package.
DEMO_WEIGHTS = Path(__file__).resolve().parent / "weights" / "demo_r18_160_world.pt"
SPIN_SOURCE = "SPIN's fetch_data.sh (github.com/nkolot/SPIN)"
# Largest difference tolerated between a given smpl_mean_params.npz and a checkpoint's buffers.
MEAN_PARAMS_TOLERANCE = 1e-6
_MEAN_PARAMS_SHAPES = {"pose": (ROT6D_POSE_DIM,), "shape": (NUM_BETAS,), "cam": (CAM_DIM,)}
_MAX_KEYS_IN_MESSAGE = 8
# The IEF start stored as buffers, per head.
_HEAD_LAYERS = ("fc1", "fc2", "decpose", "decshape", "deccam", "dectheta")
_BUFFER_NAMES = {"rot6d": ("init_pose", "init_shape", "init_cam"), "axis_angle": ("init_theta",)}


def load_mean_params(path: str | os.PathLike) -> MeanParams:
    """Read SPIN's `smpl_mean_params.npz`.

    Args:
        path: the npz, with `pose` (144,) 24 × 6D, `shape` (10,) and `cam` (3,) (s, tx, ty).

    Returns:
        MeanParams with float32 arrays.

    Raises:
        MissingFileError: the file does not exist.
        InputError: the file is not an npz, or a key is missing or has the wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"mean parameters not found at {path}; smpl_mean_params.npz comes from {SPIN_SOURCE}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key]) for key in data.files}
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"{path}: not a readable npz without pickles ({' '.join(str(error).split())[:200]})") from None
    missing = [key for key in _MEAN_PARAMS_SHAPES if key not in arrays]
    if missing:
        raise InputError(f"{path}: missing key(s) {missing}; smpl_mean_params.npz holds pose (144,), shape (10,), cam (3,)")
    for key, expected in _MEAN_PARAMS_SHAPES.items():
        array = arrays[key]
        if array.shape != expected:
            raise InputError(f"{path}: {key!r} has shape {array.shape}, expected {expected}")
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
            raise InputError(f"{path}: {key!r} must hold finite floats, got dtype {array.dtype}")
    return MeanParams(**{key: arrays[key].astype(np.float32) for key in _MEAN_PARAMS_SHAPES})


def save_checkpoint(path: str | os.PathLike, model: HMR, half: bool = False) -> Path:
    """Write a project checkpoint (config + state dict) atomically; `load_pretrained` reads it.

    Args:
        path: the file.
        model: the regressor.
        half: store the learned parameters as float16 (half the file; `load_pretrained` loads them
            into the float32 model), as the shipped demo regressor is. Buffers (the IEF mean pose,
            shape and camera, BatchNorm statistics) stay float32: they are small, and the mean
            parameters must still equal the mean-parameter file they came from.
    """
    parameters = {name for name, _ in model.named_parameters()}

    def stored(name: str, value: torch.Tensor) -> torch.Tensor:
        value = value.detach().cpu()
        return value.half() if half and name in parameters and value.is_floating_point() else value

    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": model.config.to_dict(),
        "model": {key: stored(key, value) for key, value in model.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(path)


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    )


def _read_checkpoint(path: Path) -> tuple[HMRConfig | None, dict[str, torch.Tensor]]:
    """Return (config or None when the file carries none, state dict without `module.`)."""
    checkpoint = load_torch_file(path, "HMR regressor weights", f"download them with {SPIN_SOURCE}")
    if isinstance(checkpoint, Mapping) and "format" in checkpoint:
        if checkpoint["format"] != CHECKPOINT_FORMAT:
            raise InputError(f"{path}: checkpoint format {checkpoint['format']!r} is not {CHECKPOINT_FORMAT!r}")
        if checkpoint.get("version") != CHECKPOINT_VERSION:
            raise InputError(f"{path}: checkpoint version {checkpoint.get('version')!r} is not supported "
                             f"(this code reads version {CHECKPOINT_VERSION})")
        config, state = HMRConfig.from_dict(checkpoint.get("config") or {}), checkpoint.get("model")
    elif isinstance(checkpoint, Mapping) and "model" in checkpoint:  # SPIN's model_checkpoint.pt
        config, state = None, checkpoint["model"]
    elif _is_state_dict(checkpoint):
        config, state = None, checkpoint
    else:
        raise InputError(f"{path}: expected SPIN's model_checkpoint.pt (a dict with 'model'), a project "
                         f"checkpoint or a state dict")
    if not _is_state_dict(state):
        raise InputError(f"{path}: the 'model' entry is not a state dict of tensors")
    if all(key.startswith("module.") for key in state):
        state = {key[len("module."):]: value for key, value in state.items()}
    return config, dict(state)


def _config_from_keys(state: Mapping[str, torch.Tensor]) -> HMRConfig:
    """The head, widths and trunk a state dict reveals (SPIN's file and bare state dicts carry no
    config): basic blocks have no `conv3`, and ResNet-34 has a fourth block in `layer2`."""
    head = "axis_angle" if "dectheta.weight" in state else "rot6d"
    hidden = state["fc2.weight"].shape[0] if "fc2.weight" in state else HMRConfig.hidden_dim
    backbone = "resnet50"
    if "layer1.0.conv1.weight" in state and "layer1.0.conv3.weight" not in state:
        backbone = "resnet34" if "layer2.3.conv1.weight" in state else "resnet18"
    return HMRConfig(head=head, hidden_dim=int(hidden), backbone=backbone)


def _buffer_values(config: HMRConfig, mean_params: MeanParams) -> dict[str, np.ndarray]:
    if config.head == "rot6d":
        return {"init_pose": mean_params.pose, "init_shape": mean_params.shape, "init_cam": mean_params.cam}
    return {"init_theta": mean_params.hmr_theta()}


def _key_list(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_KEYS_IN_MESSAGE])
    more = len(keys) - _MAX_KEYS_IN_MESSAGE
    return f"[{shown}{f', … +{more} more' if more > 0 else ''}]"


def load_pretrained(path: str | os.PathLike, mean_params: str | os.PathLike | None = None) -> HMR:
    """An eval-mode HMR regressor from SPIN's `model_checkpoint.pt` or a project checkpoint.

    Args:
        path: SPIN's `model_checkpoint.pt`, a file from `save_checkpoint`, or a bare state dict.
        mean_params: optional path to SPIN's `smpl_mean_params.npz`. The checkpoint's
            `init_*` buffers are the IEF start; when given, the file must agree with them, and
            when the checkpoint lacks them, they are taken from this file.

    Returns:
        HMR in eval mode, on CPU, float32. Forward: (B, 3, 224, 224) → HMROutput.

    Raises:
        MissingFileError: `path` (or `mean_params`) does not exist.
        UnsafeFileError: the file names globals outside the allow-list.
        InputError: the layout, keys or shapes do not match the regressor (strict loading), or
            `mean_params` disagrees with the checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"regressor weights not found at {path}; SPIN's model_checkpoint.pt comes from {SPIN_SOURCE}"
        )
    config, state = _read_checkpoint(path)
    config = config or _config_from_keys(state)
    model = HMR(config)
    if not any(key.split(".")[0] in _HEAD_LAYERS for key in state):  # another network (a classifier, HRNet, ...)
        _raise_key_mismatch(path, config, model, state)
    means = load_mean_params(mean_params) if mean_params is not None else None
    buffers = _buffer_values(config, means) if means is not None else {}
    for name in _BUFFER_NAMES[config.head]:
        if name in state:
            if name in buffers:
                expected = torch.as_tensor(buffers[name]).reshape(1, -1)
                stored = state[name].detach().float().cpu()
                if stored.shape != expected.shape or not torch.allclose(stored, expected, rtol=0.0,
                                                                        atol=MEAN_PARAMS_TOLERANCE):
                    diff = (stored - expected).abs().max().item() if stored.shape == expected.shape else "shape"
                    raise InputError(
                        f"{mean_params}: mean parameters differ from the {name} buffer stored in {path} "
                        f"(max abs difference {diff}); leave mean_params out to use the checkpoint's"
                    )
        elif name in buffers:
            state[name] = torch.as_tensor(buffers[name]).reshape(1, -1)
        else:
            raise InputError(f"{path}: the checkpoint has no {name} buffer; pass mean_params= the path of "
                             f"smpl_mean_params.npz from {SPIN_SOURCE}")

    expected_shapes = {key: value.shape for key, value in model.state_dict().items()}
    wrong = [f"{key} {tuple(value.shape)} != {tuple(expected_shapes[key])}"
             for key, value in state.items() if key in expected_shapes and value.shape != expected_shapes[key]]
    if wrong:
        raise InputError(f"{path}: tensor shapes do not match the {config.head} regressor: {_key_list(wrong)}")
    require_finite(state, path)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        _raise_key_mismatch(path, config, model, state)
    return model.eval()


def _raise_key_mismatch(path: Path, config: HMRConfig, model: HMR, state: Mapping[str, torch.Tensor]) -> None:
    """One-line InputError listing the keys the regressor misses and the keys it does not know."""
    expected = list(model.state_dict())
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in set(expected)]
    raise InputError(
        f"{path}: state dict does not match the {config.head} regressor: missing "
        f"{_key_list(missing)}, unexpected {_key_list(unexpected)}"
    )
