"""``hmr fit``: SMPLify on whole keypoint files (our npz, COCO JSON, OpenPose folders) → smpl.npz.

The scene: two mannequins in front of a 640 × 480 camera (focal length = the image diagonal, the
command's default), three frames, the second person missing in the middle frame. Few iterations
keep the runs short; fit quality itself is measured in test_smplify.py.
"""

import json
import math
import pickle

import numpy as np
import pytest
import torch

from body_models.cameras import crop_camera_to_full_image, perspective_project
from body_models.meshes import load_obj
from body_models.motion import sample_poses
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmr.cli import main
from hmr.pose2d.keypoints_io import Keypoints2D, boxes_from_keypoints, save_coco_keypoints, save_keypoints2d
from hmr.smplify.losses import reprojection_loss
from body_models.cameras import full_image_to_crop_camera
from hmr.smplify.video import crop_boxes_from_keypoints

W, H = 640, 480
FOCAL_PX = math.hypot(W, H)
T, P = 3, 2
TRACKS = (3, 7)
ITERATIONS = "4"


@pytest.fixture(scope="module")
def scene(mannequin_smpl):
    """Ground-truth bodies and their projected keypoints: COCO-17 and OpenPose-25, (T, P, J, 3)."""
    pose = torch.from_numpy(sample_poses(T * P, seed=3))
    upright = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0]))
    turn = axis_angle_to_matrix(torch.tensor([0.0, 0.3, 0.0]))
    orient = matrix_to_axis_angle((upright @ turn).expand(T * P, 3, 3))
    pelvis = torch.tensor([[-0.6, 0.1, 4.0], [0.7, 0.0, 5.0]]).repeat(T, 1)
    with torch.no_grad():
        rest = mannequin_smpl(body_pose=pose, global_orient=orient)
        body = mannequin_smpl(body_pose=pose, global_orient=orient, transl=pelvis - rest.joints[:, 0])
    center = torch.tensor([W / 2, H / 2])

    def keypoints(joint_set):
        uv = perspective_project(body.joint_set(joint_set), FOCAL_PX, center).numpy()
        kp = np.concatenate([uv, np.ones((*uv.shape[:2], 1))], -1).reshape(T, P, -1, 3).astype(np.float32)
        kp[1, 1] = np.nan  # person 7 is missing in frame 1
        kp[1, 1, :, 2] = 0.0
        return kp

    return {"joints": body.joints.numpy().reshape(T, P, 24, 3), "coco": keypoints("coco_17"),
            "openpose": keypoints("openpose_25")}


def _keypoints2d(kp: np.ndarray) -> Keypoints2D:
    valid = np.isfinite(kp[..., 0]).any(-1)
    return Keypoints2D(keypoints=kp, boxes=boxes_from_keypoints(kp), valid=valid, track_ids=np.array(TRACKS),
                       joint_set="coco_17", image_size=(W, H), fps=25.0, frame_indices=np.arange(10, 10 + T))


@pytest.fixture(scope="module")
def npz_fit(scene, tmp_path_factory):
    """``hmr fit`` on a keypoints2d.npz, with meshes; returns (smpl.npz arrays, output folder)."""
    folder = tmp_path_factory.mktemp("fit_npz")
    path = save_keypoints2d(folder / "keypoints2d.npz", _keypoints2d(scene["coco"]))
    out = folder / "out"
    assert main(["fit", "--keypoints", str(path), "--out", str(out), "--iterations", ITERATIONS,
                 "--meshes", "--quiet"]) == 0
    with np.load(out / "smpl.npz", allow_pickle=False) as z:
        return dict(z), out


