"""The keypoints stage end to end on a small generated video with a random-weight small HRNet."""

import json

import cv2
import numpy as np
import pytest
import torch

from body_models.errors import InputError
from hmr.cli import main
from hmr.io.video import write_video
from hmr.pose2d.stage import run_keypoints
from hmr.pose2d import HRNet, HRNetConfig, save_checkpoint
from hmr.pose2d.keypoints_io import load_coco_keypoints, load_keypoints2d
from hmr.pose2d.smoothing import OneEuroParams

NUM_FRAMES, HEIGHT, WIDTH = 5, 96, 128
SMALL = dict(width=8, num_modules=(1, 1, 1), num_blocks=(1, 1, 1), image_size=(64, 64))


def _small_hrnet(bias: float | None = None) -> HRNet:
    torch.manual_seed(0)
    model = HRNet(HRNetConfig(**SMALL)).eval()
    if bias is not None:  # every heatmap value near `bias`: confident (or absent) everywhere
        with torch.no_grad():
            model.final_layer.weight.mul_(1e-3)
            model.final_layer.bias.fill_(bias)
    return model


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(NUM_FRAMES)]
    return write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", frames, fps=10)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("weights") / "small_hrnet.pth", _small_hrnet())


BOXES = {"0": [[10, 10, 60, 90, 0.9]], "1": [[12, 10, 62, 90], [70, 5, 120, 90]], "2": [],
         "3": [[14, 11, 64, 91], [71, 6, 121, 91]], "4": [[16, 12, 66, 92]]}


def test_stage_with_a_boxes_file_writes_the_schema(tmp_path, video):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps(BOXES))
    result = run_keypoints(video, tmp_path / "out", weights=_small_hrnet(), boxes=boxes, refine="dark",
                           batch_size=3, export_coco=tmp_path / "coco.json", export_vp3d=tmp_path / "vp3d.npz")
    with np.load(result.path, allow_pickle=False) as z:
        data = dict(z)
    assert {"schema_version", "keypoints", "boxes", "valid", "track_ids", "joint_names", "image_size", "fps",
            "frame_indices"} <= set(data)
    assert data["keypoints"].shape == (NUM_FRAMES, 2, 17, 3) and data["keypoints"].dtype == np.float32
    assert data["boxes"].shape == (NUM_FRAMES, 2, 4) and data["valid"].shape == (NUM_FRAMES, 2)
    assert data["joint_names"][0] == "nose" and data["image_size"].tolist() == [WIDTH, HEIGHT]
    assert float(data["fps"]) == 10.0 and data["frame_indices"].tolist() == list(range(NUM_FRAMES))
    assert data["track_ids"].tolist() == [0, 1]
    # the same person keeps column 0, the second person column 1 (IoU tracking)
    assert data["valid"].tolist() == [[True, False], [True, True], [False, False], [True, True], [True, False]]
    np.testing.assert_allclose(data["boxes"][1], [[12, 10, 62, 90], [70, 5, 120, 90]])
    np.testing.assert_allclose(data["boxes"][4, 0], [16, 12, 66, 92])
    # frame 2 has nobody: NaN everywhere, confidence 0
    assert np.isnan(data["keypoints"][2, :, :, :2]).all() and (data["keypoints"][2, :, :, 2] == 0).all()
    assert np.isnan(data["boxes"][2]).all() and result.frames_without_person == 1
    found = data["keypoints"][data["valid"]]
    confident = found[..., 2] > 0
    assert ((found[..., 2] >= 0) & (found[..., 2] <= 1)).all()
    assert np.isfinite(found[confident][:, :2]).all()
    assert np.isnan(found[~confident][:, :2]).all()  # no positive heatmap value: a missing joint
    kp = load_keypoints2d(result.path)
    assert kp.num_frames == NUM_FRAMES and kp.joint_set == "coco_17"
    coco = load_coco_keypoints(tmp_path / "coco.json")
    assert coco.valid.sum() == kp.valid.sum()
    from lifting.data import load_custom_2d

    custom, sizes = load_custom_2d(tmp_path / "vp3d.npz")
    assert sizes == {"clip": (WIDTH, HEIGHT)}
    assert custom.positions_2d["clip"]["custom"][0].shape == (NUM_FRAMES, 17, 2)


