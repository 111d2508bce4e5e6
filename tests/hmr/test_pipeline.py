"""``hmr run`` end to end on a generated clip with random-weight models in the official layouts."""

import dataclasses
import json

import numpy as np
import pytest
import torch
import trimesh

from hmr.cli import main
from hmr.io.video import probe_video
from hmr.pose2d.keypoints_io import Keypoints2D, load_keypoints2d, save_coco_keypoints, save_keypoints2d
from hmr.synthetic.clip import make_synthetic_clip

FRAMES = 5


@pytest.fixture(scope="module")
def clip(tmp_path_factory, mannequin_smpl):
    return make_synthetic_clip(tmp_path_factory.mktemp("clip"), motion="wave", num_frames=FRAMES,
                               image_size=(192, 160), focal_length=200.0, camera_distance=4.0,
                               smpl=mannequin_smpl)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random-weight checkpoints in the official file layouts."""
    from hmr.evaluation.synthetic import write_spin_checkpoint
    from hmr.pose2d import HRNet, HRNetConfig
    from lifting import TemporalModel

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    hrnet = HRNet(HRNetConfig(width=32, num_joints=17)).state_dict()
    hrnet["final_layer.bias"].fill_(1.0)  # positive heatmaps, so random keypoints have confidence
    torch.save(hrnet, folder / "pose_hrnet_w32_256x192.pth")
    lifter = TemporalModel(17, 2, 17, (3, 3, 3), channels=64)
    torch.save({"epoch": 1, "lr": 0.001, "optimizer": {}, "model_pos": lifter.state_dict()},
               folder / "pretrained_h36m_detectron_coco.bin")
    write_spin_checkpoint(folder / "model_checkpoint.pt")
    return folder


def _args(weights, out, *extra, iterations=2):
    return ["--out", str(out), "--hrnet-weights", str(weights / "pose_hrnet_w32_256x192.pth"),
            "--lifter-weights", str(weights / "pretrained_h36m_detectron_coco.bin"),
            "--hmr-weights", str(weights / "model_checkpoint.pt"), "--iterations", str(iterations),
            "--no-flip", "--quiet", "--device", "cpu", *extra]


def test_run_writes_every_output_and_resumes(clip, weights, tmp_path, monkeypatch, capsys):
    boxes = tmp_path / "boxes.json"
    gt = np.load(clip.ground_truth)
    # the person is given in every frame but frame 3: that frame must come out as missing
    boxes.write_text(json.dumps({str(t): [gt["boxes"][t, 0].tolist()] for t in range(FRAMES) if t != 3}))
    out = tmp_path / "run"

    from hmr.io.stages import OverlaySettings

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(OverlaySettings, "run", interrupted)
    assert main(["run", str(clip.video), *_args(weights, out, "--boxes", str(boxes))]) == 130  # Ctrl-C
    monkeypatch.undo()
    assert main(["run", str(clip.video), *_args(weights, out, "--boxes", str(boxes))]) == 0
    run = json.loads((out / "run.json").read_text())
    assert set(run["cached_stages"]) == {"keypoints", "lift", "regress", "fit", "meshes"}, "resumed at overlay"

    kp = load_keypoints2d(out / "keypoints2d.npz")
    assert kp.keypoints.shape == (FRAMES, 1, 17, 3) and kp.valid[:, 0].tolist() == [True, True, True, False, True]
    assert np.isnan(kp.keypoints[3, :, :, :2]).all() and (kp.keypoints[3, :, :, 2] == 0).all()
    with np.load(out / "joints3d.npz") as z:
        assert z["joints"].shape == (FRAMES, 1, 17, 3) and int(z["schema_version"]) == 1
    assert json.loads((out / "joints3d.json").read_text())
    with np.load(out / "smpl.npz") as z:
        for name, shape in [("global_orient", (FRAMES, 1, 3)), ("body_pose", (FRAMES, 1, 69)),
                            ("betas", (FRAMES, 1, 10)), ("cam", (FRAMES, 1, 3)), ("transl", (FRAMES, 1, 3)),
                            ("joints", (FRAMES, 1, 24, 3)), ("fitted", (FRAMES, 1)), ("valid", (FRAMES, 1))]:
            assert z[name].shape == shape, name
        assert np.isnan(z["body_pose"][3]).all() and not z["valid"][3].any()
        assert np.isfinite(z["body_pose"][[0, 1, 2, 4]]).all()
        assert str(z["body_model"]) == "mannequin"
    meshes = sorted((out / "meshes" / "0").glob("*.obj"))
    assert len(meshes) == FRAMES - 1
    mesh = trimesh.load(meshes[0], process=False)
    assert mesh.vertices.shape == (6890, 3)
    assert probe_video(out / "overlay.mp4").num_frames == FRAMES
    assert {"hrnet_weights", "lifter_weights", "hmr_weights"} <= set(run["files"])
    assert all(len(f["sha256"]) == 64 for f in run["files"].values())
    assert "overlay" in capsys.readouterr().out

    # a changed SMPLify setting reruns the fit and what follows it, nothing before
    assert main(["run", str(clip.video), *_args(weights, out, "--boxes", str(boxes), iterations=3)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert set(run["cached_stages"]) == {"keypoints", "lift", "regress"}


def test_run_without_hmr_weights_uses_the_shipped_regressor_and_says_so(clip, weights, tmp_path, monkeypatch, capsys):
    from hmr.regressor import DEMO_WEIGHTS
    from hmr.core.standins import DEMO_REGRESSOR_NAME

    assert DEMO_REGRESSOR_NAME == DEMO_WEIGHTS.name and DEMO_WEIGHTS.is_file()
    monkeypatch.setenv("HMR_CONFIG", str(tmp_path / "none.yaml"))  # nothing configured
    monkeypatch.delenv("HMR_WEIGHTS_SPIN", raising=False)
    monkeypatch.delenv("HMR_DATA_DIR", raising=False)
    gt = np.load(clip.ground_truth)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(t): [gt["boxes"][t, 0].tolist()] for t in range(FRAMES)}))
    args = [a for a in _args(weights, tmp_path / "run", "--boxes", str(boxes), "--no-overlay", "--no-meshes")]
    at = args.index("--hmr-weights")
    del args[at:at + 2]
    assert main(["run", str(clip.video), *args]) == 0
    assert f"stand-in: the HMR regressor {DEMO_WEIGHTS.name}" in capsys.readouterr().out
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert DEMO_WEIGHTS.name in run["stand_ins"]["regress"] and "regress" not in run.get("skipped", {})
    with np.load(tmp_path / "run" / "regressor.npz") as z:
        assert np.isfinite(z["body_pose"][:, 0]).all()


@pytest.mark.parametrize("kind", ["coco", "openpose"])
def test_run_from_a_keypoints_file_skips_hrnet(kind, clip, weights, tmp_path):
    from hmr.pose2d.keypoints_io import empty_keypoints

    gt = np.load(clip.ground_truth)
    kp = empty_keypoints(FRAMES, 1)
    kp.keypoints[:] = gt["keypoints"]
    kp.valid[:] = True
    kp.boxes[:] = gt["boxes"]
    kp = dataclasses.replace(kp, frame_indices=np.arange(FRAMES))
    if kind == "coco":
        source = save_coco_keypoints(tmp_path / "coco.json", kp)
    else:
        from body_models.joints import COCO_17, OPENPOSE_25

        source = tmp_path / "openpose"
        source.mkdir()
        for t in range(FRAMES):
            body25 = np.zeros((25, 3))
            for i, name in enumerate(COCO_17.names):
                body25[OPENPOSE_25.index(name)] = kp.keypoints[t, 0, i]
            (source / f"clip_{t:012d}_keypoints.json").write_text(
                json.dumps({"people": [{"pose_keypoints_2d": body25.reshape(-1).tolist()}]}))
    out = tmp_path / "out"
    args = _args(weights, out, "--image-size", "192", "160", "--video", str(clip.video), "--no-meshes",
                 "--side-by-side")
    assert main(["run", str(source), *args]) == 0
    run = json.loads((out / "run.json").read_text())
    assert "regress" not in run["skipped_stages"] and "lift" not in run["skipped_stages"]
    with np.load(out / "smpl.npz") as z:
        assert np.isfinite(z["transl"]).all()
    info = probe_video(out / "overlay.mp4")
    assert info.num_frames == FRAMES and (info.width, info.height) == (192 + 160, 160)  # frame + 3D panel


def test_no_room_to_write_is_one_line(tmp_path, capsys, monkeypatch):
    import errno

    import hmr.pipeline

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "smpl.npz"))
    monkeypatch.setattr(hmr.pipeline, "run_pipeline", full)
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "No space left" in err and "smpl.npz" in err and "\n" not in err


def test_missing_input_and_weights_are_one_line_errors(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "nope.mp4" in capsys.readouterr().err
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "o"), "--hrnet-weights", str(tmp_path / "x.pth"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "x.pth" in err and "\n" not in err


def test_run_decodes_heatmaps_as_asked(clip, tmp_path):
    """`hmr run` decodes HRNet's heatmaps with the official quarter-cell shift unless given
    --refine dark, and gives what `hmr keypoints --refine` gives either way; run.json records
    which."""
    from hmr.pose2d import DEMO_WEIGHTS

    gt = np.load(clip.ground_truth)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(t): [gt["boxes"][t, 0].tolist()] for t in range(FRAMES)}))
    common = ["--boxes", str(boxes), "--hrnet-weights", str(DEMO_WEIGHTS), "--device", "cpu", "--precision", "fp32",
              "--quiet"]
    found = {}
    for refine in ("official", "dark"):
        out = tmp_path / refine
        assert main(["run", str(clip.video), "--out", str(out / "run"), "--refine", refine, "--no-smplify",
                     "--no-overlay", "--no-meshes", "--no-world", *common]) == 0
        assert main(["keypoints", str(clip.video), "--out", str(out / "kp"), "--weights", str(DEMO_WEIGHTS),
                     "--refine", refine, *common[:2], *common[4:]]) == 0
        run_kp = load_keypoints2d(out / "run" / "keypoints2d.npz").keypoints
        np.testing.assert_array_equal(run_kp, load_keypoints2d(out / "kp" / "keypoints2d.npz").keypoints)
        found[refine] = run_kp
        arguments = json.loads((out / "run" / "run.json").read_text())["arguments"]
        assert arguments["refine"] == (None if refine == "official" else "dark")
    shift = np.abs(found["dark"][..., :2] - found["official"][..., :2])
    assert 0 < shift.max() < 8.0  # sub-cell moves of the same peaks (a cell is 4 px of the crop)


def test_run_without_hrnet_weights_uses_the_shipped_demo_hrnet_and_says_so(clip, tmp_path, monkeypatch, capsys):
    """One rule for defaults: with no HRNet given or configured, `hmr run` and `hmr keypoints`
    use the shipped synthetic-trained HRNet, print that it stands in, and record it."""
    from hmr.pose2d import DEMO_WEIGHTS

    monkeypatch.setenv("HMR_CONFIG", str(tmp_path / "no_config.yaml"))
    for name in ("HMR_WEIGHTS_HRNET_W32", "HMR_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    gt = np.load(clip.ground_truth)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(t): [gt["boxes"][t, 0].tolist()] for t in range(FRAMES)}))
    out = tmp_path / "run"
    assert main(["run", str(clip.video), "--out", str(out), "--boxes", str(boxes), "--no-smplify", "--no-overlay",
                 "--no-meshes", "--no-world", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"stand-in: the keypoint model {DEMO_WEIGHTS.name}" in printed
    run = json.loads((out / "run.json").read_text())
    assert DEMO_WEIGHTS.name in run["stand_ins"]["keypoints"]
    assert load_keypoints2d(out / "keypoints2d.npz").valid.all()
    assert f"tracks: 1 person, in {FRAMES} of {FRAMES} frames" in printed  # who was tracked, and how long
    assert run["tracks"]["count"] == 1 and run["tracks"]["tracks"][0]["frames"] == FRAMES
    assert main(["keypoints", str(clip.video), "--out", str(tmp_path / "kp"), "--boxes", str(boxes), "--quiet"]) == 0
    assert DEMO_WEIGHTS.name in capsys.readouterr().out and (tmp_path / "kp" / "keypoints2d.npz").is_file()


def test_regress_stage_crops_at_the_models_own_size(clip, tmp_path):
    """A project regressor trained on 64-px crops (ResNet-18) gets 64-px crops, not SPIN's 224."""
    from hmr.demo import noisy_keypoints
    from hmr.core.stages import RunContext
    from hmr.regressor import HMR, HMRConfig, save_checkpoint
    from hmr.regressor.stage import RegressSettings

    torch.manual_seed(0)
    weights = save_checkpoint(tmp_path / "small.pt", HMR(HMRConfig(backbone="resnet18", image_size=64)).eval())
    keypoints = noisy_keypoints(clip.ground_truth, tmp_path / "kp.npz", noise_px=0.0, dropout=0.0)
    path = RegressSettings(hmr_weights=weights).run(tmp_path, RunContext(), video=clip.video,
                                                    keypoints=keypoints)["regressor"]
    with np.load(path) as z:
        assert z["body_pose"].shape == (FRAMES, 1, 69) and np.isfinite(z["body_pose"]).all()
        assert np.isfinite(z["transl"]).all()


