"""Boxes files, the keypoint-driven single-person tracker, detectors and track-id assignment."""

import json
import sys

import numpy as np
import pytest

from body_models.errors import InputError, MissingFileError
from hmr.pose2d.boxes import (
    Detector,
    IoUTracker,
    KeypointBoxTracker,
    box_iou,
    keypoint_oks,
    load_boxes_file,
    load_detector,
    run_detector,
)


def test_json_boxes_as_object_or_list(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"0": [[1, 2, 30, 40]], "2": [[1, 2, 30, 40, 0.5], [50, 5, 90, 60, 0.9]], "3": []}))
    boxes = load_boxes_file(path, num_frames=4)
    assert sorted(boxes) == [0, 2, 3] and len(boxes[3]) == 0
    np.testing.assert_array_equal(boxes[2].boxes[1], [50, 5, 90, 60])
    np.testing.assert_array_equal(boxes[2].scores, [0.5, 0.9])
    assert (boxes[0].scores == 1).all() and (boxes[0].track_ids == -1).all()
    path.write_text(json.dumps([[[1, 2, 30, 40]], [], [1, 2, 30, 40]]))  # a bare box for frame 2
    boxes = load_boxes_file(path)
    assert [len(boxes[i]) for i in range(3)] == [1, 0, 1]


def test_csv_boxes_with_and_without_header(tmp_path):
    path = tmp_path / "boxes.csv"
    path.write_text("frame,x1,y1,x2,y2,score,track_id\n0,1,2,30,40,0.8,7\n1,2,3,31,41,0.9,7\n1,50,5,90,60,0.7,3\n")
    boxes = load_boxes_file(path, num_frames=2)
    np.testing.assert_array_equal(boxes[1].track_ids, [7, 3])
    path.write_text("track_id,frame,x1,y1,x2,y2\n4,0,1,2,30,40\n")  # any column order with a header
    assert load_boxes_file(path)[0].track_ids.tolist() == [4]
    path.write_text("0,1,2,30,40\n5,1,2,30,40\n")
    boxes = load_boxes_file(path)
    assert sorted(boxes) == [0, 5] and boxes[5].scores.tolist() == [1.0]


@pytest.mark.parametrize("suffix, text, message", [
    (".json", '{"9": [[1, 2, 30, 40]]}', "frame 9 but the video has 5 frames"),
    (".json", '{"0": [[1, 2, 30]]}', "must be \\[x1, y1, x2, y2\\]"),
    (".json", '{"0": [[30, 2, 1, 40]]}', "x2 > x1"),
    (".json", '{"first": [[1, 2, 30, 40]]}', "not a frame number"),
    (".csv", "0,1,2,30\n", "expected frame,x1,y1,x2,y2"),
    (".csv", "0,1,2,a,40\n", "not a number"),
    (".csv", "frame,left,top,right,bottom\n0,1,2,30,40\n", "header"),
    (".csv", "-1,1,2,30,40\n", "negative"),
    (".txt", "", "must be .json or .csv"),
])
def test_bad_boxes_files_are_one_line_errors(tmp_path, suffix, text, message):
    path = tmp_path / f"boxes{suffix}"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        load_boxes_file(path, num_frames=5)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_boxes_file(tmp_path):
    with pytest.raises(MissingFileError):
        load_boxes_file(tmp_path / "nope.json")


def _person(centre, size=40.0, conf=0.9):
    """COCO-17 keypoints spread over a size x 2·size region around centre."""
    offsets = np.random.default_rng(0).uniform(-0.5, 0.5, (17, 2)) * [size, 2 * size]
    kp = np.zeros((17, 3))
    kp[:, :2] = np.asarray(centre) + offsets
    kp[:, 2] = conf
    return kp


def test_keypoint_tracker_follows_and_falls_back_to_whole_frame():
    tracker = KeypointBoxTracker(image_size=(320, 240))
    assert tracker.searching and tracker.box().tolist() == [0, 0, 320, 240]
    kp = _person((100, 120))
    assert tracker.update(kp)
    box = tracker.box()
    assert not tracker.searching
    inside = (kp[:, 0] >= box[0]) & (kp[:, 0] <= box[2]) & (kp[:, 1] >= box[1]) & (kp[:, 1] <= box[3])
    assert inside.all() and box[2] - box[0] < 0.5 * 320  # tight around the person, padded
    lost = kp.copy()
    lost[:, 2] = 0.05
    assert not tracker.update(lost)
    assert tracker.searching and tracker.box().tolist() == [0, 0, 320, 240]
    edge = _person((5, 5))  # clipped to the frame
    tracker.update(edge)
    assert (tracker.box() >= 0).all()