def _check_schema(smpl: dict) -> None:
    shapes = {"global_orient": (T, P, 3), "body_pose": (T, P, 69), "betas": (T, P, 10), "cam": (T, P, 3),
              "transl": (T, P, 3), "joints": (T, P, 24, 3), "valid": (T, P), "fitted": (T, P),
              "valid_fit": (T, P), "betas_zeroed": (T, P), "reprojection_loss": (T, P),
              "crop_boxes": (T, P, 4), "frame_indices": (T,), "track_ids": (P,)}
    for name, shape in shapes.items():
        assert smpl[name].shape == shape, name
    assert int(smpl["schema_version"]) == 1 and str(smpl["body_model"]) == "mannequin"
    assert float(smpl["focal_length"]) == pytest.approx(FOCAL_PX)
    np.testing.assert_allclose(smpl["principal_point"], [W / 2, H / 2])
    expected_valid = np.ones((T, P), bool)
    expected_valid[1, 1] = False
    np.testing.assert_array_equal(smpl["valid"], expected_valid)
    for name in ("global_orient", "body_pose", "betas", "cam", "transl", "joints", "crop_boxes"):
        assert np.isnan(smpl[name][1, 1]).all(), name  # the missing person: a NaN row
        assert np.isfinite(smpl[name][expected_valid]).all(), name
    assert not smpl["fitted"][1, 1] and not smpl["valid_fit"][1, 1]
    assert smpl["fitted"][expected_valid].all()  # from the mean pose every fit improves
    assert (smpl["transl"][expected_valid][:, 2] > 2.0).all()  # in front of the camera


def test_fit_npz_writes_the_schema_meshes_and_flags(npz_fit, scene, mannequin_smpl):
    smpl, out = npz_fit
    _check_schema(smpl)
    np.testing.assert_array_equal(smpl["frame_indices"], [10, 11, 12])
    np.testing.assert_array_equal(smpl["track_ids"], TRACKS)
    assert str(smpl["keypoints_joint_set"]) == "coco_17" and smpl["fps"] == 25.0
    # The saved joints are the saved parameters' joints, and land near the keypoints in the image.
    ok = smpl["valid"]
    with torch.no_grad():
        body = mannequin_smpl(betas=torch.from_numpy(smpl["betas"][ok]),
                              body_pose=torch.from_numpy(smpl["body_pose"][ok]),
                              global_orient=torch.from_numpy(smpl["global_orient"][ok]),
                              transl=torch.from_numpy(smpl["transl"][ok]))
    np.testing.assert_allclose(body.joints.numpy(), smpl["joints"][ok], atol=1e-5)
    uv = perspective_project(body.joint_set("coco_17"), FOCAL_PX, torch.tensor([W / 2, H / 2])).numpy()
    pixel_error = np.linalg.norm(uv - scene["coco"][ok][..., :2], axis=-1).mean()
    assert pixel_error < 40.0, pixel_error  # a few iterations from the mean pose: near, not exact
    # The stored loss is SPIN's, in the person's 224-pixel crop: image residuals × 224 / crop side.
    boxes = smpl["crop_boxes"][ok]
    scale = torch.from_numpy(224.0 / (boxes[:, 2] - boxes[:, 0]))[:, None, None]
    kp = torch.from_numpy(scene["coco"][ok])
    crop_loss = reprojection_loss(torch.from_numpy(uv) * scale, kp[..., :2] * scale, kp[..., 2], sigma=100.0)
    np.testing.assert_allclose(crop_loss.mean(-1).numpy(), smpl["reprojection_loss"][ok], rtol=1e-3)
    np.testing.assert_array_equal(smpl["valid_fit"][ok], smpl["reprojection_loss"][ok] < 100.0)
    # cam is the crop camera of crop_boxes: converting it back gives transl.
    back = crop_camera_to_full_image(smpl["cam"][ok], 0.5 * (boxes[:, :2] + boxes[:, 2:]),
                                     boxes[:, 2] - boxes[:, 0], np.array([W, H]), FOCAL_PX)
    np.testing.assert_allclose(back, smpl["transl"][ok], rtol=1e-4, atol=1e-4)
    # One OBJ per fitted person and frame, named by track and frame, matching the parameters.
    names = sorted(str(p.relative_to(out / "meshes")) for p in (out / "meshes").rglob("*.obj"))
    assert names == ["3/000010.obj", "3/000011.obj", "3/000012.obj", "7/000010.obj", "7/000012.obj"]
    mesh = load_obj(out / "meshes" / "7" / "000012.obj")
    assert mesh.vertices.shape == (6890, 3) and mesh.faces.shape == (13776, 3)
    np.testing.assert_allclose(mesh.vertices, body.vertices[-1].numpy(), atol=1e-5)
    assert (out / "meshes" / "3" / "000010.obj").read_text().startswith("# body model: mannequin")
    assert json.loads((out / "run.json").read_text())["command"] == "fit"


