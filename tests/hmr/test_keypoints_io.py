import dataclasses
import json

import numpy as np
import pytest

from body_models.errors import InputError, MissingFileError
from hmr.pose2d.keypoints_io import (Keypoints2D, empty_keypoints, load_coco_keypoints, load_keypoints2d,
                              load_keypoints_file, load_openpose_folder, save_coco_keypoints,
                              save_keypoints2d)


def _example(num_frames=4, num_people=2) -> Keypoints2D:
    rng = np.random.default_rng(0)
    kp = empty_keypoints(num_frames, num_people)
    kp.keypoints[:] = np.concatenate([rng.uniform(0, 640, (num_frames, num_people, 17, 2)),
                                      rng.uniform(0.3, 1.0, (num_frames, num_people, 17, 1))], -1)
    kp.valid[:] = True
    kp.valid[2, 1] = False  # person 1 missing in frame 2
    kp.keypoints[2, 1] = np.nan
    kp.keypoints[2, 1, :, 2] = 0
    kp.keypoints[1, 0, 3] = [np.nan, np.nan, 0.0]  # one joint missing
    kp.boxes[:] = [10, 20, 300, 400]
    kp.boxes[2, 1] = np.nan
    return dataclasses.replace(kp, image_size=(640, 480), fps=25.0, frame_indices=np.arange(10, 10 + num_frames))


def test_npz_round_trip(tmp_path):
    kp = _example()
    path = save_keypoints2d(tmp_path / "keypoints2d.npz", kp)
    back = load_keypoints2d(path)
    np.testing.assert_array_equal(back.keypoints, kp.keypoints)
    np.testing.assert_array_equal(back.valid, kp.valid)
    assert back.joint_set == "coco_17" and back.image_size == (640, 480) and back.fps == 25.0
    with np.load(path, allow_pickle=False) as z:
        assert int(z["schema_version"]) == 1 and z["keypoints"].shape == (4, 2, 17, 3)
        assert tuple(z["joint_names"][:2]) == ("nose", "left_eye")


def test_coco_round_trip_keeps_people_and_missing_joints(tmp_path):
    kp = _example()
    path = save_coco_keypoints(tmp_path / "results.json", kp)
    records = json.loads(path.read_text())
    assert len(records) == 4 * 2 - 1 and {r["image_id"] for r in records} == {10, 11, 12, 13}
    back = load_coco_keypoints(path, image_size=(640, 480), fps=25.0)
    assert back.keypoints.shape == kp.keypoints.shape
    np.testing.assert_array_equal(back.valid, kp.valid)
    np.testing.assert_array_equal(back.frame_indices, kp.frame_indices)
    np.testing.assert_allclose(back.keypoints[kp.valid], kp.keypoints[kp.valid], atol=1e-3)
    assert np.isnan(back.keypoints[1, 0, 3, :2]).all() and back.keypoints[1, 0, 3, 2] == 0


def test_coco_annotation_file_reads_sizes_and_visibility(tmp_path):
    joints = np.zeros((17, 3))
    joints[:5] = [[100, 50, 2]] * 5
    joints[5] = [90, 80, 1]
    data = {"images": [{"id": 7, "width": 320, "height": 240}, {"id": 9, "width": 320, "height": 240}],
            "annotations": [{"image_id": 9, "category_id": 1, "keypoints": joints.reshape(-1).tolist()}]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    kp = load_coco_keypoints(path)
    assert kp.image_size == (320, 240) and kp.num_frames == 2
    assert not kp.valid[0, 0] and kp.valid[1, 0]
    assert kp.keypoints[1, 0, 5, 2] == 1.0 and np.isnan(kp.keypoints[1, 0, 6, 0])
    np.testing.assert_allclose(kp.boxes[1, 0], [90, 50, 100, 80])


def test_openpose_folder(tmp_path):
    rng = np.random.default_rng(1)
    for frame in (2, 0, 1):
        people = [{"person_id": [-1], "pose_keypoints_2d": np.concatenate(
            [rng.uniform(0, 100, (25, 2)), np.full((25, 1), 0.9 - 0.1 * i)], -1).reshape(-1).tolist()}
            for i in range(2 if frame != 1 else 1)]
        (tmp_path / f"clip_{frame:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    kp = load_keypoints_file(tmp_path, image_size=(100, 100))
    assert kp.joint_set == "openpose_25" and kp.keypoints.shape == (3, 2, 25, 3)
    np.testing.assert_array_equal(kp.frame_indices, [0, 1, 2])
    assert kp.valid[1].tolist() == [True, False]
    coco = kp.to_joint_set("coco_17")
    assert coco.keypoints.shape == (3, 2, 17, 3)
    np.testing.assert_array_equal(coco.keypoints[:, :, 0], kp.keypoints[:, :, 0])  # nose is nose


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(MissingFileError, match="missing.npz"):
        load_keypoints_file(tmp_path / "missing.npz")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_keypoints_file(bad)
    bad.write_text(json.dumps([{"image_id": 1, "keypoints": [1, 2, 3]}]))
    with pytest.raises(InputError, match="51"):
        load_coco_keypoints(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no OpenPose"):
        load_openpose_folder(empty)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InputError, match="lacks keypoints"):
        load_keypoints2d(tmp_path / "other.npz")


def test_vp3d_export_fills_joints_as_the_lifter_does(tmp_path):
    """A joint missing in one frame is interpolated from its neighbours; a joint never seen
    sits at the mean of its frame's joints; a frame without the person is filled in time."""
    from lifting.data import load_custom_2d
    from hmr.pose2d.keypoints_io import Keypoints2D, boxes_from_keypoints, save_vp3d_custom

    t = np.arange(4, dtype=np.float32)
    kp = np.zeros((4, 1, 17, 3), np.float32)
    kp[..., 0] = 10 * t[:, None, None] + np.arange(17)  # x moves 10 px a frame
    kp[..., 1] = 50.0
    kp[..., 2] = 1.0
    kp[1, 0, 5, :2] = np.nan  # left shoulder missing in frame 1
    kp[:, 0, 16, :2] = np.nan  # right ankle never seen
    kp[2, 0] = np.nan  # nobody in frame 2
    valid = np.array([[True], [True], [False], [True]])
    data = Keypoints2D(keypoints=kp, boxes=boxes_from_keypoints(kp), valid=valid, track_ids=np.array([0]),
                       joint_set="coco_17", image_size=(200, 100), fps=10.0, frame_indices=np.arange(4))
    save_vp3d_custom(tmp_path / "data_2d_custom_clip.npz", data, video_name="clip")
    custom, _ = load_custom_2d(tmp_path / "data_2d_custom_clip.npz")
    xy = custom.positions_2d["clip"]["custom"][0]  # (T, 17, 2)
    assert np.isfinite(xy).all()
    assert xy[1, 5, 0] == pytest.approx(15.0)  # between frame 0 (5) and frame 3 (35), at frame 1
    assert xy[0, 16, 0] == pytest.approx(np.mean(np.arange(16)))  # the frame's other joints' mean x
    assert xy[2, 0, 0] == pytest.approx(20.0)  # frame 2 from frames 1 and 3
