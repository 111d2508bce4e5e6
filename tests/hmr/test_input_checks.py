"""Inputs checked against each other: image size, frame indices and fps of a keypoints file
against its video, and a lifter's training frame rate against the input's."""

import dataclasses
import logging

import numpy as np
import pytest

from body_models.errors import InputError
from hmr.cli import main
from hmr.core.input_checks import align_frame_indices, check_fps, check_image_size
from hmr.io.video import VideoWriter
from hmr.pose2d.keypoints_io import (Keypoints2D, boxes_from_keypoints, load_keypoints2d,
                                     save_coco_keypoints, save_keypoints2d)
from lifting.inference import check_lifter_fps

W, H, T = 64, 48, 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An 8-frame 64 × 48 video at 25 fps and one person's keypoints in it."""
    folder = tmp_path_factory.mktemp("checks")
    with VideoWriter(folder / "clip.mp4", fps=25.0) as writer:
        for t in range(T):
            writer.write(np.full((H, W, 3), 20 * t, np.uint8))
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(10, 40, (T, 1, 17, 2)), np.full((T, 1, 17, 1), 0.9)], -1).astype(np.float32)
    keypoints = Keypoints2D(keypoints=kp, boxes=boxes_from_keypoints(kp), valid=np.ones((T, 1), bool),
                            track_ids=np.array([0]), joint_set="coco_17", image_size=(W, H), fps=25.0,
                            frame_indices=np.arange(T))
    return folder, keypoints


def test_image_size_against_the_video_names_both():
    with pytest.raises(InputError, match=r"--image-size 1920x1080 .*clip\.mp4 \(768x576\)"):
        check_image_size("clip.mp4", (768, 576), given=(1920, 1080))
    with pytest.raises(InputError, match=r"kp\.npz was made on 1920x1080 .*clip\.mp4 are 768x576"):
        check_image_size("clip.mp4", (768, 576), keypoints="kp.npz", recorded=(1920, 1080))
    assert check_image_size("clip.mp4", (768, 576), given=(768, 576), recorded=(0, 0)) == (768, 576)


def test_frame_indices_against_the_video_frame_count(caplog):
    ids = np.arange(1000, 1048)  # COCO image ids numbered from 1000
    with pytest.raises(InputError, match=r"results\.json \(1000\.\.1047\).*48 frames of clip\.mp4.*--frame-offset -1000"):
        align_frame_indices(ids, 48, "results.json", "clip.mp4")
    np.testing.assert_array_equal(align_frame_indices(ids, 48, "results.json", "clip.mp4", frame_offset=-1000),
                                  np.arange(48))
    with caplog.at_level(logging.WARNING):
        shifted = align_frame_indices(np.arange(1, 49), 48, "results.json", "clip.mp4")
    np.testing.assert_array_equal(shifted, np.arange(1, 49))
    assert "1 of the 48 frame indices of results.json" in caplog.text and "clip.mp4" in caplog.text


def test_fps_of_keypoints_and_lifter_against_the_input(caplog):
    with caplog.at_level(logging.WARNING):
        assert check_fps(25.0, 30.0, "kp.npz", "clip.mp4") == 30.0
        assert check_fps(0.0, 30.0, "kp.npz", "clip.mp4") == 30.0  # unknown: no warning
        assert check_lifter_fps(50.0, 30.0, "pretrained_h36m_detectron_coco.bin", "kp.npz") is False
        assert check_lifter_fps(25.0, 30.0, "demo.pt", "kp.npz") is True  # within 25 %
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "kp.npz says 25 fps but clip.mp4 plays at 30 fps" in lines[0]
    assert "pretrained_h36m_detectron_coco.bin was trained on 50 fps" in lines[1] and "kp.npz is 30 fps" in lines[1]


def test_run_rejects_a_wrong_image_size_and_offset_ids(clip, tmp_path, capsys):
    folder, keypoints = clip
    video = str(folder / "clip.mp4")
    coco = save_coco_keypoints(tmp_path / "results.json", keypoints, image_ids=np.arange(T) + 1000)
    base = ["run", str(coco), "--video", video, "--no-smplify", "--no-overlay", "--no-meshes", "--quiet"]
    assert main(base + ["--out", str(tmp_path / "a"), "--image-size", "1920", "1080"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1920x1080" in err and "clip.mp4 (64x48)" in err
    assert main(base + ["--out", str(tmp_path / "b")]) == 2  # ids 1000.. against 8 frames
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "results.json" in err and "--frame-offset -1000" in err
    assert main(base + ["--out", str(tmp_path / "c"), "--frame-offset", "-1000"]) == 0
    written = load_keypoints2d(tmp_path / "c" / "keypoints2d.npz")
    np.testing.assert_array_equal(written.frame_indices, np.arange(T))
    assert written.image_size == (W, H) and written.fps == 25.0  # the video's, not given


def test_run_rejects_a_keypoints_file_made_on_other_images(clip, tmp_path, capsys):
    folder, keypoints = clip
    path = save_keypoints2d(tmp_path / "keypoints2d.npz", dataclasses.replace(keypoints, image_size=(1920, 1080)))
    assert main(["run", str(path), "--video", str(folder / "clip.mp4"), "--out", str(tmp_path / "o"),
                 "--no-smplify", "--no-overlay", "--no-meshes", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "keypoints2d.npz was made on 1920x1080 images" in err and "clip.mp4 are 64x48" in err