def test_one_shape_per_track_by_default_and_per_frame_on_request(npz_fit, scene, tmp_path):
    smpl, out = npz_fit
    ok = smpl["valid"]
    for p in range(P):
        betas = smpl["betas"][ok[:, p], p]
        assert np.abs(betas).max() > 0  # fitted, not the mean shape left alone
        np.testing.assert_array_equal(betas, np.broadcast_to(betas[0], betas.shape))  # identical in every frame
    assert str(smpl["betas_per"]) == "track"
    assert json.loads((out / "run.json").read_text())["arguments"]["betas"] == "track"
    path = save_keypoints2d(tmp_path / "keypoints2d.npz", _keypoints2d(scene["coco"]))
    assert main(["fit", "--keypoints", str(path), "--out", str(tmp_path / "out"), "--iterations", ITERATIONS,
                 "--betas-per-frame", "--quiet"]) == 0
    per_frame = dict(np.load(tmp_path / "out" / "smpl.npz", allow_pickle=False))
    assert str(per_frame["betas_per"]) == "frame"
    assert np.abs(np.diff(per_frame["betas"][:, 0], axis=0)).max() > 1e-6  # frames differ


def test_full_mesh_on_request_gives_the_same_fit(npz_fit, scene, tmp_path):
    """--full-mesh skins every vertex at each step (SPIN's way): the same fit as the default
    joints-only path, to float rounding, and run.json says which ran."""
    smpl, out = npz_fit
    assert json.loads((out / "run.json").read_text())["arguments"]["joints_only"] is None
    path = save_keypoints2d(tmp_path / "keypoints2d.npz", _keypoints2d(scene["coco"]))
    assert main(["fit", "--keypoints", str(path), "--out", str(tmp_path / "full"), "--iterations", ITERATIONS,
                 "--full-mesh", "--quiet"]) == 0
    assert json.loads((tmp_path / "full" / "run.json").read_text())["arguments"]["joints_only"] is False
    full = dict(np.load(tmp_path / "full" / "smpl.npz", allow_pickle=False))
    ok = smpl["valid"]
    np.testing.assert_array_equal(full["valid"], ok)
    np.testing.assert_allclose(full["joints"][ok], smpl["joints"][ok], atol=2e-4)  # metres: 0.2 mm


