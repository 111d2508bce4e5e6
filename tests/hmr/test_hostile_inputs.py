"""Careless and hostile inputs through the CLI: each gives a one-line error or a correct result.

The scene is one or two mannequins in front of a 320 × 240 camera, a few frames; the lifter is
the shipped demo lifter. Each test is a regression test for a fault found by a sweep of about
100 such inputs.
"""

import json
import math
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from body_models import mannequin
from body_models.atomic import save_npz
from body_models.cameras import perspective_project
from body_models.errors import InputError
from body_models.motion import sample_poses
from body_models.npz import load_npz
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmr.cli import main
from hmr.io.video import write_video
from hmr.pose2d.keypoints_io import Keypoints2D, boxes_from_keypoints, save_coco_keypoints, save_keypoints2d
from lifting import DEMO_WEIGHTS

W, H = 320, 240
FOCAL_PX = math.hypot(W, H)


def _scene(smpl, frames: int, people: int, seed: int = 0) -> np.ndarray:
    """(T, P, 17, 3) COCO keypoints of mannequins standing 4-5 m away, pixels, confidence 1."""
    pose = torch.from_numpy(sample_poses(frames * people, seed=seed))
    orient = matrix_to_axis_angle(axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0])).expand(frames * people, 3, 3))
    pelvis = torch.tensor([[-0.5 + 1.0 * p, 0.1, 4.0 + 0.5 * p] for p in range(people)]).repeat(frames, 1)
    with torch.no_grad():
        rest = smpl(body_pose=pose, global_orient=orient)
        body = smpl(body_pose=pose, global_orient=orient, transl=pelvis - rest.joints[:, 0])
    uv = perspective_project(body.joint_set("coco_17"), FOCAL_PX, torch.tensor([W / 2, H / 2])).numpy()
    return np.concatenate([uv, np.ones((*uv.shape[:2], 1))], -1).reshape(frames, people, 17, 3).astype(np.float32)


def _save(path, kp: np.ndarray, fps: float = 25.0):
    valid = np.isfinite(kp[..., 0]).any(-1) & (kp[..., 2] > 0).any(-1)
    return save_keypoints2d(path, Keypoints2D(
        keypoints=kp, boxes=boxes_from_keypoints(kp), valid=valid, track_ids=np.arange(kp.shape[1]),
        joint_set="coco_17", image_size=(W, H), fps=fps, frame_indices=np.arange(len(kp))))


@pytest.fixture(scope="module")
def walk(mannequin_smpl):
    return _scene(mannequin_smpl, frames=6, people=1)


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


# ---------------------------------------------------------------------------------------------
# --out that is a file, interrupts, failed runs


@pytest.mark.parametrize("command", [
    ["run", "KP"], ["lift", "KP"], ["fit", "--keypoints", "KP"], ["mannequin"],
    ["eval", "3dpw", "KP", "--checkpoint", "KP"], ["keypoints", "KP", "--weights", "KP"]])
def test_out_that_is_a_file_is_a_one_line_error(command, walk, tmp_path, capsys):
    kp = _save(tmp_path / "kp.npz", walk)
    blocker = tmp_path / "afile"
    blocker.write_text("mine")
    argv = [str(kp) if a == "KP" else a for a in command] + ["--out", str(blocker)]
    assert main(argv) == 2
    _one_line_error(capsys, str(blocker), "is a file")
    assert blocker.read_text() == "mine"


def test_ctrl_c_is_one_line_and_a_failed_run_leaves_no_empty_folder(walk, tmp_path, monkeypatch, capsys):
    import hmr.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(hmr.pipeline, "run_pipeline", interrupted)
    out = tmp_path / "never"
    assert main(["run", str(_save(tmp_path / "kp.npz", walk)), "--out", str(out)]) == 130
    _one_line_error(capsys, "interrupted")
    assert not out.exists(), "a failed run removes the folder it made when nothing is in it"

    monkeypatch.undo()
    missing = tmp_path / "missing.npz"
    assert main(["run", str(missing), "--out", str(out)]) == 2
    assert not out.exists()


