"""Moved to ``hmr.core.fastpath``; this module re-exports its names for old imports."""

from hmr.core.fastpath import (  # noqa: F401
    PRECISIONS,
    cpu_bf16_flags,
    resolve_precision,
    autocast,
    inference_copy,
    CompiledNetwork,
)

__all__ = ['PRECISIONS', 'cpu_bf16_flags', 'resolve_precision', 'autocast', 'inference_copy', 'CompiledNetwork']
