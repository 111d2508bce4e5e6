"""``body_models.sequences``: the keypoints2d.npz type, readable by every package (lifting included)."""

import numpy as np
import pytest

from body_models.atomic import save_npz
from body_models.errors import InputError, MissingFileError
from body_models.sequences import (KEYPOINTS2D_SCHEMA_VERSION, REQUIRED_KEYS, SCHEMA_VERSIONS, Keypoints2D,
                                   load_keypoints2d, load_sequence_arrays, save_keypoints2d, save_sequence_arrays)


def _keypoints() -> Keypoints2D:
    kp = np.random.default_rng(0).uniform(0, 100, (3, 2, 17, 3)).astype(np.float32)
    return Keypoints2D(keypoints=kp, boxes=np.zeros((3, 2, 4), np.float32), valid=np.ones((3, 2), bool),
                       track_ids=np.array([4, 9]), joint_set="coco_17", image_size=(128, 96), fps=25.0,
                       frame_indices=np.arange(10, 13))


def test_round_trip_and_the_hmr_name_is_the_same_type(tmp_path):
    from hmr.pose2d.keypoints_io import Keypoints2D as FromHMR

    assert FromHMR is Keypoints2D
    path = save_keypoints2d(tmp_path / "keypoints2d.npz", _keypoints())
    back = load_keypoints2d(path)
    np.testing.assert_array_equal(back.keypoints, _keypoints().keypoints)
    assert back.track_ids.tolist() == [4, 9] and back.image_size == (128, 96) and back.fps == 25.0
    assert back.frame_indices.tolist() == [10, 11, 12] and back.joint_set == "coco_17"


def test_bad_files_are_one_line_errors_naming_them(tmp_path):
    with pytest.raises(MissingFileError, match="keypoints file not found"):
        load_keypoints2d(tmp_path / "absent.npz")
    path = save_keypoints2d(tmp_path / "keypoints2d.npz", _keypoints())
    arrays = dict(np.load(path))
    newer = save_npz(tmp_path / "newer.npz", **{**arrays, "schema_version": np.int64(KEYPOINTS2D_SCHEMA_VERSION + 1)})
    with pytest.raises(InputError, match=rf"{newer}.*schema_version {KEYPOINTS2D_SCHEMA_VERSION + 1}"):
        load_keypoints2d(newer)
    lacking = save_npz(tmp_path / "lacking.npz", **{k: v for k, v in arrays.items() if k != "boxes"})
    with pytest.raises(InputError, match=rf"{lacking} lacks boxes"):
        load_keypoints2d(lacking)


def test_the_pipelines_other_files_are_checked_for_version_and_keys(tmp_path):
    from body_models.sequences import SCHEMA_VERSIONS, load_sequence_arrays

    arrays = {"schema_version": np.int64(SCHEMA_VERSIONS["smpl"]), "global_orient": np.zeros((2, 1, 3)),
              "body_pose": np.zeros((2, 1, 69)), "betas": np.zeros((2, 1, 10)), "transl": np.zeros((2, 1, 3)),
              "valid": np.ones((2, 1), bool)}
    ok = save_npz(tmp_path / "smpl.npz", **arrays)
    assert set(load_sequence_arrays(ok, "smpl")) == set(arrays)
    newer = save_npz(tmp_path / "newer" / "smpl.npz", **{**arrays, "schema_version": np.int64(99)})
    with pytest.raises(InputError, match=rf"{newer} has schema_version 99; this version of hmr reads smpl.npz up to 1"):
        load_sequence_arrays(newer, "smpl")
    with pytest.raises(InputError, match=rf"{ok} lacks cam; expected a regressor.npz"):
        load_sequence_arrays(ok, "regressor")
    with pytest.raises(InputError, match="unknown sequence file kind"):
        load_sequence_arrays(ok, "mesh")


def test_a_newer_smpl_npz_is_refused_in_one_line_by_export(tmp_path, capsys):
    from hmr.cli import main

    run = tmp_path / "run"
    save_npz(run / "smpl.npz", schema_version=np.int64(99), global_orient=np.zeros((2, 1, 3)),
             body_pose=np.zeros((2, 1, 69)), betas=np.zeros((2, 1, 10)), transl=np.zeros((2, 1, 3)),
             valid=np.ones((2, 1), bool))
    assert main(["export", str(run), "--format", "bvh"]) == 2
    err = capsys.readouterr().err
    assert "schema_version 99" in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", sorted(set(REQUIRED_KEYS) - {"keypoints2d"}))
def test_every_sequence_file_round_trips_through_its_one_writer_and_reader(tmp_path, kind):
    arrays = {key: np.arange(6, dtype=np.float32).reshape(2, 3) + i for i, key in enumerate(REQUIRED_KEYS[kind])}
    path = save_sequence_arrays(tmp_path / f"{kind}.npz", kind, **arrays, extra=np.float64(1.5))
    loaded = load_sequence_arrays(path, kind)
    assert int(loaded["schema_version"]) == SCHEMA_VERSIONS[kind]
    for key, value in {**arrays, "extra": np.float64(1.5)}.items():
        np.testing.assert_array_equal(loaded[key], value)
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically
    # the writer refuses what its reader would: a file lacking a key, or a version of its own
    with pytest.raises(ValueError, match=f"a {kind}.npz needs {REQUIRED_KEYS[kind][0]}"):
        save_sequence_arrays(tmp_path / "bad.npz", kind, **{k: v for k, v in arrays.items() if k != REQUIRED_KEYS[kind][0]})
    with pytest.raises(ValueError, match="must not set schema_version"):
        save_sequence_arrays(tmp_path / "bad.npz", kind, schema_version=np.int64(7), **arrays)
    newer = save_npz(tmp_path / "newer" / f"{kind}.npz", **{**arrays, "schema_version": np.int64(SCHEMA_VERSIONS[kind] + 1)})
    with pytest.raises(InputError, match=rf"{newer} has schema_version {SCHEMA_VERSIONS[kind] + 1}; .* reads {kind}.npz"):
        load_sequence_arrays(newer, kind)


def test_only_body_models_sequences_stamps_a_pipeline_file_version():
    """One writer per file: every keypoints2d / joints3d / smpl / regressor / world .npz is written
    through save_keypoints2d or save_sequence_arrays, which stamp the version from one table."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    stamping = sorted(str(p.relative_to(root)) for package in ("body_models", "lifting", "hmr")
                      for p in (root / package).rglob("*.py") if "schema_version=np.int64(" in p.read_text())
    # hmr/synthetic/clip.py stamps the synthetic clip's ground_truth.npz, not a pipeline file
    assert stamping == ["body_models/sequences.py", "hmr/synthetic/clip.py"]
