"""Moved to ``hmr.core.provenance``; this module re-exports its names for old imports."""

from hmr.core.provenance import (  # noqa: F401
    RunRecord,
    file_sha256,
    versions,
)

__all__ = [
    "RunRecord",
    "file_sha256",
    "versions",
]
