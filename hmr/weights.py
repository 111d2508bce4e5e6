"""Moved to ``hmr.core.weights``; this module re-exports its names for old imports."""

from hmr.core.weights import (  # noqa: F401
    Check,
    KNOWN_FILES,
    OfficialFile,
    Resolved,
    check_all,
    config_path,
    format_checks,
    require,
    resolve,
)

__all__ = [
    "Check",
    "KNOWN_FILES",
    "OfficialFile",
    "Resolved",
    "check_all",
    "config_path",
    "format_checks",
    "require",
    "resolve",
]
