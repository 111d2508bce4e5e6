"""Person detectors (OpenCV's HOG, an ONNX model in MMDeploy's layout) and the Hungarian tracker."""

import numpy as np
import pytest

from body_models.errors import InputError, MissingFileError
from hmr.pose2d.boxes import IoUTracker, box_iou
from hmr.pose2d.detectors import HOGPersonDetector, ONNXPersonDetector, make_detector


@pytest.fixture(scope="module")
def clip(tmp_path_factory, mannequin_smpl):
    """The mannequin walking, 320 × 320, 3 frames."""
    from hmr.synthetic.clip import make_synthetic_clip

    return make_synthetic_clip(tmp_path_factory.mktemp("walker"), motion="walk", num_frames=3, image_size=(320, 320),
                               focal_length=500.0, camera_distance=4.0, smpl=mannequin_smpl)


@pytest.fixture(scope="module")
def walker(clip):
    """One frame of the clip and its ground-truth box."""
    from hmr.io.video import read_frame

    return read_frame(clip.video, 1).image, np.load(clip.ground_truth)["boxes"][1, 0]


def test_hog_finds_the_walker_and_nobody_in_an_empty_frame(walker):
    image, truth = walker
    found = make_detector("hog")(image)
    assert found.shape[1] == 5 and len(found) == 1
    assert box_iou(found[:, :4], truth[None])[0, 0] > 0.6
    assert len(HOGPersonDetector()(np.full_like(image, 128))) == 0


def _tiny_mmdeploy_model(path, dets, labels, size=(64, 48)):
    """An ONNX graph with MMDeploy's end-to-end outputs: constant dets (1, N, 5) and labels (1, N),
    for an input (1, 3, H, W) that it reads (the mean times 0 is added)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.zeros(1, np.float32))),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
             helper.make_node("Constant", [], ["boxes"], value=numpy_helper.from_array(dets.astype(np.float32))),
             helper.make_node("Add", ["boxes", "nothing"], ["dets"]),
             helper.make_node("Constant", [], ["classes"], value=numpy_helper.from_array(labels.astype(np.float32))),
             helper.make_node("Add", ["classes", "nothing"], ["float_labels"]),
             helper.make_node("Cast", ["float_labels"], ["labels"], to=TensorProto.INT64)]
    graph = helper.make_graph(
        nodes, "tiny_detector", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size[1], size[0]])],
        [helper.make_tensor_value_info("dets", TensorProto.FLOAT, list(dets.shape)),
         helper.make_tensor_value_info("labels", TensorProto.INT64, list(labels.shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, str(path))
    return path


def test_onnx_detector_maps_letterboxed_people_back_to_the_frame(tmp_path):
    pytest.importorskip("onnx")
    dets = np.array([[[8, 4, 24, 40, 0.9],      # a person
                      [30, 10, 50, 40, 0.8],    # a class-1 object: dropped
                      [40, 20, 60, 44, 0.1]]])  # a person below the score threshold: dropped
    labels = np.array([[0, 1, 0]])
    path = _tiny_mmdeploy_model(tmp_path / "tiny.onnx", dets, labels, size=(64, 48))
    detector = ONNXPersonDetector(path, input_size=(64, 48), backend="opencv")
    frame = np.zeros((96, 256, 3), np.uint8)  # letterboxed by 1/4 into 64 × 24 (then padded to 48)
    found = detector(frame)
    np.testing.assert_allclose(found, [[32, 16, 96, 96, 0.9]], atol=1e-4)  # y clipped to the frame
    assert isinstance(make_detector(str(path)), ONNXPersonDetector)


def test_detector_errors_are_one_line(tmp_path):
    with pytest.raises(MissingFileError, match="not found"):
        make_detector(str(tmp_path / "missing.onnx"))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(InputError, match="ONNX"):
        ONNXPersonDetector(garbage, backend="opencv")
    with pytest.raises(InputError, match="unknown detector"):
        make_detector("yolo")
    assert make_detector("keypoints") is None


def test_tracker_takes_the_best_assignment_not_the_best_pair():
    tracker = IoUTracker(iou_threshold=0.2)
    a, b = [0, 0, 10, 20], [6, 0, 16, 20]
    assert tracker.update(0, np.array([a, b])).tolist() == [0, 1]
    # Person 1 overlaps track 0 best (greedy would give it 0 and leave person 2 unmatched), but
    # only the assignment 1 → track 1, 2 → track 0 keeps both people on their tracks.
    one, two = [2, 0, 12, 20], [-4, 0, 6, 20]
    assert box_iou(np.array([one]), np.array([a]))[0, 0] > box_iou(np.array([one]), np.array([b]))[0, 0]
    assert tracker.update(1, np.array([one, two])).tolist() == [1, 0]


def test_tracker_follows_walkers_that_cross():
    """Two people walk towards each other and cross; the boxes move on by their velocity, so
    each keeps its id."""
    tracker = IoUTracker()
    ids = []
    for t in range(12):
        left = [10 + 8 * t, 0, 40 + 8 * t, 80]
        right = [110 - 8 * t, 0, 140 - 8 * t, 80]
        ids.append(tracker.update(t, np.array([left, right])).tolist())
    assert all(frame == ids[0] for frame in ids), ids


def test_keypoints_stage_uses_the_detector_by_name(clip, tmp_path):
    import torch

    from hmr.pose2d.stage import run_keypoints
    from hmr.pose2d import HRNet, HRNetConfig

    torch.manual_seed(0)
    model = HRNet(HRNetConfig(width=8, num_modules=(1, 1, 1), num_blocks=(1, 1, 1), image_size=(64, 64))).eval()
    result = run_keypoints(clip.video, tmp_path, weights=model, detector="hog", flip=False)
    kp = result.keypoints
    assert kp.num_people == 1 and kp.valid.all()
    truth = np.load(clip.ground_truth)["boxes"][:, 0]
    assert all(box_iou(kp.boxes[t, :1], truth[t:t + 1])[0, 0] > 0.5 for t in range(3))