def test_temporaries_of_a_killed_run_are_removed(walk, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "meshes" / "0").mkdir(parents=True)
    stale = [out / ".overlay.k2j4h5g6.tmp.mp4", out / "meshes" / "0" / ".000003.ab_cd123.tmp.obj"]
    for path in stale:
        path.write_bytes(b"partial")
    mine = out / ".notes.tmp.txt"  # not a name atomic writes make: kept
    mine.write_text("x")
    assert main(["lift", str(_save(tmp_path / "kp.npz", walk)), "--out", str(out)]) == 0
    assert not any(p.exists() for p in stale) and mine.exists()


# ---------------------------------------------------------------------------------------------
# keypoint files


@pytest.mark.parametrize("content, words", [
    ("strings", ["keypoints must be a list of numbers"]),
    ({"images": [{"file_name": "a.jpg"}], "annotations": []}, ["an image has no 'id'"]),
    ([{"image_id": 0, "score": 1.0}], ["no 'keypoints'"]),
    ("just a string", ["neither a COCO results list"]),
    (42, ["neither a COCO results list"]),
    ({"images": "no", "annotations": {}}, ["must be lists"]),
    ([{"image_id": [1], "keypoints": [0] * 51}], ["image_id"]),
])
def test_bad_coco_json_is_a_one_line_error(content, words, walk, tmp_path, capsys):
    path = tmp_path / "kp.json"
    if content == "strings":
        save_coco_keypoints(path, Keypoints2D(
            keypoints=walk, boxes=boxes_from_keypoints(walk), valid=np.ones(walk.shape[:2], bool),
            track_ids=np.arange(1), joint_set="coco_17", image_size=(W, H), fps=25.0,
            frame_indices=np.arange(len(walk))))
        records = json.loads(path.read_text())
        records[0]["keypoints"][4] = "oops"
        content = records
    path.write_text(json.dumps(content))
    for command in (["run", str(path)], ["lift", str(path)], ["fit", "--keypoints", str(path)]):
        assert main(command + ["--image-size", str(W), str(H), "--out", str(tmp_path / "o")]) == 2
        _one_line_error(capsys, str(path), *words)


