"""The pipeline's stages: settings picked from the options, and cache keys that follow them."""

import dataclasses

import pytest

from hmr.core.stages import RunContext
from hmr.io.stages import MeshesSettings, OverlaySettings
from hmr.lift.stage import LiftSettings
from hmr.pipeline import PipelineOptions
from hmr.pose2d.stage import KeypointsSettings
from hmr.regressor.stage import RegressSettings
from hmr.smplify.stage import FitSettings
from hmr.world.stage import WorldSettings

STAGES = (KeypointsSettings, LiftSettings, RegressSettings, FitSettings, MeshesSettings, OverlaySettings,
          WorldSettings)
RUN_LEVEL = {"device", "precision", "meshes", "overlay", "world", "export", "orient_from_lifter"}
"""Options that run_pipeline reads itself: the run context, and which stages run with which inputs."""


def test_every_option_reaches_a_stage_or_the_run_and_every_setting_is_an_option():
    options = {f.name for f in dataclasses.fields(PipelineOptions)}
    settings = {f.name for stage in STAGES for f in dataclasses.fields(stage)}
    assert settings <= options, f"stage settings that PipelineOptions lacks: {settings - options}"
    assert options - settings == RUN_LEVEL, f"options no stage reads: {options - settings - RUN_LEVEL}"


def test_settings_are_picked_by_name_and_frozen():
    options = PipelineOptions(flip=False, temporal_weight=2.0, batch_size=4)
    assert LiftSettings.from_options(options).flip is False
    assert FitSettings.from_options(options).temporal_weight == 2.0
    assert RegressSettings.from_options(options, batch_size=8).batch_size == 8  # overridden
    with pytest.raises(dataclasses.FrozenInstanceError):
        FitSettings().temporal_weight = 1.0
    assert len({stage.name for stage in STAGES}) == len(STAGES)


def test_the_fingerprint_follows_every_setting_and_the_content_of_every_file(tmp_path):
    ctx = RunContext()
    keypoints = tmp_path / "keypoints2d.npz"
    keypoints.write_bytes(b"one")
    weights = tmp_path / "lifter.bin"
    weights.write_bytes(b"weights")
    base = LiftSettings(lifter_weights=weights)
    key = base.fingerprint(ctx, {"keypoints": keypoints})
    assert base.fingerprint(ctx, {"keypoints": keypoints}) == key
    for changed in (dataclasses.replace(base, flip=False), dataclasses.replace(base, smooth="one-euro")):
        assert changed.fingerprint(ctx, {"keypoints": keypoints}) != key, changed
    assert base.fingerprint(RunContext(precision="bf16"), {"keypoints": keypoints}) != key  # the lifter uses it
    assert base.fingerprint(RunContext(device="cuda"), {"keypoints": keypoints}) == key  # it runs on the CPU
    weights.write_bytes(b"other weights")  # same path, new content: a new key
    assert base.fingerprint(ctx, {"keypoints": keypoints}) != key
    weights.write_bytes(b"weights")
    keypoints.write_bytes(b"two")
    assert base.fingerprint(ctx, {"keypoints": keypoints}) != key
    keypoints.write_bytes(b"one")
    assert base.fingerprint(ctx, {"keypoints": keypoints}) == key
    assert base.fingerprint(ctx, {"keypoints": keypoints, "extra": None}) != key  # inputs are named


def test_a_body_model_folder_named_by_a_setting_is_part_of_the_key(tmp_path):
    folder = tmp_path / "smpl"
    folder.mkdir()
    (folder / "SMPL_NEUTRAL.pkl").write_bytes(b"a")
    meshes = MeshesSettings(body_model=str(folder))
    key = meshes.fingerprint(RunContext(), {"smpl": None})
    (folder / "SMPL_NEUTRAL.pkl").write_bytes(b"b")
    assert meshes.fingerprint(RunContext(), {"smpl": None}) != key
    assert MeshesSettings().named_files() == []  # "mannequin" names no file


def test_large_files_are_hashed_once_per_state(tmp_path, monkeypatch):
    """Weights are hashed for the stage cache and for run.json: the second time comes from the
    memo, until the file changes; small files are hashed every time."""
    import builtins
    import hashlib
    import os

    from body_models.atomic import MEMO_MIN_BYTES
    from hmr.core import provenance

    big, small = tmp_path / "weights.bin", tmp_path / "small.npz"
    big.write_bytes(b"a" * MEMO_MIN_BYTES)
    small.write_bytes(b"small")
    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    first = provenance.file_sha256(big)
    assert provenance.file_sha256(big) == first == hashlib.sha256(big.read_bytes()).hexdigest()
    provenance.file_sha256(small), provenance.file_sha256(small)
    assert opened.count(str(big)) == 1 and opened.count(str(small)) == 2
    big.write_bytes(b"b" * MEMO_MIN_BYTES)  # same size, new content
    stat = big.stat()
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # whatever the clock's tick
    assert provenance.file_sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest() != first
