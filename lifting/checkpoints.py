"""Read and write lifter weights: the official VideoPose3D ``.bin`` files and project checkpoints.

Official files (FORMATS.md §2.3) are ``torch.save`` dicts written by VideoPose3D's ``run.py``:
``epoch``, ``lr``, ``optimizer`` (Adam state dict), ``model_pos`` (state dict), ``model_traj``
(state dict or None), ``random_state`` and ``random_state_semi`` (a pickled
``numpy.random.RandomState`` or None). They carry no architecture: filter widths, channels and
joint counts are read from the weight shapes, ``causal`` (and, for the ``dense`` ablation, how to
read the kernel widths) must be given.

Project checkpoints describe themselves::

    {"format": "hmr-video/lifter", "version": 1, "config": LiftingConfig.to_dict(),
     "model_pos": state_dict, "model_traj": state_dict (optional), "traj_config": dict (optional),
     "extra": dict (optional)}

Every file is read with ``torch.load(weights_only=True)``. The only globals allowed beyond
PyTorch's tensor set are the numpy pieces a pickled ``RandomState`` needs, under the names numpy
1.x and 2.x write them (``_NUMPY_RANDOM_STATE_GLOBALS``); a file that names anything else (for
example ``os.system``) is refused with ``UnsafeFileError`` before it can run.

The official weights are published at github.com/facebookresearch/VideoPose3D under CC BY-NC 4.0
and are never downloaded by this package.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from body_models.atomic import atomic_path
from body_models.errors import InputError
from body_models.safe_torch import load_torch_file, require_finite
from lifting.model import LiftingConfig, TemporalModel, TemporalModelOptimized1f

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "OFFICIAL_WEIGHTS_SOURCE", "load_checkpoint", "training_info",
           "load_pretrained", "load_trajectory_model", "save_checkpoint"]

CHECKPOINT_FORMAT = "hmr-video/lifter"
CHECKPOINT_VERSION = 1
OFFICIAL_WEIGHTS_SOURCE = (
    "the official VideoPose3D weights (pretrained_h36m_cpn.bin, pretrained_h36m_detectron_coco.bin, "
    "pretrained_humaneva15_detectron.bin) are published at github.com/facebookresearch/VideoPose3D "
    "(README, licence CC BY-NC 4.0) and are never downloaded automatically"
)

_Model = TemporalModel | TemporalModelOptimized1f


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a lifter file as a dict with ``model_pos`` (state dict, ``module.`` stripped),
    ``model_traj`` (state dict or None), ``config`` / ``traj_config`` (``LiftingConfig`` or None:
    only project checkpoints carry them), ``format`` ("official", "project" or "state_dict") and,
    when present, ``epoch`` and ``extra``."""
    raw = load_torch_file(path, "lifter weights", OFFICIAL_WEIGHTS_SOURCE)
    if not isinstance(raw, Mapping):
        raise InputError(f"{path}: expected a dict of weights, found {type(raw).__name__}")
    if raw.get("format") == CHECKPOINT_FORMAT:
        version = raw.get("version")
        if version != CHECKPOINT_VERSION:
            raise InputError(f"{path}: project lifter checkpoint version {version!r}; this code reads "
                             f"version {CHECKPOINT_VERSION}")
        config = _config_from(raw.get("config"), path, "config")
        traj = raw.get("model_traj")
        traj_config = raw.get("traj_config")
        return {
            "format": "project",
            "model_pos": _state_dict(raw.get("model_pos"), path, "model_pos"),
            "model_traj": None if traj is None else _state_dict(traj, path, "model_traj"),
            "config": config,
            "traj_config": None if traj_config is None else _config_from(traj_config, path, "traj_config"),
            "epoch": raw.get("epoch"),
            "extra": raw.get("extra"),
        }
    if "model_pos" in raw:
        traj = raw.get("model_traj")  # None when not trained semi-supervised
        return {
            "format": "official",
            "model_pos": _state_dict(raw["model_pos"], path, "model_pos"),
            "model_traj": None if traj is None else _state_dict(traj, path, "model_traj"),
            "config": None,
            "traj_config": None,
            "epoch": raw.get("epoch"),
            "extra": None,
        }
    if any(str(key).removeprefix("module.") == "expand_conv.weight" for key in raw):
        return {"format": "state_dict", "model_pos": _state_dict(raw, path, "state dict"),
                "model_traj": None, "config": None, "traj_config": None, "epoch": None, "extra": None}
    keys = ", ".join(sorted(map(str, raw))[:10])
    raise InputError(f"{path}: not a VideoPose3D lifter checkpoint (no 'model_pos'; top-level keys: {keys})")


