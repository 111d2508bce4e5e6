"""Camera intrinsics: --focal-length, --fov, calibration files, and what they do to the fit."""

import dataclasses
import json

import cv2
import numpy as np
import pytest
import torch

from body_models.errors import InputError
from hmr.core.intrinsics import load_calibration, resolve_intrinsics

K_TRUE = np.array([[800.0, 0.0, 150.0], [0.0, 820.0, 130.0], [0.0, 0.0, 1.0]])
DIST_TRUE = np.array([-0.12, 0.03, 0.001, -0.002, 0.0])
TRANSL_TRUE = np.array([0.3, 0.2, 4.0])


def _write_opencv_yaml(path, k, dist):
    """A calibration file as OpenCV's own cv::FileStorage writes it."""
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 320)
    fs.write("image_height", 240)
    fs.write("camera_matrix", k)
    fs.write("distortion_coefficients", dist)
    fs.release()
    return path


def test_defaults_and_precedence(tmp_path):
    diagonal = resolve_intrinsics((320, 240))
    assert diagonal.fx == pytest.approx(400.0) and (diagonal.cx, diagonal.cy) == (160, 120)
    assert diagonal.source == "image diagonal"
    fov = resolve_intrinsics((320, 240), fov_deg=np.degrees(2 * np.arctan(160 / 800)))
    assert fov.fx == pytest.approx(800.0) and fov.source == "--fov"
    assert resolve_intrinsics((320, 240), focal_length=500, fov_deg=60).fx == 500  # pixels win over degrees
    calib = resolve_intrinsics((320, 240), focal_length=500, calibration=_write_opencv_yaml(
        tmp_path / "c.yaml", K_TRUE, DIST_TRUE))
    assert (calib.fx, calib.fy, calib.cx, calib.cy) == (800, 820, 150, 130)
    assert np.allclose(calib.dist, DIST_TRUE) and calib.source.startswith("calibration")


def test_json_calibration_and_bad_files(tmp_path):
    good = tmp_path / "c.json"
    good.write_text(json.dumps({"K": K_TRUE.tolist(), "dist": DIST_TRUE[:4].tolist()}))
    assert load_calibration(good).fy == 820 and len(load_calibration(good).dist) == 4
    cases = {"k.json": ({"K": [[800, 0, 150], [0, 820, 130]]}, r"shape \(2, 3\)"),
             "d.json": ({"K": K_TRUE.tolist(), "dist": [0.1, 0.2, 0.3]}, "3 distortion"),
             "n.json": ({"focal": 800}, "no camera matrix"),
             "z.json": ({"K": [[-800, 0, 150], [0, 820, 130], [0, 0, 1]]}, "positive")}
    for name, (content, words) in cases.items():
        (tmp_path / name).write_text(json.dumps(content))
        with pytest.raises(InputError, match=words):
            load_calibration(tmp_path / name)
    (tmp_path / "bad.yaml").write_text("K: [1, 2\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_calibration(tmp_path / "bad.yaml")
    with pytest.raises(InputError, match="calibrate at the video's size"):
        load_calibration(_write_opencv_yaml(tmp_path / "c.yaml", K_TRUE, DIST_TRUE), (640, 480))


def test_ideal_keypoints_undo_distortion_and_non_square_pixels():
    camera = resolve_intrinsics((320, 240), calibration=None)
    points = np.random.default_rng(0).uniform([-0.4, -0.3, 3.5], [0.4, 0.3, 4.5], (20, 3))
    seen, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), K_TRUE, DIST_TRUE)
    from hmr.core.intrinsics import Intrinsics

    camera = Intrinsics(800.0, 820.0, 150.0, 130.0, tuple(DIST_TRUE))
    ideal = camera.ideal_keypoints(seen.reshape(20, 2))
    expected = points[:, :2] / points[:, 2:] * 800.0 + [150.0, 130.0]
    assert np.abs(ideal - expected).max() < 1e-3  # pixels


def _keypoints(path, smpl, frames=2):
    """The mannequin in its mean pose at TRANSL_TRUE, seen through K_TRUE with DIST_TRUE (320x240)."""
    from body_models import mannequin
    from hmr.pose2d.keypoints_io import empty_keypoints, save_keypoints2d
    from hmr.smplify.fit import mean_params_to_axis_angle

    mean = mean_params_to_axis_angle(mannequin.mean_params())
    with torch.no_grad():
        body = smpl(global_orient=torch.as_tensor(mean["global_orient"])[None], body_pose=torch.as_tensor(
            mean["body_pose"])[None], betas=torch.as_tensor(mean["betas"])[None],
            transl=torch.as_tensor(TRANSL_TRUE, dtype=torch.float32)[None])
    joints = body.joint_set("coco_17")[0].double().numpy()
    uv, _ = cv2.projectPoints(joints, np.zeros(3), np.zeros(3), K_TRUE, DIST_TRUE)
    kp = empty_keypoints(frames, 1)
    kp.keypoints[:, 0, :, :2] = uv.reshape(17, 2)
    kp.keypoints[:, 0, :, 2] = 0.9
    kp.boxes[:, 0] = np.concatenate([uv.reshape(17, 2).min(0), uv.reshape(17, 2).max(0)])
    kp.valid[:] = True
    return save_keypoints2d(path, dataclasses.replace(kp, image_size=(320, 240), fps=25.0, frame_indices=np.arange(frames)))


def test_the_known_camera_gives_the_known_translation(tmp_path, mannequin_smpl):
    from hmr.cli import main

    source = _keypoints(tmp_path / "kp.npz", mannequin_smpl)
    calib = _write_opencv_yaml(tmp_path / "calib.yml", K_TRUE, DIST_TRUE)
    fov = str(np.degrees(2 * np.arctan(160 / 800)))
    transl, runs = {}, {}
    for name, flags in (("diagonal", []), ("fov", ["--fov", fov]), ("calibration", ["--calibration", str(calib)])):
        out = tmp_path / name
        assert main(["run", str(source), "--out", str(out), "--iterations", "10", "--quiet", "--no-overlay",
                     "--no-meshes", *flags]) == 0
        with np.load(out / "smpl.npz") as z:
            transl[name] = z["transl"][0, 0]
        runs[name] = json.loads((out / "run.json").read_text())["intrinsics"]
    assert runs["diagonal"]["source"] == "image diagonal" and runs["diagonal"]["fx"] == pytest.approx(400)
    assert runs["fov"]["source"] == "--fov" and runs["calibration"]["fy"] == 820
    # depth scales with the focal length: 400 px puts the body at about half the true 4 m
    assert transl["diagonal"][2] == pytest.approx(TRANSL_TRUE[2] / 2, rel=0.15)
    assert transl["fov"][2] == pytest.approx(TRANSL_TRUE[2], rel=0.15)
    # the calibration (principal point, fy, distortion) gives the true translation
    err = {k: np.linalg.norm(v - TRANSL_TRUE) for k, v in transl.items()}
    assert err["calibration"] < 0.1 and err["calibration"] < err["fov"] < err["diagonal"], err


def test_a_calibration_of_the_wrong_shape_is_one_line(tmp_path, capsys, mannequin_smpl):
    from hmr.cli import main

    bad = tmp_path / "calib.json"
    bad.write_text(json.dumps({"K": [800, 0, 150, 0, 820]}))
    source = _keypoints(tmp_path / "kp.npz", mannequin_smpl, frames=1)
    assert main(["run", str(source), "--out", str(tmp_path / "o"), "--calibration", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "calib.json" in err and "3x3" in err
