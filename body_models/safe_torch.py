"""Loading torch checkpoints without running code from them.

Every checkpoint the project reads (HRNet ``.pth``, VideoPose3D ``.bin``, SPIN
``model_checkpoint.pt``, our own) goes through ``load_torch_file``: ``torch.load`` with
``weights_only=True`` and one allow-list of the numpy objects that published checkpoints carry
beside their tensors (arrays such as SPIN's ``dataset_perm``, scalars, dtypes, and the numpy
``RandomState`` in VideoPose3D's ``random_state``). Anything else in a file is refused before it
can run.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from body_models.errors import InputError, MissingFileError, UnsafeFileError

# What torch's weights-only unpickler says when a file asks for something off the allow-list.
_REFUSAL = re.compile(r"Unsupported global|GLOBAL|Trying to call reduce|Can only build|Can only create|blocked")


def _legacy_randomstate_ctor() -> np.random.RandomState:
    """What numpy < 1.17 pickles name ``numpy.random.__RandomState_ctor``: a fresh RandomState
    whose state the pickle then sets (the published VideoPose3D files were written that way)."""
    return np.random.RandomState(0)


def numpy_allow_list() -> list[Any]:
    """The numpy objects a checkpoint may contain, as ``torch.serialization.safe_globals`` takes
    them (an object, or (object, name in the file) where numpy 1.x and 2.x name it differently)."""
    from numpy.random import _pickle as random_pickle

    try:
        from numpy._core import multiarray  # numpy 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    items: list[Any] = [np.ndarray, np.dtype]
    for prefix in ("numpy.core", "numpy._core"):
        items.append((multiarray._reconstruct, f"{prefix}.multiarray._reconstruct"))
        items.append((multiarray.scalar, f"{prefix}.multiarray.scalar"))
    items.extend(type(np.dtype(name)) for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64"))
    items.extend([
        (np.random.RandomState, "numpy.random.mtrand.RandomState"),
        (np.random.MT19937, "numpy.random._mt19937.MT19937"),
        (getattr(random_pickle, "__randomstate_ctor"), "numpy.random._pickle.__randomstate_ctor"),
        (getattr(random_pickle, "__bit_generator_ctor"), "numpy.random._pickle.__bit_generator_ctor"),
        (_legacy_randomstate_ctor, "numpy.random.__RandomState_ctor"),
    ])
    return items


def _reason(message: str) -> str:
    """The one useful sentence of torch's multi-line weights-only error."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return f"it names {found.group(1)}, which is not on the allow-list"
    if "WeightsUnpickler error:" in message:
        detail = message.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
        return " ".join(detail.split())[:300] or "unsupported content"
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "unsupported content"


def load_torch_file(path: str | os.PathLike, what: str, source_hint: str) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, with the numpy allow-list.

    Args:
        path: the checkpoint.
        what: what the file should be, for messages ("HRNet weights", "lifter weights", ...).
        source_hint: where the official file comes from, said when it is missing.

    Raises:
        MissingFileError: no such file.
        UnsafeFileError: the file asks for an object off the allow-list (nothing of it ran).
        InputError: the file is not a readable torch checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{what} not found: {path}; {source_hint}")
    try:
        with torch.serialization.safe_globals(numpy_allow_list()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _reason(str(exc))
        if _REFUSAL.search(str(exc)):
            raise UnsafeFileError(
                f"{path}: refused to load {what}: {reason}; only tensors, plain containers and numpy "
                "arrays are read, and nothing in the file was run") from None
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({reason})") from None
    except (RuntimeError, EOFError, OSError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {reason})") from None


def require_finite(state: Any, source: str | os.PathLike) -> None:
    """Refuse weights holding NaN or infinity (a diverged training run): every prediction would be
    NaN, or garbage where a layer happens to mask it.

    Args:
        state: a state dict (name → tensor).
        source: the file, for the message.

    Raises:
        InputError: naming the first non-finite tensor.
    """
    for name, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            raise InputError(f"{source}: weights {name!r} hold {bad} NaN or infinite values (a diverged training "
                             "run?); use a checkpoint from before it diverged")