def test_damaged_npz_files_are_one_line_errors(walk, tmp_path, capsys):
    good = _save(tmp_path / "kp.npz", walk)
    arrays = dict(np.load(good))
    strings = tmp_path / "strings.npz"
    np.savez(strings, **{**arrays, "keypoints": arrays["keypoints"].astype(str)})
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    huge = tmp_path / "huge.npz"  # a header that claims a 40 GB array, followed by 16 bytes
    with zipfile.ZipFile(huge, "w") as archive:
        for key, value in arrays.items():
            if key != "keypoints":
                with archive.open(f"{key}.npy", "w") as f:
                    np.save(f, value)
        with archive.open("keypoints.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                     "shape": (100_000, 100_000, 1, 1)})
            f.write(b"\0" * 16)
    with pytest.raises(InputError, match="40 GB"):
        load_npz(huge)
    for path, words in ((strings, ["not numbers"]), (truncated, ["not a readable npz"]), (huge, ["damaged"])):
        for command in (["lift", str(path)], ["fit", "--keypoints", str(path)], ["run", str(path)]):
            assert main(command + ["--out", str(tmp_path / "o")]) == 2
            _one_line_error(capsys, str(path), *words)


def test_lift_takes_every_keypoint_format_that_run_takes(walk, tmp_path):
    coco = tmp_path / "kp.json"
    save_coco_keypoints(coco, Keypoints2D(
        keypoints=walk, boxes=boxes_from_keypoints(walk), valid=np.ones(walk.shape[:2], bool),
        track_ids=np.arange(1), joint_set="coco_17", image_size=(W, H), fps=25.0,
        frame_indices=np.arange(len(walk))))
    assert main(["lift", str(coco), "--image-size", str(W), str(H), "--out", str(tmp_path / "a")]) == 0
    assert main(["lift", str(_save(tmp_path / "kp.npz", walk)), "--out", str(tmp_path / "b")]) == 0
    with np.load(tmp_path / "a" / "joints3d.npz") as a, np.load(tmp_path / "b" / "joints3d.npz") as b:
        np.testing.assert_allclose(a["joints"], b["joints"], atol=2e-3)  # COCO JSON rounds to 1/1000 px


# ---------------------------------------------------------------------------------------------
# silently wrong results


def _lifted(tmp_path, name, kp) -> dict:
    out = tmp_path / name
    assert main(["lift", str(_save(tmp_path / f"{name}.npz", kp)), "--out", str(out)]) == 0
    with np.load(out / "joints3d.npz") as z:
        return dict(z)


def test_keypoints_of_1e30_are_dropped_not_lifted(walk, tmp_path):
    clean = _lifted(tmp_path, "clean", walk)
    broken = walk.copy()
    broken[2:4, 0, :5, :2] = 1e30
    broken[4, 0, 6, 0] = np.inf
    lifted = _lifted(tmp_path, "broken", broken)
    assert np.isfinite(lifted["joints"]).all() and lifted["valid"].all()
    assert np.abs(lifted["joints"]).max() < 2.0, "metres, root-relative"
    assert np.abs(lifted["joints"] - clean["joints"]).max() < 0.5


def test_a_joint_absent_in_every_frame_drops_nobody(mannequin_smpl, tmp_path):
    kp = _scene(mannequin_smpl, frames=4, people=2, seed=1)
    kp[:, :, 9] = np.nan  # the left wrist is never detected, for either person
    kp[:, :, 9, 2] = 0.0
    lifted = _lifted(tmp_path, "absent", kp)
    assert lifted["valid"].all() and np.isfinite(lifted["joints"]).all()


def test_lifter_weights_full_of_nan_are_refused(walk, tmp_path, capsys):
    from lifting import DEMO_WEIGHTS

    checkpoint = torch.load(DEMO_WEIGHTS, weights_only=True)
    state = checkpoint["model_pos"]
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first] = torch.full_like(state[first], float("nan"))
    diverged = tmp_path / "diverged.pt"
    torch.save(checkpoint, diverged)
    kp = _save(tmp_path / "kp.npz", walk)
    assert main(["lift", str(kp), "--weights", str(diverged), "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, str(diverged), "NaN")
    assert main(["run", str(kp), "--lifter-weights", str(diverged), "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "NaN")


def test_one_frame_lifts_and_fits(walk, tmp_path):
    kp = _save(tmp_path / "one.npz", walk[:1])
    assert main(["lift", str(kp), "--out", str(tmp_path / "lift")]) == 0
    assert main(["fit", "--keypoints", str(kp), "--iterations", "3", "--temporal-weight", "1.0",
                 "--out", str(tmp_path / "fit"), "--quiet"]) == 0
    with np.load(tmp_path / "lift" / "joints3d.npz") as z:
        assert z["joints"].shape == (1, 1, 17, 3) and np.isfinite(z["joints"]).all()
    with np.load(tmp_path / "fit" / "smpl.npz") as z:
        assert z["transl"].shape == (1, 1, 3) and np.isfinite(z["transl"]).all()
        assert 3.0 < float(z["transl"][0, 0, 2]) < 5.5, "the body stands about 4 m away"


# ---------------------------------------------------------------------------------------------
# files read from data sets


def test_a_3dpw_sequence_name_cannot_leave_out(tmp_path, capsys):
    from hmr.evaluation import synthetic

    data = synthetic.write_3dpw(tmp_path / "3dpw", sequences=(("downtown_walk_00", 1),), frames=2, invalid=(),
                                image_size=(32, 32))
    pickle_path = data["folder"] / "downtown_walk_00.pkl"
    from body_models.safe_pickle import load_pickle

    record = load_pickle(pickle_path)
    target = data["root"] / "imageFiles" / "downtown_walk_00"
    # ".." past the root stays at the root, so the images are still found and the key escapes
    record["sequence"] = "../" * 40 + str(target).lstrip("/")
    pickle_path.write_bytes(pickle.dumps(record, protocol=2))
    checkpoint = synthetic.write_spin_checkpoint(tmp_path / "model_checkpoint.pt")
    out = tmp_path / "report"
    assert main(["eval", "3dpw", str(data["root"]), "--checkpoint", str(checkpoint), "--out", str(out),
                 "--batch-size", "2", "--quiet", "--device", "cpu"]) == 0
    assert not list(target.parent.glob("*.npz")), "nothing was written beside the images"
    written = list((out / "sequences").glob("*.npz"))
    assert len(written) == 1 and ".." not in written[0].name[:1]


def test_3dhp_annotations_with_strings_are_a_one_line_error(tmp_path):
    import h5py

    from hmr.evaluation import mpi_inf_3dhp, synthetic

    data = synthetic.write_3dhp(tmp_path / "3dhp", frames=2, image_size=(32, 32), sequences=("TS1",))
    path = data["test_set"] / "TS1" / "annot_data.mat"
    with h5py.File(path, "r+") as handle:
        del handle["annot2"]
        handle.create_dataset("annot2", data=np.array([b"x"] * 68).reshape(2, 1, 17, 2))
    with pytest.raises(InputError, match="annot2 holds .*not numbers"):
        mpi_inf_3dhp.read_annotations(path)


# ---------------------------------------------------------------------------------------------
# video timing


def _write_vfr(path, pts, size=(64, 48)):
    """An H.264 mp4 whose frames are shown at ``pts`` tenths of a second (variable rate)."""
    from fractions import Fraction

    import av

    container = av.open(str(path), "w", format="mp4")
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.codec_context.time_base = Fraction(1, 10)
    for i, p in enumerate(pts):
        frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 25 * i, np.uint8), format="rgb24")
        frame.pts, frame.time_base = p, Fraction(1, 10)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def test_variable_frame_rate_video_keeps_its_timing(tmp_path):
    from hmr.io.video import VideoWriter, iter_frames

    pts = [0, 1, 2, 5, 6, 9]
    _write_vfr(tmp_path / "vfr.mp4", pts)
    frames = list(iter_frames(tmp_path / "vfr.mp4"))
    assert [f.index for f in frames] == list(range(len(pts))), "every frame once, in order"
    np.testing.assert_allclose([f.time_s for f in frames], np.array(pts) / 10, atol=1e-3)
    assert [round(int(f.image[0, 0, 0]) / 25) for f in frames] == list(range(len(pts)))
    with VideoWriter(tmp_path / "copy.mp4", fps=10) as writer:
        for frame in frames:
            writer.write(frame.image, frame.time_s)
    np.testing.assert_allclose([f.time_s for f in iter_frames(tmp_path / "copy.mp4")], np.array(pts) / 10, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# the stage cache of `hmr run`: keyed on the content of every file a stage reads


@pytest.fixture(scope="module")
def body_files(tmp_path_factory):
    model, _, extra, mean, prior = mannequin.export_files(tmp_path_factory.mktemp("mannequin"))
    return {"model": model, "extra": extra, "mean": mean, "prior": prior}


def _run(out, source, files, *extra):
    argv = ["run", str(source), "--out", str(out), "--iterations", "1", "--no-meshes", "--no-flip", "--quiet",
            "--body-model", str(files["model"]), "--prior", str(files["prior"]),
            "--mean-params", str(files["mean"]), "--j-regressor-extra", str(files["extra"]), *extra]
    assert main(argv) == 0
    return json.loads((out / "run.json").read_text())


def _nudge_npz(path, key):
    arrays = dict(np.load(path))
    arrays[key] = arrays[key] + np.float32(1e-4)
    save_npz(path, **arrays)


def test_changed_body_files_rerun_the_fit_and_timings_survive_the_cache(mannequin_smpl, body_files, tmp_path):
    files = {k: tmp_path / v.name for k, v in body_files.items()}
    for key, path in files.items():
        path.write_bytes(body_files[key].read_bytes())
    kp = _save(tmp_path / "kp.npz", _scene(mannequin_smpl, frames=1, people=1))
    out = tmp_path / "out"
    first = _run(out, kp, files, "--no-overlay")
    assert first["cached_stages"] == [] and "lift" not in first["skipped_stages"], "the shipped lifter runs"
    assert first["files"]["lifter_weights"]["path"].endswith(DEMO_WEIGHTS.name)
    for role in ("input", "body_model", "pose_prior", "mean_params", "j_regressor_extra", "lifter_weights"):
        assert len(first["files"][role]["sha256"]) == 64, role

    again = _run(out, kp, files, "--no-overlay")
    assert set(again["cached_stages"]) == {"keypoints", "lift", "fit"}
    assert again["timings_s"] == first["timings_s"], "a cached stage keeps the time of the run that made it"

    _nudge_npz(files["mean"], "shape")
    assert _run(out, kp, files, "--no-overlay")["cached_stages"] == ["keypoints", "lift"]
    extra = np.load(files["extra"])
    np.save(files["extra"], extra * np.float32(1.0001))
    assert _run(out, kp, files, "--no-overlay")["cached_stages"] == ["keypoints", "lift"]
    _nudge_npz(files["model"], "v_template")
    assert _run(out, kp, files, "--no-overlay")["cached_stages"] == ["keypoints", "lift"]

    smpl = out / "smpl.npz"
    smpl.write_bytes(smpl.read_bytes()[:100])  # truncated by the user
    rerun = _run(out, kp, files, "--no-overlay")
    assert rerun["cached_stages"] == ["keypoints", "lift"]
    with np.load(smpl) as z:
        assert np.isfinite(z["transl"]).all()


def test_the_video_gives_image_size_and_fps_and_is_part_of_the_key(mannequin_smpl, body_files, tmp_path):
    walk = _scene(mannequin_smpl, frames=2, people=1)
    coco = tmp_path / "kp.json"  # COCO results record no image size
    save_coco_keypoints(coco, Keypoints2D(
        keypoints=walk, boxes=boxes_from_keypoints(walk), valid=np.ones(walk.shape[:2], bool),
        track_ids=np.arange(1), joint_set="coco_17", image_size=(W, H), fps=0.0, frame_indices=np.arange(2)))
    video = tmp_path / "clip.mp4"
    write_video(video, [np.full((H, W, 3), 90, np.uint8)] * 2, fps=12.0)
    out = tmp_path / "out"
    first = _run(out, coco, body_files, "--video", str(video), "--no-overlay")
    assert len(first["files"]["video"]["sha256"]) == 64
    with np.load(out / "keypoints2d.npz") as z:
        assert tuple(z["image_size"]) == (W, H) and float(z["fps"]) == 12.0
    with np.load(out / "joints3d.npz") as z:
        assert float(z["fps"]) == 12.0

    write_video(video, [np.full((H, W, 3), 10, np.uint8)] * 2, fps=15.0)  # replaced in place
    second = _run(out, coco, body_files, "--video", str(video), "--no-overlay")
    assert "keypoints" not in second["cached_stages"]
    with np.load(out / "keypoints2d.npz") as z:
        assert float(z["fps"]) == 15.0


# ---------------------------------------------------------------------------------------------


def test_help_does_not_import_torch():
    code = "import sys, hmr.cli; hmr.cli.build_parser(); sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
