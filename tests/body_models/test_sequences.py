"""``body_models.sequences``: one frozen type per pipeline file, readable by every package (lifting
included), each with one save and one load that check version, keys, shapes and dtypes."""

import dataclasses

import numpy as np
import pytest

from body_models.atomic import save_npz
from body_models.errors import InputError, MissingFileError
from body_models.sequences import (KEYPOINTS2D_SCHEMA_VERSION, REQUIRED_KEYS, SCHEMA_VERSIONS, Joints3D, Keypoints2D,
                                   RegressorEstimates, SMPLSequence, WorldSequence, load_keypoints2d,
                                   load_sequence_arrays, save_keypoints2d, save_sequence_arrays)


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
    with pytest.raises(MissingFileError, match=r"absent.npz not found; expected a keypoints2d.npz"):
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
    through save_sequence_arrays (body_models.sequence_fields, under the types of
    body_models.sequences), which stamps the version from one table."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    stamping = sorted(str(p.relative_to(root)) for package in ("body_models", "lifting", "hmr")
                      for p in (root / package).rglob("*.py") if "schema_version=np.int64(" in p.read_text())
    # hmr/synthetic/clip.py stamps the synthetic clip's ground_truth.npz, not a pipeline file
    assert stamping == ["body_models/sequence_fields.py", "hmr/synthetic/clip.py"]


# ---------------------------------------------------------------------------------------------
# the typed files: every field round-trips, and every bad file is a one-line error naming it

T, P = 3, 2


def _examples() -> dict[type, object]:
    """One of each file type with every field set (NaN where a person is missing)."""
    rng = np.random.default_rng(1)

    def values(*shape):
        out = rng.normal(0, 1, (T, P, *shape)).astype(np.float32)
        out[1, 1] = np.nan
        return out

    valid = np.ones((T, P), bool)
    valid[1, 1] = False
    per_person = dict(valid=valid, track_ids=np.array([4, 9]), frame_indices=np.arange(10, 10 + T))
    smpl = dict(global_orient=values(3), body_pose=values(69), betas=values(10), transl=values(3), valid=valid)
    return {
        Keypoints2D: _keypoints(),
        Joints3D: Joints3D(joints=values(17, 3), valid=valid, trajectory=values(3), fps=25.0, input_layout="coco",
                           weights="lifter.pt"),
        SMPLSequence: SMPLSequence(
            **smpl, cam=values(3), joints=values(24, 3), fitted=valid.copy(), valid_fit=valid & [True, False],
            betas_zeroed=np.zeros((T, P), bool), reprojection_loss=values(), crop_boxes=values(4),
            over_threshold=np.array([[10, 9]]), focal_length=800.0, principal_point=np.array([320.0, 240.5]),
            image_size=(640, 480), fps=25.0, body_model="mannequin", keypoints_joint_set="coco_17",
            betas_per="track", smoothing="temporal", **{k: v for k, v in per_person.items() if k != "valid"}),
        RegressorEstimates: RegressorEstimates(**smpl, cam=values(3), focal_length=800.0),
        WorldSequence: WorldSequence(
            global_orient=values(3), transl=values(3), transl_unrefined=values(3), transl_refined=values(3),
            joints=values(24, 3), joints_unrefined=values(24, 3), joints_refined=values(24, 3),
            contacts=values(2) > 0, contact_names=np.array(["left_foot", "right_foot"]), refined=True,
            camera_rotation=np.eye(3), camera_position=np.array([0.0, 1.5, -4.0]),
            ground_plane=np.array([0.0, -1.0, 0.1, 1.5]), ground_inliers=120, fps=25.0, **per_person),
    }


TYPES = list(_examples())


def _assert_same(a, b) -> None:
    assert type(a) is type(b)
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=field.name)
        else:
            assert x == y and type(x) is type(y), field.name


@pytest.mark.parametrize("kind", TYPES, ids=lambda cls: cls.__name__)
def test_every_type_round_trips_through_its_save_and_load(tmp_path, kind):
    original = _examples()[kind]
    path = original.save(tmp_path / f"{kind.KIND}.npz")
    back = kind.load(path)
    _assert_same(back, original)
    stored = dict(np.load(path, allow_pickle=False))
    assert int(stored.pop("schema_version")) == SCHEMA_VERSIONS[kind.KIND]
    assert set(stored) == set(original.as_arrays())  # every field is written, and nothing else
    for field in dataclasses.fields(kind):  # floats as float32 (float64 where a field says so), ints as int64
        if isinstance(getattr(original, field.name), np.ndarray):
            dtype = field.metadata["stored"].dtype
            assert stored[field.name].dtype == dtype or stored[field.name].dtype.kind == dtype.kind == "U", field.name


@pytest.mark.parametrize("kind", TYPES, ids=lambda cls: cls.__name__)
def test_the_objects_are_frozen(kind):
    example = _examples()[kind]
    with pytest.raises(dataclasses.FrozenInstanceError):
        example.valid = example.valid[:1]
    changed = dataclasses.replace(example, valid=~example.valid)  # the way to change one
    assert (changed.valid != example.valid).all()