def test_detector_from_import_path(tmp_path, monkeypatch):
    (tmp_path / "toy_detector.py").write_text(
        "import numpy as np\n"
        "def make():\n"
        "    return lambda frame: np.array([[1, 2, 30, 40, 0.9], [5, 5, 6, 6, 0.1], [9, 9, 3, 20, 0.8]])\n"
        "not_callable = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    detector = load_detector("toy_detector:make")
    assert isinstance(detector, Detector)
    found = run_detector(detector, np.zeros((50, 50, 3), np.uint8), min_score=0.5)
    assert found.boxes.tolist() == [[1, 2, 30, 40]]  # low score and inverted boxes dropped
    assert len(run_detector(lambda frame: np.zeros((0, 5)), np.zeros((5, 5, 3), np.uint8))) == 0
    with pytest.raises(InputError, match="module:factory"):
        load_detector("toy_detector")
    with pytest.raises(InputError, match="cannot import"):
        load_detector("no_such_module_here:make")
    with pytest.raises(InputError, match="no callable"):
        load_detector("toy_detector:not_callable")
    with pytest.raises(InputError, match=r"\(N, 5\)"):
        run_detector(lambda frame: np.zeros((2, 3)), np.zeros((5, 5, 3), np.uint8))
    sys.modules.pop("toy_detector", None)


def test_iou_and_oks():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    b = np.array([[5, 0, 15, 10]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150], [0.0]])
    kp = _person((50, 50))[None]
    assert keypoint_oks(kp, kp)[0, 0] == pytest.approx(1.0)
    far = kp.copy()
    far[..., :2] += 30
    assert keypoint_oks(far, kp)[0, 0] < 0.3


def test_tracker_keeps_ids_when_people_swap_order():
    tracker = IoUTracker()
    left, right = np.array([10, 10, 50, 100.0]), np.array([200, 10, 240, 100.0])
    first = tracker.update(0, np.stack([left, right]))
    assert first.tolist() == [0, 1]
    ids = tracker.update(1, np.stack([right + 3, left + 2]))  # detector order changed, people moved
    assert ids.tolist() == [1, 0]
    ids = tracker.update(2, np.stack([left + 4, np.array([400, 10, 440, 100.0])]))  # a newcomer
    assert ids.tolist() == [0, 2]
    assert tracker.update(40, np.stack([left])).tolist() == [3]  # gap too long: a new track


def test_tracker_uses_oks_when_keypoints_exist():
    tracker = IoUTracker()
    a, b = _person((100, 100)), _person((115, 100))
    box = np.array([60, 40, 160, 160.0])  # both people share nearly the same box
    tracker.update(0, np.stack([box, box + 1]), np.stack([a, b]))
    ids = tracker.update(1, np.stack([box + 1, box]), np.stack([b, a]))  # boxes alone cannot tell
    assert ids.tolist() == [1, 0]


def test_track_summary_counts_people_and_their_frames():
    from hmr.pose2d.boxes import track_summary

    valid = np.zeros((10, 3), bool)
    valid[0:8, 0] = True  # track 7: frames 100-107
    valid[2:4, 1] = True  # track 3: frames 102-103
    valid[5:10, 2] = True  # track 9: frames 105-109
    report, line = track_summary(valid, np.array([7, 3, 9]), np.arange(100, 110))
    assert report["count"] == 3 and report["frames"] == 10
    assert [t["id"] for t in report["tracks"]] == [7, 9, 3]
    assert report["tracks"][0] == {"id": 7, "frames": 8, "first_frame": 100, "last_frame": 107}
    assert line.startswith("tracks: 3 people over 10 frames; frames each: longest 8 (track 7, frames 100-107), "
                           "median 5, 2 in 5 or more")
    report, line = track_summary(valid[:, :1], np.array([7]), np.arange(10))
    assert line == "tracks: 1 person, in 8 of 10 frames (0-7)"
    assert track_summary(np.zeros((4, 0), bool), np.zeros(0, int), np.arange(4))[1] == "tracks: nobody in 4 frames"
