"""Moved to ``hmr.regressor.discriminator``; this module re-exports its names for old imports."""

from hmr.regressor.discriminator import (  # noqa: F401
    Discriminator,
    DiscriminatorConfig,
    adversarial_loss,
    discriminator_loss,
)

__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "adversarial_loss",
    "discriminator_loss",
]
