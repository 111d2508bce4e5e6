"""What every pipeline stage shares: its frozen settings, the run context, and the stage cache.

A stage is a frozen dataclass of the settings it reads (a subclass of ``StageSettings``) with a
``run(out_dir, ctx, **inputs)`` method that writes its files and returns them by role:

    settings = FitSettings.from_options(options)          # the fields it has, picked by name
    outputs = settings.run(out_dir, ctx, keypoints=path, regressor=None, joints3d=None)

``ctx`` (``RunContext``) is built once per run: the device, the precision, the progress reporter
and the run record. ``StageRunner`` runs a stage unless its cached outputs are still fresh. The
cache key is not a hand-kept list: it is every field of the settings, the context fields the
stage declares it uses (``uses_device``, ``uses_precision``), and the content of every input
file and of every file or folder a setting names (weights, priors, body model files).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import torch

from body_models.atomic import write_json
from body_models.progress import Progress, no_progress
from hmr.core.provenance import RunRecord, file_sha256

__all__ = [
    "BodySettings",
    "CACHE_DIR",
    "CameraSettings",
    "RunContext",
    "Settings",
    "StageCache",
    "StageRunner",
    "StageSettings",
    "content_digest",
]

CACHE_DIR = ".stages"


@dataclass(frozen=True)
class RunContext:
    """What every stage of one run shares.

    Attributes:
        device: where the stages that can use a device run ("cpu", "cuda", ...).
        precision: "fp32" or "bf16" (already resolved from "auto"), for the networks.
        progress: a ``body_models.progress.Progress`` reporter, called as ``(stage, done, total)``.
        record: the run's ``RunRecord`` (``run.json``); stages add their notes to it.
    """

    device: str = "cpu"
    precision: str = "fp32"
    progress: Progress = no_progress
    record: RunRecord | None = None


@dataclass(frozen=True)
class Settings:
    """A frozen group of settings that can be picked by field name from a wider options object."""

    @classmethod
    def from_options(cls, options, **values):
        """The settings picked by field name from ``options`` (e.g. ``PipelineOptions``);
        ``values`` give or override fields."""
        picked = {f.name: getattr(options, f.name) for f in fields(cls) if f.name not in values}
        return cls(**picked, **values)


@dataclass(frozen=True)
class StageSettings(Settings):
    """Base of the stages' settings. Subclasses are frozen dataclasses named by ``name`` whose
    fields are exactly what the stage reads, and implement ``run``."""

    name: ClassVar[str] = ""
    uses_device: ClassVar[bool] = False
    uses_precision: ClassVar[bool] = False

    def run(self, out_dir: Path, ctx: RunContext, **inputs) -> dict[str, Path]:
        raise NotImplementedError(f"{type(self).__name__}.run")

    def compute(self, ctx: RunContext, inputs: dict) -> dict:
        """Where the stage runs and in which precision, for ``run.json``'s ``compute``."""
        return {"device": str(ctx.device) if self.uses_device else "cpu",
                "precision": ctx.precision if self.uses_precision else "fp32"}

    def key(self, ctx: RunContext) -> dict:
        """What the outputs depend on besides file contents: every setting, the precision where
        the stage uses it, and the device's type where the stage runs on one that is not the
        CPU (a GPU rounds differently; on the CPU the key stays as it was before stages took a
        device)."""
        key = {"stage": self.name, **{f.name: getattr(self, f.name) for f in fields(self)}}
        if self.uses_precision:
            key["precision"] = ctx.precision
        kind = torch.device(ctx.device).type
        if self.uses_device and kind != "cpu":
            key["device"] = kind
        return key

    def named_files(self) -> list[Path]:
        """The files and folders the settings name (weights, a prior, a body model folder...)."""
        found = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (str, os.PathLike)) and str(value) and os.path.exists(value):
                found.append(Path(value))
        return found

    def fingerprint(self, ctx: RunContext, inputs: dict) -> str:
        """A digest of ``key`` and of the content of every input and named file."""
        digest = hashlib.sha256(json.dumps(self.key(ctx), sort_keys=True, default=str).encode())
        for role in sorted(inputs):
            path = inputs[role]
            present = path is not None and Path(path).exists()
            digest.update(f"{role}=".encode() + (content_digest(path).encode() if present else b"-"))
        for path in self.named_files():
            digest.update(content_digest(path).encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class CameraSettings(Settings):
    """The full image's camera, for the stages that project: a calibration file, else a focal
    length in pixels, else a horizontal field of view in degrees, else the image diagonal."""

    focal_length: float | None = None
    fov: float | None = None
    calibration: Path | None = None

    def intrinsics(self, image_size: tuple[int, int]):
        """``hmr.core.intrinsics.Intrinsics`` for an image of (width, height) pixels."""
        from hmr.core.intrinsics import resolve_intrinsics

        return resolve_intrinsics(image_size, focal_length=self.focal_length, fov_deg=self.fov,
                                  calibration=self.calibration)


@dataclass(frozen=True)
class BodySettings(Settings):
    """The body model of the stages that pose it: "mannequin" or an SMPL file or folder."""

    body_model: str = "mannequin"
    gender: str = "neutral"

    def body(self):
        from body_models.smpl import load_smpl

        return load_smpl(self.body_model, gender=self.gender)


class StageCache:
    """Fingerprints of finished stages, kept in ``out_dir/.stages``."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = Path(out_dir) / CACHE_DIR

    def fresh(self, stage: str, fingerprint: str) -> tuple[dict[str, Path], float, dict] | None:
        """The stage's recorded outputs, the seconds it took and where it ran (``store``'s
        ``compute``, {} when not recorded), if it finished with this fingerprint and every
        output is still there with the content it was written with (a file truncated or edited
        since is recomputed)."""
        path = self.dir / f"{stage}.json"
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
            outputs = {k: Path(v) for k, v in record["outputs"].items()}
            digests = record["digests"]
            seconds = float(record.get("seconds", 0.0))
            compute = dict(record.get("compute") or {})
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            return None
        if record.get("fingerprint") != fingerprint:
            return None
        for role, output in outputs.items():
            if not output.exists() or digests.get(role) != content_digest(output):
                return None
        return outputs, seconds, compute

    def store(self, stage: str, fingerprint: str, outputs: dict[str, Path], seconds: float,
              compute: dict | None = None) -> None:
        """Record a finished stage; ``compute`` is where it ran ({"device": ..., "precision": ...})."""
        write_json(self.dir / f"{stage}.json",
                   {"fingerprint": fingerprint, "outputs": {k: str(v) for k, v in outputs.items()},
                    "digests": {k: content_digest(v) for k, v in outputs.items()}, "seconds": seconds,
                    "compute": compute or {}})

    def forget(self, stage: str) -> None:
        (self.dir / f"{stage}.json").unlink(missing_ok=True)


def content_digest(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, recursively)."""
    path = Path(path)
    if not path.is_dir():
        return file_sha256(path)
    digest = hashlib.sha256()
    for child in sorted(path.rglob("*")):
        if child.is_file() and ".tmp" not in child.name:
            digest.update(str(child.relative_to(path)).encode() + file_sha256(child).encode())
    return digest.hexdigest()


