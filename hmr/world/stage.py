"""The world stage: the fitted people in a gravity-aligned world frame (``hmr.world.world``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from hmr.core.stages import BodySettings, RunContext, StageSettings

__all__ = ["WorldSettings"]


@dataclass(frozen=True)
class WorldSettings(BodySettings, StageSettings):
    """Attributes:
        refine_contacts: pin the contact feet (removes foot sliding, can add drift).
    """

    name: ClassVar[str] = "world"

    refine_contacts: bool = False

    def run(self, out_dir: Path, ctx: RunContext, smpl: Path) -> dict[str, Path]:
        """``world.npz``; an ``InputError`` when no floor can be found."""
        from hmr.world.world import make_world

        return {"world": make_world(smpl, self.body(), Path(out_dir) / "world.npz", refine=self.refine_contacts)}
