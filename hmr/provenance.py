"""Moved to ``hmr.core.provenance``; this module re-exports its names for old imports."""

from hmr.core.provenance import (  # noqa: F401
    file_sha256,
    versions,
    RunRecord,
)

__all__ = ['file_sha256', 'versions', 'RunRecord']
