"""What a run records about itself in ``run.json``: versions, arguments, file hashes, timings."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator

from body_models.atomic import memo_key, write_json

__all__ = [
    "RunRecord",
    "file_sha256",
    "versions",
]


_DIGESTS: dict[tuple, str] = {}
"""file_sha256's memo, by ``body_models.atomic.memo_key``."""


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (weights can be hundreds of MB). A run hashes its
    weights for the stage cache and again for ``run.json``: a large file unchanged since this
    process hashed it (``body_models.atomic.memo_key``) is not read again."""
    key = memo_key(path)
    if key is not None and key in _DIGESTS:
        return _DIGESTS[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    if key is not None:
        _DIGESTS[key] = digest.hexdigest()
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that change numbers."""
    out = {"python": platform.python_version()}
    for dist in ("hmr-video", "torch", "smplx", "numpy", "scipy", "trimesh"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


class RunRecord:
    """Collects what ``run.json`` holds, then writes it atomically."""

    def __init__(self, command: str, arguments: dict) -> None:
        self.data = {"command": command, "argv": sys.argv, "arguments": arguments,
                     "versions": versions(), "files": {}, "timings_s": {}}

    def add_file(self, role: str, path: str | os.PathLike) -> None:
        path = Path(path)
        self.data["files"][role] = {"path": str(path.resolve()), "sha256": file_sha256(path)}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.data["timings_s"][name] = round(time.perf_counter() - start, 4)

    def save(self, path: str | os.PathLike) -> Path:
        return write_json(path, self.data)