def test_run_json_is_written_once_by_a_run(clip, tmp_path, monkeypatch):
    """The fit inside `hmr run` does not write its own run.json over the run's."""
    from hmr.core.provenance import RunRecord

    saved = []
    original = RunRecord.save
    monkeypatch.setattr(RunRecord, "save", lambda self, path: saved.append(self.data["command"]) or original(self, path))
    gt = np.load(clip.ground_truth)
    keypoints = save_keypoints2d(tmp_path / "keypoints2d.npz", Keypoints2D(
        keypoints=gt["keypoints"].astype(np.float32), boxes=gt["boxes"].astype(np.float32), valid=gt["valid"],
        track_ids=np.array([0]), joint_set="coco_17", image_size=tuple(int(v) for v in gt["image_size"]), fps=10.0,
        frame_indices=np.arange(FRAMES)))
    assert main(["run", str(keypoints), "--out", str(tmp_path / "out"), "--iterations", "1", "--no-meshes",
                 "--no-overlay", "--no-world", "--quiet"]) == 0
    assert saved == ["run"]
    assert json.loads((tmp_path / "out" / "run.json").read_text())["command"] == "run"


def test_smpl_npz_from_the_regressor_alone_has_the_fits_schema(clip, tmp_path):
    """With SMPLify off, smpl.npz comes from HMR alone, written by the same writer as a fit's:
    the same keys, shapes and dtypes, with the fit-only values saying that nothing was fitted."""
    from hmr.demo import noisy_keypoints
    from hmr.core.stages import RunContext
    from hmr.regressor import HMR, HMRConfig, save_checkpoint
    from hmr.regressor.stage import RegressSettings
    from hmr.smplify.stage import FitSettings
    from hmr.smplify.video import fit_keypoints_file

    torch.manual_seed(0)
    weights = save_checkpoint(tmp_path / "small.pt", HMR(HMRConfig(backbone="resnet18", image_size=64)).eval())
    keypoints = noisy_keypoints(clip.ground_truth, tmp_path / "kp.npz", noise_px=0.0, dropout=0.0)
    regressor = RegressSettings(hmr_weights=weights).run(tmp_path, RunContext(), video=clip.video,
                                                         keypoints=keypoints)["regressor"]
    (tmp_path / "alone").mkdir()
    alone_path = FitSettings(smplify=False).run(tmp_path / "alone", RunContext(), keypoints=keypoints,
                                                regressor=regressor)["smpl"]
    alone = dict(np.load(alone_path))
    fit_keypoints_file(keypoints, tmp_path / "fit", iterations=1, initial=regressor)
    fitted = dict(np.load(tmp_path / "fit" / "smpl.npz"))
    assert set(alone) == set(fitted)
    for name, value in fitted.items():
        assert alone[name].dtype == value.dtype, name
        assert alone[name].shape == value.shape or name == "over_threshold", name  # (N, 2): N differs
    assert alone["valid"].all() and not alone["fitted"].any() and not alone["valid_fit"].any()
    assert np.isnan(alone["reprojection_loss"]).all() and alone["over_threshold"].shape == (0, 2)
    assert str(alone["betas_per"]) == "frame" and str(fitted["betas_per"]) == "track"


