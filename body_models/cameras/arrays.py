"""What the camera helpers share: numpy or torch in, the same array type out, and shape checks."""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

from body_models.errors import InputError

ArrayLike = Union[np.ndarray, torch.Tensor]


def _like(value, ref: ArrayLike) -> ArrayLike:
    """`value` as the array type of `ref` (torch: same dtype and device; numpy: float dtype)."""
    if isinstance(ref, torch.Tensor):
        return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
    dtype = ref.dtype if np.issubdtype(ref.dtype, np.floating) else np.float64
    return np.asarray(value, dtype=dtype)


def _as_float_array(x) -> ArrayLike:
    if isinstance(x, torch.Tensor):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _stack_last(items: Sequence[ArrayLike], ref: ArrayLike) -> ArrayLike:
    """Broadcast `items` to one shape and stack them along a new last axis."""
    if isinstance(ref, torch.Tensor):
        return torch.stack(torch.broadcast_tensors(*items), dim=-1)
    return np.stack(np.broadcast_arrays(*items), axis=-1)


def _check_last(x: ArrayLike, size: int, name: str, expected: str, min_ndim: int = 1) -> None:
    if x.ndim < min_ndim or x.shape[-1] != size:
        raise InputError(f"{name} must have shape {expected}; got {tuple(x.shape)}")
