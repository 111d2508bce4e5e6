"""Moved to ``hmr.core.fastpath``; this module re-exports its names for old imports."""

from hmr.core.fastpath import (  # noqa: F401
    CompiledNetwork,
    PRECISIONS,
    autocast,
    cpu_bf16_flags,
    inference_copy,
    resolve_precision,
)

__all__ = [
    "CompiledNetwork",
    "PRECISIONS",
    "autocast",
    "cpu_bf16_flags",
    "inference_copy",
    "resolve_precision",
]