@dataclass
class StageRunner:
    """Runs stages in one output folder, each unless its cached outputs are still fresh, and
    keeps what they wrote, how long they took (in the run that computed them), which came from
    the cache, and where each ran (``ctx.record.data["compute"]``)."""

    out_dir: Path
    ctx: RunContext
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cache = StageCache(self.out_dir)
        self.computed_on = self.ctx.record.data.setdefault("compute", {}) if self.ctx.record is not None else {}

    def __call__(self, settings: StageSettings, **inputs) -> dict[str, Path]:
        stage = settings.name
        compute = settings.compute(self.ctx, inputs)
        fingerprint = settings.fingerprint(self.ctx, inputs)
        cached = self.cache.fresh(stage, fingerprint)
        if cached is not None:
            outputs, seconds, stored = cached
            self.cached.append(stage)
            self.seconds[stage] = seconds
            # where the run that computed it ran (the key need not hold the device)
            self.computed_on[stage] = {**compute, **{k: stored[k] for k in ("device", "precision") if k in stored}}
        else:
            self.cache.forget(stage)
            start = time.perf_counter()
            outputs = settings.run(self.out_dir, self.ctx, **inputs)
            self.seconds[stage] = round(time.perf_counter() - start, 3)
            self.cache.store(stage, fingerprint, outputs, self.seconds[stage],
                             {k: compute[k] for k in ("device", "precision")})
            self.computed_on[stage] = compute
        self.outputs.update(outputs)
        return outputs