def _config_from(values: Any, path: str | os.PathLike, name: str) -> LiftingConfig:
    if not isinstance(values, Mapping):
        raise InputError(f"{path}: project checkpoint has no '{name}' dict")
    return LiftingConfig.from_dict(values, source=f"{path} ({name})")


def _state_dict(value: Any, path: str | os.PathLike, name: str) -> "OrderedDict[str, torch.Tensor]":
    """The state dict with a DataParallel ``module.`` prefix removed; values must be tensors."""
    if not isinstance(value, Mapping):
        raise InputError(f"{path}: '{name}' is {type(value).__name__}, expected a state dict")
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, tensor in value.items():
        if not isinstance(tensor, torch.Tensor):
            raise InputError(f"{path}: '{name}' entry {key!r} is {type(tensor).__name__}, expected a tensor")
        state[str(key).removeprefix("module.")] = tensor
    return state


def infer_config(state: Mapping[str, torch.Tensor], *, causal: bool = False, dense: bool = False,
                 in_features: int | None = None, num_joints_in: int | None = None,
                 source: str = "weights") -> LiftingConfig:
    """Read the architecture from a ``TemporalModel`` state dict.

    From the shapes: channels C = ``expand_conv.weight.shape[0]``; J_in·F_in its second axis;
    filter_widths[0] its kernel size; the other widths from the kernel sizes of
    ``layers_conv.{0,2,4,…}`` (for ``dense`` weights a kernel is (F[i] - 1)·D + 1 wide, D the
    product of the earlier widths); J_out = ``shrink.weight.shape[0]`` / 3. Not in the weights:
    ``causal`` and ``dense`` (a dense file reads as a valid non-dense one with wider kernels), and
    how J_in·F_in splits: F_in = 2 (x, y) when J_in·F_in is even, else 3, unless ``in_features``
    or ``num_joints_in`` says otherwise.
    """
    for key in ("expand_conv.weight", "shrink.weight"):
        if key not in state:
            raise InputError(f"{source}: no '{key}'; not a VideoPose3D TemporalModel state dict")
    expand = state["expand_conv.weight"]
    shrink = state["shrink.weight"]
    if expand.ndim != 3 or shrink.ndim != 3:
        raise InputError(f"{source}: expand_conv.weight {tuple(expand.shape)} and shrink.weight "
                         f"{tuple(shrink.shape)} must be 3-D Conv1d weights")
    channels, in_channels, first_width = (int(n) for n in expand.shape)
    if shrink.shape[0] % 3:
        raise InputError(f"{source}: shrink.weight has {shrink.shape[0]} outputs, not a multiple of 3")
    widths = [first_width]
    dilation = first_width
    block = 0
    while f"layers_conv.{2 * block}.weight" in state:
        kernel = int(state[f"layers_conv.{2 * block}.weight"].shape[-1])
        if dense:
            if (kernel - 1) % dilation:
                raise InputError(f"{source}: layers_conv.{2 * block} kernel {kernel} does not fit a dense "
                                 f"layer after dilation {dilation}; is the file really dense?")
            width = (kernel - 1) // dilation + 1
        else:
            width = kernel
        widths.append(width)
        dilation *= width
        block += 1
    if num_joints_in is not None and in_features is None:
        in_features = in_channels // num_joints_in if in_channels % num_joints_in == 0 else None
        if in_features is None:
            raise InputError(f"{source}: expand_conv takes {in_channels} values per frame, which "
                             f"{num_joints_in} joints cannot share")
    if in_features is None:
        in_features = 2 if in_channels % 2 == 0 else 3 if in_channels % 3 == 0 else None
        if in_features is None:
            raise InputError(f"{source}: cannot split {in_channels} input values per frame into joints "
                             "of 2 or 3 features; pass in_features")
    if in_channels % in_features:
        raise InputError(f"{source}: expand_conv takes {in_channels} values per frame, not a multiple "
                         f"of in_features={in_features}")
    return LiftingConfig(num_joints_in=in_channels // in_features, in_features=in_features,
                         num_joints_out=int(shrink.shape[0]) // 3, filter_widths=tuple(widths),
                         causal=causal, channels=channels, dense=dense)


