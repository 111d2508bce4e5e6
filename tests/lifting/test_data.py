"""Tests for lifting.data: Human3.6M cameras, VideoPose3D npz layouts, custom 2D and keypoints2d."""

import os

import numpy as np
import pytest

from body_models.cameras import world_to_camera
from body_models.errors import InputError, MissingFileError, UnsafeFileError
from body_models.joints import COCO_17, H36M_17
from lifting import data


def _raw_sequence(frames, seed=0):
    return np.random.default_rng(seed).normal(size=(frames, 32, 3)).astype(np.float32)


def test_cameras_are_normalised_like_videopose3d():
    cam = data.h36m_cameras("S1")[0]
    assert cam.id == 54138969 and (cam.res_w, cam.res_h) == (1000, 1002)
    np.testing.assert_allclose(cam.center, [512.54150390625 / 500 - 1, 515.4514770507812 / 500 - 1.002], atol=1e-7)
    np.testing.assert_allclose(cam.focal_length, [1145.0494384765625 / 500, 1143.7811279296875 / 500], rtol=1e-6)
    np.testing.assert_allclose(cam.translation, [1.8411070556640625, 4.95528466796875, 1.5634454345703125], rtol=1e-6)
    assert cam.intrinsic.shape == (9,) and cam.intrinsic.dtype == np.float32
    assert [c.id for c in data.h36m_cameras("S11")] == list(data.H36M_CAMERA_IDS)
    assert data.h36m_cameras("S3")[2].orientation is None
    with pytest.raises(InputError, match="unknown"):
        data.h36m_cameras("S12")