def test_single_person_tracker_mode_and_frames_without_anyone(tmp_path, video):
    result = run_keypoints(video, tmp_path / "found", weights=_small_hrnet(bias=2.0), flip=False,
                           smooth=OneEuroParams())
    kp = result.keypoints
    assert kp.keypoints.shape == (NUM_FRAMES, 1, 17, 3) and kp.valid.all()
    assert (kp.boxes[..., :2] >= 0).all() and (kp.boxes[..., 2] <= WIDTH).all() and (kp.boxes[..., 3] <= HEIGHT).all()
    assert np.isfinite(kp.keypoints).all()

    result = run_keypoints(video, tmp_path / "nobody", weights=_small_hrnet(bias=-2.0))
    kp = result.keypoints
    assert kp.keypoints.shape == (NUM_FRAMES, 1, 17, 3) and not kp.valid.any()
    assert np.isnan(kp.keypoints[..., :2]).all() and result.frames_without_person == NUM_FRAMES
    assert (tmp_path / "nobody" / "keypoints2d.npz").is_file()


def test_detector_mode_and_image_folder(tmp_path, video):
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:04d}.png"), rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8))
    calls = []

    def detector(frame):
        calls.append(frame.shape)
        return np.array([[20, 10, 70, 90, 0.9]]) if len(calls) != 2 else np.zeros((0, 5))

    result = run_keypoints(folder, tmp_path / "out", weights=_small_hrnet(), detector=detector, fps=25)
    assert calls == [(HEIGHT, WIDTH, 3)] * 3
    assert result.keypoints.valid[:, 0].tolist() == [True, False, True] and result.keypoints.fps == 25.0


def test_cli_runs_the_stage(tmp_path, video, weights, capsys):
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("frame,x1,y1,x2,y2,score,track_id\n0,10,10,60,90,0.9,5\n3,14,11,64,91,0.8,5\n")
    out = tmp_path / "out"
    code = main(["keypoints", str(video), "--weights", str(weights), "--out", str(out), "--boxes", str(boxes),
                 "--refine", "dark", "--no-flip", "--device", "cpu", "--quiet"])
    assert code == 0
    kp = load_keypoints2d(out / "keypoints2d.npz")
    assert kp.track_ids.tolist() == [5] and kp.valid[:, 0].tolist() == [True, False, False, True, False]
    assert "5 frames, 1 track(s), 3 frame(s) without a person" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["not_hrnet", "corrupt_video", "boxes_beyond_video", "empty_folder",
                                  "missing_weights"])