def _check_arguments(config: LiftingConfig, source: str, **given: Any) -> None:
    """One-line ``InputError`` listing every given argument that disagrees with ``config``."""
    differences = []
    for name, value in given.items():
        if value is None:
            continue
        expected = getattr(config, name)
        if name == "filter_widths":
            value = tuple(int(w) for w in value)
        if value != expected:
            differences.append(f"{name}={value!r} given but the weights have {expected!r}")
    if differences:
        raise InputError(f"{source}: the architecture does not match: " + "; ".join(differences))


def _build(config: LiftingConfig, state: Mapping[str, torch.Tensor], source: str) -> TemporalModel:
    """A ``TemporalModel`` from ``config``, loaded strictly from ``state``, eval mode, CPU float32."""
    model = TemporalModel.from_config(config)
    expected = model.state_dict()
    # Files from PyTorch < 0.4.1 have no num_batches_tracked; load_state_dict fills it in.
    missing = [k for k in expected if k not in state and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append("missing keys: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected keys: " + ", ".join(unexpected))
    if wrong:
        problems.append("shape mismatch (file vs model): " + ", ".join(wrong))
    if problems:
        raise InputError(f"{source}: weights do not fit {config}: " + "; ".join(problems))
    require_finite(state, source)
    state = OrderedDict((k, v.to(dtype=expected[k].dtype)) for k, v in state.items())
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # pragma: no cover - the checks above should catch everything
        raise InputError(f"{source}: {' '.join(str(exc).split())}") from None
    return model.eval()


def _resolve_config(checkpoint: Mapping[str, Any], key: str, source: str, filter_widths, causal,
                    channels, dense, in_features, num_joints_in) -> LiftingConfig:
    state = checkpoint["model_pos" if key == "config" else "model_traj"]
    stored = checkpoint.get(key)
    if stored is None and key == "traj_config" and checkpoint.get("config") is not None:
        stored = LiftingConfig.from_dict({**checkpoint["config"].to_dict(), "num_joints_out": 1})
    if stored is not None:
        # Project checkpoint: the stored config is the truth; arguments may only confirm it.
        _check_arguments(stored, source, filter_widths=filter_widths, channels=channels,
                         in_features=in_features, num_joints_in=num_joints_in,
                         causal=causal or None, dense=dense or None)
        return stored
    config = infer_config(state, causal=causal, dense=dense, in_features=in_features,
                          num_joints_in=num_joints_in, source=source)
    _check_arguments(config, source, filter_widths=filter_widths, channels=channels)
    return config


def load_pretrained(path: str | os.PathLike, filter_widths: Sequence[int] | None = None,
                    causal: bool = False, channels: int | None = None, dense: bool = False, *,
                    in_features: int | None = None, num_joints_in: int | None = None) -> TemporalModel:
    """The pose lifter of an official VideoPose3D ``.bin`` (its ``model_pos``) or a project
    checkpoint, as an eval-mode ``TemporalModel`` on CPU in float32.

    Args:
        path: ``pretrained_h36m_cpn.bin`` and friends, or a file from ``save_checkpoint``.
        filter_widths: optional; read from the weights, an error if it disagrees.
        causal: whether the official model was trained causal (not in the weights).
        channels: optional; read from the weights, an error if it disagrees.
        dense: whether the official file is the dense ablation (changes how kernel sizes read).
        in_features: values per input joint; needed only when J_in·F_in is ambiguous (default 2).
        num_joints_in: input joints, the other way to split J_in·F_in.

    Project checkpoints carry their config; the arguments, when given, must agree with it.

    Raises:
        MissingFileError: no file at ``path`` (the message says where the official files are).
        UnsafeFileError: the file asks to build objects off the allow-list (nothing is run).
        InputError: not a lifter checkpoint, or arguments and weights disagree (one line).
    """
    checkpoint = load_checkpoint(path)
    config = _resolve_config(checkpoint, "config", str(path), filter_widths, causal, channels, dense,
                             in_features, num_joints_in)
    return _build(config, checkpoint["model_pos"], f"{path} (model_pos)")


def load_trajectory_model(path: str | os.PathLike, filter_widths: Sequence[int] | None = None,
                          causal: bool = False, channels: int | None = None, dense: bool = False, *,
                          in_features: int | None = None,
                          num_joints_in: int | None = None) -> TemporalModel | None:
    """The trajectory model (``model_traj``, J_out = 1: root position in metres, camera frame)
    of the same file as an eval-mode ``TemporalModel``, or None when the file has none (official
    files store None unless trained semi-supervised). Arguments as in ``load_pretrained``."""
    checkpoint = load_checkpoint(path)
    if checkpoint["model_traj"] is None:
        return None
    config = _resolve_config(checkpoint, "traj_config", str(path), filter_widths, causal, channels,
                             dense, in_features, num_joints_in)
    if config.num_joints_out != 1:
        raise InputError(f"{path}: model_traj predicts {config.num_joints_out} joints, expected 1")
    return _build(config, checkpoint["model_traj"], f"{path} (model_traj)")


def save_checkpoint(path: str | os.PathLike, model: _Model, traj_model: _Model | None = None,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write a self-describing project checkpoint (config + weights) atomically.

    Args:
        path: destination, conventionally ``*.pt``.
        model: the pose lifter (either class; the weights are the same).
        traj_model: optional trajectory model (J_out = 1).
        extra: optional plain values (numbers, strings, lists, dicts, tensors) such as the epoch
            or the optimizer state; anything that ``torch.load(weights_only=True)`` can read back.

    Returns:
        The path written.
    """
    if not isinstance(model, (TemporalModel, TemporalModelOptimized1f)):
        raise InputError(f"save_checkpoint expects a TemporalModel, got {type(model).__name__}")
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": model.config.to_dict(),
        "model_pos": _cpu_state(model),
    }
    if traj_model is not None:
        if not isinstance(traj_model, (TemporalModel, TemporalModelOptimized1f)):
            raise InputError(f"save_checkpoint expects a TemporalModel as traj_model, got "
                             f"{type(traj_model).__name__}")
        payload["model_traj"] = _cpu_state(traj_model)
        payload["traj_config"] = traj_model.config.to_dict()
    if extra is not None:
        payload["extra"] = dict(extra)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _cpu_state(model: torch.nn.Module) -> "OrderedDict[str, torch.Tensor]":
    return OrderedDict((k, v.detach().to("cpu").clone()) for k, v in model.state_dict().items())


OFFICIAL_TRAINING_FPS = 50.0  # VideoPose3D's published models: Human3.6M at its native 50 fps


def training_info(path: str | os.PathLike) -> dict[str, Any]:
    """What a lifter file says about its training: ``fps`` (the input frame rate it was trained
    at, None when unknown) and ``synthetic`` (trained on synthetic mannequin data only).

    A project checkpoint records them in ``extra`` (``train_fps``, ``synthetic``) or gives the
    fps through its recipe (Human3.6M's 50 fps / ``downsample``); official VideoPose3D files were
    trained on Human3.6M at 50 fps.
    """
    from lifting.data import H36M_FPS

    checkpoint = load_checkpoint(path)
    extra = checkpoint.get("extra") if isinstance(checkpoint.get("extra"), Mapping) else {}
    fps = extra.get("train_fps")
    recipe = extra.get("train_config")
    if fps is None and isinstance(recipe, Mapping):
        fps = H36M_FPS / int(recipe.get("downsample", 1))
    if fps is None and checkpoint["format"] == "official":
        fps = OFFICIAL_TRAINING_FPS
    return {"fps": None if fps is None else float(fps), "synthetic": bool(extra.get("synthetic", False))}
