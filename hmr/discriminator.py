"""Moved to ``hmr.regressor.discriminator``; this module re-exports its names for old imports."""

from hmr.regressor.discriminator import (  # noqa: F401
    DiscriminatorConfig,
    Discriminator,
    discriminator_loss,
    adversarial_loss,
)

__all__ = ['DiscriminatorConfig', 'Discriminator', 'discriminator_loss', 'adversarial_loss']
