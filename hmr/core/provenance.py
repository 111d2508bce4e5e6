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

from body_models.atomic import write_json

__all__ = [
    "MEMO_MIN_BYTES",
    "RunRecord",
    "file_sha256",
    "versions",
]


_DIGESTS: dict[tuple[str, int, int, int], str] = {}
"""file_sha256's memo: (resolved path, inode, size, mtime in ns) → digest, for this process."""
MEMO_MIN_BYTES = 8 << 20
"""Files from this size on are hashed once per process and state (weights); smaller ones every
time, since a small file rewritten with the same size within one tick of the file system's
clock would keep its modification time."""


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (weights can be hundreds of MB). A run hashes its
    weights for the stage cache and again for ``run.json``; a file whose size and modification
    time (in nanoseconds) are unchanged since this process last hashed it is not read again
    (``MEMO_MIN_BYTES`` and up)."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    if stat.st_size >= MEMO_MIN_BYTES:
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
