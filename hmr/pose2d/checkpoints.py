"""Reading and writing HRNet weights: official ``.pth``, MMPose checkpoints, project checkpoints.

Three layouts are accepted by ``load_pretrained``:

- the official model zoo files ``pose_hrnet_w32_256x192.pth`` etc. (FORMATS.md §1.1): a bare state
  dict; a ``module.`` prefix is stripped, BN ``num_batches_tracked`` entries may be absent;
- an MMPose (mmcv) checkpoint (FORMATS.md §1.11): ``{"state_dict": ..., "meta": ...}`` with keys
  ``backbone.<official key>`` and ``keypoint_head.final_layer.*`` (``head.final_layer.*`` in
  MMPose 1.x);
- a project checkpoint written by ``save_checkpoint``: ``{"format": "hmr-video/hrnet",
  "version": 1, "config": {...}, "state_dict": ...}``.

Every file is read with ``torch.load(weights_only=True)``; a file that needs anything beyond
tensors, plain containers and numpy scalars/arrays (found in mmcv ``meta``) is refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from body_models.atomic import atomic_path
from body_models.errors import InputError
from body_models.safe_torch import load_torch_file, require_finite
from hmr.pose2d.hrnet import HRNet, HRNetConfig

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "DEMO_WEIGHTS", "load_pretrained", "save_checkpoint",
           "config_from_state_dict"]

CHECKPOINT_FORMAT = "hmr-video/hrnet"
CHECKPOINT_VERSION = 1
OFFICIAL_SOURCE = (
    "the model zoo of github.com/leoxiaobin/deep-high-resolution-net.pytorch (MIT licence), "
    "e.g. pose_hrnet_w32_256x192.pth or pose_hrnet_w48_384x288.pth"
)
# The project's demo HRNet (W16, 128x160), trained on the synthetic image world only
# (configs/pose2d/train_demo.yaml); installed with the package. It knows the mannequin, not people.
DEMO_WEIGHTS = Path(__file__).resolve().parent / "weights" / "demo_w16_128x160_coco.pt"
# Input size the official COCO models were trained at, by width (FORMATS.md §1.2).
DEFAULT_IMAGE_SIZE = {32: (192, 256), 48: (288, 384)}
_SIGMA_BY_HEIGHT = {256: 2.0, 384: 3.0}
_HEAD_PREFIXES = ("keypoint_head.final_layer.", "head.final_layer.")  # MMPose 0.x, 1.x
_SHOW = 4  # keys named in a mismatch message


def _strip_prefix(state_dict: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def _to_official_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """``module.`` stripped; MMPose ``backbone.`` / ``keypoint_head.final_layer.`` mapped."""
    state_dict = _strip_prefix(state_dict, "module.")
    if any(k.startswith("backbone.") for k in state_dict):
        mapped = {}
        for key, value in state_dict.items():
            if key.startswith("backbone."):
                key = key[len("backbone."):]
            else:
                for head in _HEAD_PREFIXES:
                    if key.startswith(head):
                        key = "final_layer." + key[len(head):]
                        break
            mapped[key] = value
        state_dict = mapped
    return state_dict


def _count_indices(state_dict: Mapping[str, Any], pattern: str) -> int:
    regex = re.compile(pattern)
    found = {int(m.group(1)) for k in state_dict if (m := regex.match(k))}
    return max(found) + 1 if found else 0


def config_from_state_dict(
    state_dict: Mapping[str, torch.Tensor], image_size: tuple[int, int] | None = None, source: str = "weights"
) -> HRNetConfig:
    """Read width, joint count, head kernel and stage depths from official-layout weights.

    Args:
        state_dict: official keys (see ``_to_official_keys``).
        image_size: (width, height) pixels; not stored in the weights, so defaults to 192×256 for
            W32 (and any width but 48) and 288×384 for W48, the official COCO training sizes.
    """
    for key in ("transition1.0.0.weight", "final_layer.weight"):
        if key not in state_dict or not isinstance(state_dict[key], torch.Tensor):
            raise InputError(f"{source}: not HRNet pose weights, key {key!r} is missing")
    width = int(state_dict["transition1.0.0.weight"].shape[0])
    final = state_dict["final_layer.weight"]
    if final.ndim != 4 or final.shape[2] != final.shape[3]:
        raise InputError(f"{source}: final_layer.weight has shape {tuple(final.shape)}, expected (J, C, k, k)")
    num_modules = tuple(_count_indices(state_dict, rf"stage{s}\.(\d+)\.") for s in (2, 3, 4))
    num_blocks = tuple(_count_indices(state_dict, rf"stage{s}\.0\.branches\.0\.(\d+)\.") for s in (2, 3, 4))
    if min(num_modules) == 0 or min(num_blocks) == 0:
        raise InputError(f"{source}: not HRNet pose weights, stage2..stage4 modules are missing")
    if image_size is None:
        image_size = DEFAULT_IMAGE_SIZE.get(width, DEFAULT_IMAGE_SIZE[32])
    return HRNetConfig(
        width=width,
        num_joints=int(final.shape[0]),
        image_size=tuple(image_size),
        sigma=_SIGMA_BY_HEIGHT.get(int(image_size[1]), 2.0),
        final_conv_kernel=int(final.shape[2]),
        num_modules=num_modules,
        num_blocks=num_blocks,
    )


def _load_strict(model: HRNet, state_dict: Mapping[str, Any], source: str) -> None:
    """``load_state_dict(strict=True)`` with one readable line when keys or shapes differ."""
    expected = model.state_dict()
    given = dict(state_dict)
    for key in expected:  # written by PyTorch >= 0.4.1 only (FORMATS.md §1.1)
        if key.endswith(".num_batches_tracked") and key not in given:
            given[key] = torch.zeros((), dtype=torch.long)
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    not_tensors = [k for k in expected if k in given and not isinstance(given[k], torch.Tensor)]
    wrong = [
        f"{k} {tuple(given[k].shape)} vs {tuple(expected[k].shape)}"
        for k in expected
        if k in given and k not in not_tensors and given[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong or not_tensors:

        def listing(label: str, keys: list[str]) -> str:
            more = f", ... (+{len(keys) - _SHOW})" if len(keys) > _SHOW else ""
            return f"{len(keys)} {label} ({', '.join(keys[:_SHOW])}{more})"

        parts = [
            listing(label, keys)
            for label, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches", wrong),
                ("non-tensor values", not_tensors),
            )
            if keys
        ]
        raise InputError(f"{source}: weights do not fit HRNet(width={model.config.width}, "
                         f"num_joints={model.config.num_joints}): " + "; ".join(parts))
    model.load_state_dict(given, strict=True)


def load_pretrained(path: str | os.PathLike, image_size: tuple[int, int] | None = None) -> HRNet:
    """An eval-mode ``HRNet`` from an official ``.pth``, an MMPose checkpoint or a project checkpoint.

    Args:
        path: the weights file.
        image_size: network input (width, height) in pixels. The official and MMPose files do not
            store it: the default is 192×256 for W32 and 288×384 for W48. A project checkpoint
            stores it; passing it here overrides the stored value.

    Returns:
        ``HRNet`` in eval mode on CPU, float32. Forward (B, 3, H, W) → heatmaps (B, J, H/4, W/4).

    Raises:
        MissingFileError: no file at ``path``.
        UnsafeFileError: the file needs more than ``torch.load(weights_only=True)`` allows.
        InputError: the file is not HRNet weights, or keys/shapes do not match.
    """
    path = Path(path)
    source = str(path)
    data = load_torch_file(path, "HRNet weights", f"download them from {OFFICIAL_SOURCE}")
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a state dict or checkpoint dict, got {type(data).__name__}")

    if "format" in data:
        if data.get("format") != CHECKPOINT_FORMAT:
            raise InputError(f"{source}: checkpoint format {data.get('format')!r} is not {CHECKPOINT_FORMAT!r}")
        if data.get("version") != CHECKPOINT_VERSION:
            raise InputError(
                f"{source}: HRNet checkpoint version {data.get('version')!r} is not supported "
                f"(this version reads {CHECKPOINT_VERSION})"
            )
        values = dict(data.get("config") or {})
        if image_size is not None:
            values["image_size"] = tuple(image_size)
            values.pop("heatmap_size", None)
        config = HRNetConfig.from_dict(values, source=f"{source} config")
        state_dict = data.get("state_dict")
        if not isinstance(state_dict, Mapping):
            raise InputError(f"{source}: project checkpoint has no state_dict")
    else:
        # An mmcv / training checkpoint keeps the weights under "state_dict"; an official file is one.
        state_dict = data["state_dict"] if isinstance(data.get("state_dict"), Mapping) else data
        state_dict = _to_official_keys(state_dict)
        config = config_from_state_dict(state_dict, image_size=image_size, source=source)

    model = HRNet(config)
    require_finite(state_dict, source)
    _load_strict(model, state_dict, source)
    return model.eval()


def save_checkpoint(path: str | os.PathLike, model: HRNet) -> Path:
    """Write ``model`` as a project checkpoint (config + state dict), atomically.

    ``load_pretrained(path)`` rebuilds the same model without further arguments.
    """
    if not isinstance(model, HRNet):
        raise TypeError(f"save_checkpoint expects an HRNet, got {type(model).__name__}")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)