def test_fit_coco_json_matches_the_npz_run(npz_fit, scene, tmp_path, capsys):
    path = save_coco_keypoints(tmp_path / "results.json", _keypoints2d(scene["coco"]))
    out = tmp_path / "out"
    assert main(["fit", "--keypoints", str(path), "--out", str(out), "--iterations", ITERATIONS, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--image-size" in err  # COCO results do not record the image size
    assert main(["fit", "--keypoints", str(path), "--out", str(out), "--iterations", ITERATIONS,
                 "--image-size", str(W), str(H), "--quiet"]) == 0
    assert "fitted 5 of 5 person-frames" in capsys.readouterr().out
    smpl = dict(np.load(out / "smpl.npz", allow_pickle=False))
    _check_schema(smpl)
    np.testing.assert_array_equal(smpl["frame_indices"], [10, 11, 12])  # the COCO image ids
    ok = smpl["valid"]
    np.testing.assert_allclose(smpl["joints"][ok], npz_fit[0]["joints"][ok], atol=2e-3)  # JSON rounds to 1e-3 px
    assert not (out / "meshes").exists()


def test_fit_openpose_folder_with_the_temporal_term(scene, tmp_path):
    folder = tmp_path / "openpose"
    folder.mkdir()
    for t in range(T):
        people = [{"person_id": [TRACKS[p]], "pose_keypoints_2d": np.nan_to_num(scene["openpose"][t, p]).reshape(-1).tolist()}
                  for p in range(P) if np.isfinite(scene["openpose"][t, p, :, 0]).any()]
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    out = tmp_path / "out"
    # Batch size 2 with the temporal term: each person's frames in windows of 2, one with a gap.
    assert main(["fit", "--keypoints", str(folder), "--out", str(out), "--image-size", str(W), str(H),
                 "--iterations", "2", "--temporal-weight", "100", "--batch-size", "2", "--quiet"]) == 0
    smpl = dict(np.load(out / "smpl.npz", allow_pickle=False))
    _check_schema(smpl)
    assert str(smpl["keypoints_joint_set"]) == "openpose_25"
    run = json.loads((out / "run.json").read_text())
    assert run["arguments"]["temporal_weight"] == 100.0 and run["arguments"]["batch_size"] == 2


def test_crop_camera_is_the_inverse_of_the_full_image_conversion():
    rng = np.random.default_rng(0)
    cam = np.stack([rng.uniform(0.5, 1.5, 5), rng.uniform(-0.3, 0.3, 5), rng.uniform(-0.3, 0.3, 5)], -1)
    center, size = rng.uniform(100, 500, (5, 2)), rng.uniform(50, 300, 5)
    transl = crop_camera_to_full_image(cam, center, size, np.array([W, H]), FOCAL_PX)
    np.testing.assert_allclose(full_image_to_crop_camera(transl, center, size, (W, H), FOCAL_PX),
                               cam, rtol=1e-6, atol=1e-6)
    kp = np.array([[[100.0, 50.0, 1.0], [140.0, 250.0, 1.0], [np.nan, np.nan, 0.0]]])
    np.testing.assert_allclose(crop_boxes_from_keypoints(kp), [[0.0, 30.0, 240.0, 270.0]])  # 1.2 × 200 px
    assert np.isnan(crop_boxes_from_keypoints(np.full((1, 3, 3), np.nan))).all()


class _Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_bad_files_are_one_line_errors(npz_fit, tmp_path, capsys):
    keypoints = str(tmp_path / "missing.npz")
    out = str(tmp_path / "out")
    cases = [
        (["--keypoints", keypoints], "missing.npz"),
        (["--keypoints", str(_write(tmp_path / "broken.npz", b"not a zip"))], "broken.npz"),
        (["--keypoints", str(_write(tmp_path / "notes.txt", b"x"))], "notes.txt"),
    ]
    good = str(npz_fit[1].parent / "keypoints2d.npz")
    cases += [
        # A real SMPL model needs the user's gmm_08.pkl; the message says where it comes from.
        (["--keypoints", good, "--body-model", str(tmp_path / "SMPL_NEUTRAL.pkl")], "smplify.is.tue.mpg.de"),
        (["--keypoints", good, "--prior", str(tmp_path / "gmm_08.pkl")], "gmm_08.pkl"),
        (["--keypoints", good, "--prior", str(_write(tmp_path / "evil.pkl",
                                                     pickle.dumps({"means": _Boom()}, protocol=2)))], "evil.pkl"),
        (["--keypoints", good, "--image-size", "0", "480"], "image size"),
    ]
    for args, needle in cases:
        assert main(["fit", *args, "--out", out, "--iterations", "1", "--quiet"]) == 2, args
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert err.startswith("hmr fit: error:") and err.count("\n") == 0 and needle in err, (args, err)
        assert "this must never run" not in captured.out
    assert not (tmp_path / "out").exists()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_fits_above_the_loss_threshold_are_listed(npz_fit, scene, tmp_path, capsys):
    smpl, out = npz_fit
    over = smpl["over_threshold"]  # (N, 2) frame index, track id
    expected = np.argwhere(smpl["valid"] & ~smpl["valid_fit"])
    assert over.shape == (len(expected), 2)
    np.testing.assert_array_equal(over[:, 0], smpl["frame_indices"][expected[:, 0]])
    np.testing.assert_array_equal(over[:, 1], smpl["track_ids"][expected[:, 1]])
    run = json.loads((out / "run.json").read_text())
    assert run["over_threshold"]["count"] == len(expected)

    # A fit that cannot converge (no steps, a large noise) leaves every fit above the threshold.
    noisy = scene["coco"].copy()
    noisy[..., :2] += np.random.default_rng(0).normal(0, 40, noisy[..., :2].shape).astype(np.float32)
    path = save_keypoints2d(tmp_path / "noisy.npz", _keypoints2d(noisy))
    capsys.readouterr()
    assert main(["fit", "--keypoints", str(path), "--out", str(tmp_path / "o"), "--iterations", "0", "--quiet"]) == 0
    printed = capsys.readouterr().out
    with np.load(tmp_path / "o" / "smpl.npz") as z:
        count = int((z["valid"] & ~z["valid_fit"]).sum())
        assert count == len(z["over_threshold"]) and count > 0
    hint = [line for line in printed.splitlines() if "above the loss threshold" in line]
    assert len(hint) == 1 and f"{count} fits" in hint[0] and "frames 10" in hint[0]
    assert json.loads((tmp_path / "o" / "run.json").read_text())["over_threshold"]["count"] == count


def test_the_lifters_orientation_is_a_start(mannequin_smpl, tmp_path):
    """A walker seen from behind, fitted without the turned start: from the mean start it ends
    facing the camera; with the orientation of (here: true) 3D joints as a start it faces away."""
    import dataclasses

    from hmr.smplify.fit import SMPLifyConfig
    from hmr.smplify.video import fit_keypoints_file

    away = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0])) @ axis_angle_to_matrix(torch.tensor([0.0, 2.9, 0.0]))
    orient = matrix_to_axis_angle(away)[None]
    with torch.no_grad():
        rest = mannequin_smpl(global_orient=orient)
        body = mannequin_smpl(global_orient=orient, transl=torch.tensor([[0.0, 0.1, 4.5]]) - rest.joints[:, 0])
    uv = perspective_project(body.joint_set("coco_17"), FOCAL_PX, torch.tensor([W / 2, H / 2])).numpy()
    kp = np.concatenate([uv, np.ones((1, 17, 1))], -1).reshape(1, 1, 17, 3).astype(np.float32)
    keypoints = save_keypoints2d(tmp_path / "kp.npz", Keypoints2D(
        keypoints=kp, boxes=boxes_from_keypoints(kp), valid=np.ones((1, 1), bool), track_ids=np.arange(1),
        joint_set="coco_17", image_size=(W, H), fps=25.0, frame_indices=np.arange(1)))
    joints = body.joint_set("h36m_17").numpy()
    lifted = tmp_path / "joints3d.npz"
    np.savez(lifted, joints=(joints - joints[:, :1]).reshape(1, 1, 17, 3), valid=np.ones((1, 1), bool))
    config = dataclasses.replace(SMPLifyConfig(), try_turned=False, num_iters=30)

    def facing(out):
        with np.load(out / "smpl.npz") as z:
            fitted = axis_angle_to_matrix(torch.from_numpy(z["global_orient"][0, 0]))
        front = (fitted @ torch.tensor([0.0, 0.0, 1.0]))[[0, 2]]
        truth = (away @ torch.tensor([0.0, 0.0, 1.0]))[[0, 2]]
        return math.degrees(math.acos(float(front @ truth / (front.norm() * truth.norm()))))

    fit_keypoints_file(keypoints, tmp_path / "plain", config=config)
    fit_keypoints_file(keypoints, tmp_path / "lifted", config=config, orientation_joints=lifted)
    assert facing(tmp_path / "plain") > 90 and facing(tmp_path / "lifted") < 30