def _rewritten(tmp_path, kind, **changes):
    """The example's file with some arrays replaced (None: left out)."""
    arrays = {"schema_version": np.int64(SCHEMA_VERSIONS[kind.KIND]), **_examples()[kind].as_arrays(), **changes}
    return save_npz(tmp_path / "bad" / f"{kind.KIND}.npz", **{k: v for k, v in arrays.items() if v is not None})


def _one_line_error(path, kind, match: str) -> None:
    with pytest.raises(InputError, match=match) as error:
        kind.load(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("kind", TYPES, ids=lambda cls: cls.__name__)
def test_a_bad_file_is_a_one_line_error_naming_it(tmp_path, kind):
    example = _examples()[kind]
    _one_line_error(_rewritten(tmp_path, kind, schema_version=np.int64(SCHEMA_VERSIONS[kind.KIND] + 1)), kind,
                    "schema_version 2; this version of hmr reads")
    required = REQUIRED_KEYS[kind.KIND][0]
    _one_line_error(_rewritten(tmp_path, kind, **{required: None}), kind, f"lacks {required}")
    wrong_shape = example.valid[:, :1]
    _one_line_error(_rewritten(tmp_path, kind, valid=wrong_shape), kind,
                    rf"valid has shape \({T}, 1\), expected \(T, P\) with T={T}, P={P}; rerun the command")
    first = dataclasses.fields(kind)[0].name  # keypoints, joints or global_orient: float arrays
    _one_line_error(_rewritten(tmp_path, kind, **{first: np.full(getattr(example, first).shape, "x")}), kind,
                    f"{first} holds <U1 values, not numbers; rerun the command")
    number = "focal_length" if kind is RegressorEstimates else "fps"  # one value
    _one_line_error(_rewritten(tmp_path, kind, **{number: np.array("fast")}), kind, f"{number} holds <U4 values, not numbers")
    _one_line_error(_rewritten(tmp_path, kind, **{number: np.ones(2)}), kind, rf"{number} must be one value, got shape \(2,\)")


def test_a_file_without_the_optional_keys_loads_with_their_fallbacks(tmp_path):
    """An older or hand-made smpl.npz: the required keys, float64 and integer flags."""
    path = save_npz(tmp_path / "smpl.npz", global_orient=np.zeros((T, P, 3)), body_pose=np.zeros((T, P, 69)),
                    betas=np.zeros((T, P, 10)), transl=np.zeros((T, P, 3)), valid=np.ones((T, P), np.int8))
    fit = SMPLSequence.load(path)
    assert fit.body_pose.dtype == np.float32 and fit.valid.dtype == bool and fit.valid.all()
    assert fit.cam is None and fit.joints is None and fit.body_model is None and fit.fps == 0.0
    assert fit.track_ids.tolist() == list(range(P)) and fit.frame_indices.tolist() == list(range(T))
    assert not fit.fitted.any() and np.isnan(fit.reprojection_loss).all() and fit.over_threshold.shape == (0, 2)
    assert set(fit.smpl_parameters()) == {"betas", "body_pose", "global_orient", "transl"}
    assert "cam" not in np.load(fit.save(tmp_path / "again.npz")).files  # not recorded, not written


def test_building_one_in_code_checks_shapes_and_dtypes_naming_the_type():
    smpl = {k: getattr(_examples()[SMPLSequence], k) for k in REQUIRED_KEYS["smpl"]}
    with pytest.raises(InputError, match=r"^SMPLSequence: body_pose has shape \(3, 2, 68\), expected \(T, P, 69\)"):
        SMPLSequence(**{**smpl, "body_pose": np.zeros((T, P, 68), np.float32)})
    with pytest.raises(InputError, match=r"^SMPLSequence: valid holds float64 values, not booleans"):
        SMPLSequence(**{**smpl, "valid": np.ones((T, P))})
    with pytest.raises(InputError, match=r"^SMPLSequence: transl must be a numpy array, got list"):
        SMPLSequence(**{**smpl, "transl": [[0.0, 0.0, 4.0]]})
    with pytest.raises(InputError, match=r"^Keypoints2D: 16 joints, but coco_17 has 17"):
        dataclasses.replace(_keypoints(), keypoints=_keypoints().keypoints[:, :, :16])
    with pytest.raises(InputError, match=r"^Keypoints2D: image_size must be \(width, height\) integer pixels"):
        dataclasses.replace(_keypoints(), image_size=(640.5, 480))
    assert dataclasses.replace(_keypoints(), image_size=[640, 480], fps=np.float32(30)).image_size == (640, 480)


def test_required_keys_are_the_fields_a_type_cannot_do_without():
    for kind in TYPES:
        required = {f.name for f in dataclasses.fields(kind) if f.default is dataclasses.MISSING}
        derived = set(_examples()[kind].as_arrays()) - {f.name for f in dataclasses.fields(kind)}
        inferred = {"joint_set"} if kind is Keypoints2D else set()  # from joint_names
        assert set(REQUIRED_KEYS[kind.KIND]) == (required - inferred) | (derived & set(REQUIRED_KEYS[kind.KIND]))