def test_32_to_17_keeps_the_documented_joints():
    assert data.H36M_32_KEPT == (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
    raw = _raw_sequence(3)
    np.testing.assert_array_equal(data.reduce_32_to_17(data.expand_17_to_32(raw[:, data.H36M_32_KEPT])),
                                  raw[:, data.H36M_32_KEPT])
    with pytest.raises(InputError, match="32"):
        data.reduce_32_to_17(raw[:, :17])


def test_3d_round_trip_and_official_reader(tmp_path):
    positions = {"S9": {"Walking": _raw_sequence(5), "Walking 1": _raw_sequence(4, 1)}, "S11": {"Eating": _raw_sequence(6, 2)}}
    path = data.save_h36m_3d(tmp_path / "data_3d_h36m.npz", positions)
    loaded = data.load_h36m_3d(path)
    np.testing.assert_array_equal(loaded["S9"]["Walking 1"], positions["S9"]["Walking 1"][:, data.H36M_32_KEPT])
    assert data.load_h36m_3d(path, remove_static_joints=False)["S11"]["Eating"].shape == (6, 32, 3)
    # the way VideoPose3D reads it
    official = np.load(path, allow_pickle=True)["positions_3d"].item()
    np.testing.assert_array_equal(official["S11"]["Eating"], positions["S11"]["Eating"])


def test_reads_a_file_written_the_official_way(tmp_path):
    path = tmp_path / "official.npz"
    np.savez_compressed(path, positions_3d={"S1": {"Directions 1": _raw_sequence(2)}})
    assert data.load_h36m_3d(path)["S1"]["Directions 1"].shape == (2, 17, 3)


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    holder = np.empty((), dtype=object)
    holder[()] = {"S1": {"A": _Payload()}}
    np.savez(path, positions_3d=holder)
    with pytest.raises(UnsafeFileError, match="posix.system|os.system|nt.system"):
        data.load_h36m_3d(path)


def test_bad_3d_files(tmp_path):
    with pytest.raises(MissingFileError):
        data.load_h36m_3d(tmp_path / "absent.npz")
    np.savez(tmp_path / "other.npz", something=np.zeros(3))
    with pytest.raises(InputError, match="no array 'positions_3d'"):
        data.load_h36m_3d(tmp_path / "other.npz")
    np.savez_compressed(tmp_path / "wrong.npz", positions_3d={"S1": {"A": np.zeros((4, 17, 3))}})
    with pytest.raises(InputError, match=r"expected \(T, 32, 3\)"):
        data.load_h36m_3d(tmp_path / "wrong.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(InputError, match="not an npz"):
        data.load_h36m_3d(tmp_path / "text.npz")


def test_camera_views_are_root_relative_camera_frame():
    world = {"S9": {"Walking": _raw_sequence(4)[:, data.H36M_32_KEPT]}}
    views = data.h36m_camera_views(world)["S9"]["Walking"]
    assert len(views) == 4
    cam = data.h36m_cameras("S9")[2]
    expected = world_to_camera(world["S9"]["Walking"], cam.orientation, cam.translation)
    np.testing.assert_allclose(views[2][:, 0], expected[:, 0], atol=1e-6)
    np.testing.assert_allclose(views[2][:, 1:], expected[:, 1:] - expected[:, :1], atol=1e-6)


def _gt_2d(frames=6):
    rng = np.random.default_rng(5)
    views = [rng.uniform(0, 1000, size=(frames, 17, 2)).astype(np.float32) for _ in range(4)]
    metadata = {"num_joints": 17, "keypoints_symmetry": [list(H36M_17.left), list(H36M_17.right)]}
    return data.Keypoints2DFile({"S9": {"Walking": views}}, metadata)


def test_2d_round_trip_gt_layout_and_normalisation(tmp_path):
    keypoints = _gt_2d()
    path = data.save_h36m_2d(tmp_path / "data_2d_h36m_gt.npz", keypoints)
    loaded = data.load_h36m_2d(path)
    assert loaded.layout_name is None and loaded.keypoints_left == [4, 5, 6, 11, 12, 13]
    np.testing.assert_array_equal(loaded.positions_2d["S9"]["Walking"][3], keypoints.positions_2d["S9"]["Walking"][3])
    official = np.load(path, allow_pickle=True)
    assert official["metadata"].item()["num_joints"] == 17
    targets = {"S9": {"Walking": [np.zeros((5, 17, 3))] * 4}}
    normalized = data.normalized_h36m_2d(loaded, targets)["S9"]["Walking"]
    assert normalized[0].shape == (5, 17, 2)
    cam = data.h36m_cameras("S9")[0]
    np.testing.assert_allclose(normalized[0], keypoints.positions_2d["S9"]["Walking"][0][:5] / 500 - [1, cam.res_h / 1000],
                               atol=1e-6)
    with pytest.raises(InputError, match="2D must cover"):
        data.normalized_h36m_2d(loaded, {"S9": {"Walking": [np.zeros((7, 17, 3))] * 4}})


def test_2d_wrong_layouts(tmp_path):
    np.savez_compressed(tmp_path / "a.npz", positions_2d={"S1": {"A": [np.zeros((3, 16, 2))]}},
                        metadata={"num_joints": 17, "keypoints_symmetry": [[1], [2]]})
    with pytest.raises(InputError, match=r"\(T, 17, 2 or 3\)"):
        data.load_h36m_2d(tmp_path / "a.npz")
    np.savez_compressed(tmp_path / "b.npz", positions_2d={}, metadata={"layout_name": "coco"})
    with pytest.raises(InputError, match="num_joints"):
        data.load_h36m_2d(tmp_path / "b.npz")


def test_custom_layout_round_trip(tmp_path):
    sequence = np.random.default_rng(0).uniform(0, 640, size=(7, 17, 2)).astype(np.float32)
    path = data.save_custom_2d(tmp_path / "data_2d_custom_myvideos.npz", {"clip.mp4": sequence}, {"clip.mp4": (640, 480)})
    keypoints, sizes = data.load_custom_2d(path)
    assert sizes == {"clip.mp4": (640, 480)} and keypoints.layout_name == "coco"
    assert keypoints.keypoints_left == list(COCO_17.left)
    np.testing.assert_array_equal(keypoints.positions_2d["clip.mp4"]["custom"][0], sequence)
    official = np.load(path, allow_pickle=True)["metadata"].item()
    assert official["video_metadata"]["clip.mp4"] == {"w": 640, "h": 480}
    with pytest.raises(InputError, match="video_metadata"):
        data.load_custom_2d(data.save_h36m_2d(tmp_path / "gt.npz", _gt_2d()))


def test_keypoints2d_conversion_fills_missing_frames():
    sequence = np.random.default_rng(1).uniform(0, 640, size=(5, 17, 3)).astype(np.float32)
    sequence[2] = np.nan
    arrays = data.keypoints2d_from_custom(sequence, (640, 480), fps=25.0)
    assert arrays["keypoints"].shape == (5, 1, 17, 3) and arrays["valid"][:, 0].tolist() == [1, 1, 0, 1, 1]
    assert arrays["joint_names"].tolist() == list(COCO_17.names) and arrays["image_size"].tolist() == [640, 480]
    np.testing.assert_allclose(arrays["boxes"][0, 0], [*sequence[0, :, :2].min(0), *sequence[0, :, :2].max(0)])
    back, size = data.custom_from_keypoints2d(arrays)
    assert size == (640, 480) and back.shape == (5, 17, 2)
    np.testing.assert_allclose(back[2], (sequence[1, :, :2] + sequence[3, :, :2]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(back[[0, 1, 3, 4]], sequence[[0, 1, 3, 4], :, :2])
    with pytest.raises(InputError, match="all NaN"):
        data.fill_missing_frames(np.full((4, 17, 2), np.nan))