def test_warm_waves_visit_every_frame_once_after_its_predecessor():
    from hmr.smplify.video import _warm_waves

    present = np.ones((7, 2), bool)
    present[3, 1] = False  # person 1 missing in frame 3: its frame 4 follows frame 2
    seen = {}
    for wave, (t_idx, p_idx, previous) in enumerate(_warm_waves(present, 3)):
        for i, (t, p) in enumerate(zip(t_idx, p_idx)):
            seen[(int(t), int(p))] = wave
            if previous is None:
                assert wave == 0
            else:
                assert seen[(int(previous[i]), int(p))] == wave - 1  # the previous frame came in the wave before
    assert set(seen) == {(t, p) for t, p in zip(*np.nonzero(present))}
    assert [t for (t, p), w in sorted(seen.items()) if p == 1 and w == 0] == [0, 4]  # every 3rd present frame


@pytest.mark.slow
def test_warm_start_fits_each_frame_from_the_previous_fit(mannequin_smpl, tmp_path):
    """--warm-start N: keyframes from their own start, the frames between from the previous
    frame's fit. One warm step barely moves a frame off its predecessor; more come near the
    cold fit."""
    from body_models.motion import generate_motion

    frames = 8
    clip = generate_motion("walk", frames, fps=10.0, seed=1)
    upright = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0]))
    orient = matrix_to_axis_angle(upright @ axis_angle_to_matrix(torch.from_numpy(clip.global_orient)))
    pose = torch.from_numpy(clip.body_pose)
    with torch.no_grad():
        rest = mannequin_smpl(body_pose=pose, global_orient=orient)
        body = mannequin_smpl(body_pose=pose, global_orient=orient,
                              transl=torch.tensor([0.0, 0.2, 4.0]) - rest.joints[:, 0])
    uv = perspective_project(body.joint_set("coco_17"), FOCAL_PX, torch.tensor([W / 2, H / 2])).numpy()
    kp = np.concatenate([uv, np.ones((*uv.shape[:2], 1))], -1)[:, None].astype(np.float32)
    path = save_keypoints2d(tmp_path / "keypoints2d.npz", Keypoints2D(
        keypoints=kp, boxes=boxes_from_keypoints(kp), valid=np.ones((frames, 1), bool), track_ids=np.array([0]),
        joint_set="coco_17", image_size=(W, H), fps=10.0, frame_indices=np.arange(frames)))
    fits = {}
    for name, extra in (("cold", []), ("one_step", ["--warm-start", "4", "--warm-iterations", "1"]),
                        ("warm", ["--warm-start", "4", "--warm-iterations", "20"])):
        assert main(["fit", "--keypoints", str(path), "--out", str(tmp_path / name), "--iterations", "40",
                     "--quiet", *extra]) == 0
        fits[name] = dict(np.load(tmp_path / name / "smpl.npz", allow_pickle=False))
    assert json.loads((tmp_path / "warm" / "run.json").read_text())["arguments"]["warm_start"] == 4
    keyframes = [0, 4]
    for name in ("one_step", "warm"):  # keyframes are fitted as without a warm start
        np.testing.assert_allclose(fits[name]["body_pose"][keyframes], fits["cold"]["body_pose"][keyframes], atol=1e-5)
    one = fits["one_step"]["body_pose"][:, 0]
    for t in (1, 2, 3, 5, 6, 7):  # Adam's first step moves each value by at most its learning rate, 0.01
        assert np.abs(one[t] - one[t - 1]).max() <= 0.0101, t
    assert np.abs(one[1] - fits["cold"]["body_pose"][1, 0]).max() > 1e-3  # not a cold fit

    def joint_error(fit):
        return 1000 * np.linalg.norm(fit["joints"][:, 0] - body.joints.numpy(), axis=-1).mean()
    assert joint_error(fits["warm"]) < joint_error(fits["cold"]) + 10.0  # mm
    assert main(["fit", "--keypoints", str(path), "--out", str(tmp_path / "both"), "--warm-start", "4",
                 "--temporal-weight", "1", "--quiet"]) == 2