def test_cli_bad_inputs_are_one_line_errors(tmp_path, video, weights, capsys, case):
    args = {"video": str(video), "weights": str(weights)}
    extra = []
    if case == "not_hrnet":
        args["weights"] = str(tmp_path / "linear.pth")
        torch.save(torch.nn.Linear(3, 2).state_dict(), args["weights"])
    elif case == "corrupt_video":
        args["video"] = str(tmp_path / "broken.mp4")
        (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    elif case == "boxes_beyond_video":
        (tmp_path / "boxes.json").write_text(json.dumps({"0": [[1, 1, 20, 20]], "12": [[1, 1, 20, 20]]}))
        extra = ["--boxes", str(tmp_path / "boxes.json")]
    elif case == "empty_folder":
        args["video"] = str(tmp_path / "frames")
        (tmp_path / "frames").mkdir()
    elif case == "missing_weights":
        args["weights"] = str(tmp_path / "pose_hrnet_w32_256x192.pth")
    code = main(["keypoints", args["video"], "--weights", args["weights"], "--out", str(tmp_path / "out"),
                 "--quiet", "--device", "cpu", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("hmr keypoints: error:") and "\n" not in err
    assert not (tmp_path / "out" / "keypoints2d.npz").exists()


def test_bad_settings_are_refused(tmp_path, video):
    with pytest.raises(InputError, match="batch_size"):
        run_keypoints(video, tmp_path, weights=_small_hrnet(), batch_size=0)
    with pytest.raises(InputError, match="refine"):
        run_keypoints(video, tmp_path, weights=_small_hrnet(), refine="argmax")


def test_unknown_precision_is_refused(tmp_path):
    import numpy as np
    import pytest

    from body_models.errors import InputError
    from hmr.pose2d.stage import run_keypoints
    from hmr.io.video import write_video

    video = write_video(tmp_path / "v.mp4", [np.full((64, 64, 3), 90, np.uint8)] * 2, fps=10.0)
    with pytest.raises(InputError, match="precision"):
        run_keypoints(video, tmp_path / "out", precision="fp8")


def test_follow_mode_searches_with_the_detector_only_when_nobody_is_followed(tmp_path, video):
    """"keypoints+hog": the keypoint tracker follows one person, and a lost person is looked for
    with the detector's best box, not the whole frame (where a small person is missed)."""
    from types import SimpleNamespace

    from body_models.progress import StageCounter, no_progress
    from hmr.pose2d.stage import _track_single

    frames = [SimpleNamespace(index=i, image=np.zeros((HEIGHT, WIDTH, 3), np.uint8)) for i in range(5)]
    person = np.array([40.0, 20.0, 80.0, 90.0])
    detector_calls, crops = [], []

    def detector(frame):
        detector_calls.append(len(crops))
        return np.array([[0, 0, 10, 10, 0.2], [*person, 0.9]])  # the best box is the person

    class Network:  # joints only where the crop holds the person; frame 2 loses them
        def one(self, image, box):
            crops.append(np.asarray(box, float))
            inside = box[0] <= person[0] + 1 and box[2] >= person[2] - 1 and box[2] - box[0] < WIDTH
            conf = 0.9 if inside and len(crops) != 4 else 0.0  # the 4th crop is frame 2's
            xy = np.stack([np.linspace(person[0], person[2], 17), np.linspace(person[1], person[3], 17)], -1)
            return np.concatenate([xy, np.full((17, 1), conf)], -1)

    people = _track_single(frames, Network(), (WIDTH, HEIGHT), StageCounter(no_progress, "keypoints", None),
                           search=detector)
    assert [len(people[i]) for i in range(5)] == [1, 1, 0, 1, 1]
    # the detector ran on frame 0 and on frame 3, after the loss in frame 2, never while following
    assert detector_calls == [0, 4]
    assert all(c[2] - c[0] < WIDTH for c in crops)  # never a whole-frame crop
    with pytest.raises(InputError, match="unknown detector"):
        run_keypoints(video, tmp_path, weights=_small_hrnet(), detector="keypoints+nothing")


class _StemHRNet(HRNet):
    """An HRNet (its type, config and layers) that runs only its stem and head: the same crops in and
    heatmaps out (J maps at a quarter of the crop), but a graph inductor compiles from a cold cache
    in a few seconds, where even the smallest full HRNet has some thirty kernels (~30 s on 2 cores)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(images)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.final_layer(x[:, :self.config.width])


@pytest.mark.slow
def test_compiled_stage_gives_the_eager_keypoints(tmp_path, video, monkeypatch):
    import hmr.pose2d.stage
    from hmr.core.fastpath import CompiledNetwork

    calls = []

    class Recorded(CompiledNetwork):
        def __call__(self, images):
            calls.append(len(images))
            return super().__call__(images)

    monkeypatch.setattr(hmr.pose2d.stage, "CompiledNetwork", Recorded)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps(BOXES))
    torch.manual_seed(0)
    model = _StemHRNet(HRNetConfig(**SMALL)).eval()
    runs = {compiled: run_keypoints(video, tmp_path / str(compiled), weights=model, boxes=boxes,
                                    batch_size=3, compile=compiled).keypoints for compiled in (False, True)}
    assert calls == [6, 6, 6]  # the compiled run only: its warm-up, then 2 × 3 crops with their flips
    eager, compiled = runs[False], runs[True]
    assert np.array_equal(eager.valid, compiled.valid)
    found = eager.valid
    # the heatmap maxima agree to rounding; their positions wherever no near-tie decides the peak
    np.testing.assert_allclose(compiled.keypoints[found][..., 2], eager.keypoints[found][..., 2], atol=1e-4)
    both = np.isfinite(eager.keypoints[found][..., 0]) & np.isfinite(compiled.keypoints[found][..., 0])
    same = np.abs(compiled.keypoints[found][..., :2] - eager.keypoints[found][..., :2]).max(-1)[both] < 1e-3
    assert same.mean() > 0.9