def test_a_run_reports_every_stage_in_order_up_to_its_total(clip, weights, tmp_path):
    from progress_helpers import check_stages

    from hmr.pipeline import PipelineOptions, run_pipeline

    boxes = tmp_path / "boxes.json"
    gt = np.load(clip.ground_truth)
    boxes.write_text(json.dumps({str(t): [gt["boxes"][t, 0].tolist()] for t in range(FRAMES)}))
    options = PipelineOptions(hrnet_weights=weights / "pose_hrnet_w32_256x192.pth",
                              lifter_weights=weights / "pretrained_h36m_detectron_coco.bin",
                              hmr_weights=weights / "model_checkpoint.pt", smplify_iterations=2, flip=False,
                              boxes=boxes, device="cpu", precision="fp32", world=False)
    calls = []
    run_pipeline(clip.video, tmp_path / "run", options, progress=lambda *call: calls.append(call))
    check_stages(calls, ["keypoints", "regress", "fit", "meshes", "overlay"],
                 {"keypoints": FRAMES, "regress": FRAMES, "fit": FRAMES, "meshes": FRAMES, "overlay": FRAMES})
    again = []  # the old keyword still works; cached stages report nothing
    run_pipeline(clip.video, tmp_path / "run", options, on_progress=lambda *call: again.append(call))
    assert again == []
