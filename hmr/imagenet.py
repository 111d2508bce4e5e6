"""Moved to ``hmr.core.imagenet``; this module re-exports its names for old imports."""

from hmr.core.imagenet import (  # noqa: F401
    IMAGENET_MEAN,
    IMAGENET_STD,
    PIXEL_MAX,
    normalize_images,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PIXEL_MAX",
    "normalize_images",
]
