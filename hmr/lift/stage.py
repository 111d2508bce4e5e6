"""The lift stage: every tracked person's 2D keypoints → VideoPose3D → ``joints3d.npz`` and
``joints3d.json`` (``lifting.inference``), smoothed in time when asked (``hmr.world.smoothing``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from hmr.core.stages import RunContext, StageSettings

__all__ = ["LiftSettings"]


@dataclass(frozen=True)
class LiftSettings(StageSettings):
    """Attributes:
        lifter_weights: a VideoPose3D checkpoint taking COCO-17 (None: the shipped demo lifter).
        flip: the lifter's flip test.
        smooth: "none", "one-euro" or "temporal" smoothing of the 3D joints over time.
    """

    name: ClassVar[str] = "lift"
    uses_precision: ClassVar[bool] = True

    lifter_weights: Path | None = None
    flip: bool = True
    smooth: str = "none"

    def run(self, out_dir: Path, ctx: RunContext, keypoints: Path) -> dict[str, Path]:
        from lifting.inference import lift_keypoints_file

        written = lift_keypoints_file(keypoints, self.lifter_weights, out_dir, flip=self.flip,
                                      precision=ctx.precision)
        if self.smooth != "none":
            from hmr.world.smoothing import smooth_joints3d_file

            smooth_joints3d_file(written["npz"], self.smooth)
        return {"joints3d": written["npz"], "joints3d_json": written["json"]}
