"""Moved to ``hmr.core.weights``; this module re-exports its names for old imports."""

from hmr.core.weights import (  # noqa: F401
    OfficialFile,
    KNOWN_FILES,
    Resolved,
    config_path,
    resolve,
    require,
    Check,
    check_all,
    format_checks,
)

__all__ = ['OfficialFile', 'KNOWN_FILES', 'Resolved', 'config_path', 'resolve', 'require', 'Check', 'check_all', 'format_checks']
