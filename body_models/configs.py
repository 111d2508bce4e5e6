"""The one reader of config presets: YAML files in ``configs/`` into frozen dataclasses.

An unknown key is an error that names the key, so a typo never becomes a silently ignored
setting. Lists become tuples, the form the frozen config dataclasses hold.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, TypeVar

from body_models.errors import InputError, MissingFileError

T = TypeVar("T")


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """The top-level mapping of a YAML file (``yaml.safe_load``; an empty file gives ``{}``)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"config file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InputError(f"{path}: expected a mapping of settings, got {type(values).__name__}")
    return values


def config_from_dict(cls: type[T], values: Mapping[str, Any], source: str = "config") -> T:
    """``cls(**values)`` for a config dataclass; an unknown key is an ``InputError`` naming it."""
    if not isinstance(values, Mapping):
        raise InputError(f"{source}: expected a mapping of {cls.__name__} settings, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise InputError(f"{source}: unknown {cls.__name__} key {key!r}; known keys: {', '.join(sorted(known))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def config_from_yaml(cls: type[T], path: str | os.PathLike) -> T:
    """Read a preset such as ``configs/lifting/pretrained_h36m_cpn.yaml`` into ``cls``."""
    return config_from_dict(cls, read_yaml(path), source=str(path))
