"""The synthetic image world: COCO format, determinism, resumption, and ground truth that agrees
with itself (2D = projection of 3D; SMPL parameters rebuild the 3D joints)."""

import json

import numpy as np
import pytest
import torch

from hmr.cli import main
from hmr.io.render import Camera
from hmr.synthetic import WorldConfig, annotation_path, make_synthetic_images
from hmr.synthetic.images import surface_depth_at

SMALL = WorldConfig(image_size=(160, 128), val_fraction=0.25)


@pytest.fixture(scope="module")
def world(small_image_world):
    return small_image_world


def _load(root, split):
    return json.loads(annotation_path(root, split).read_text())


def test_coco_layout_and_held_out_split(world):
    from pycocotools.coco import COCO

    train, val = _load(world, "train"), _load(world, "val")
    assert len(train["images"]) == 3 and len(val["images"]) == 1
    assert not {i["id"] for i in train["images"]} & {i["id"] for i in val["images"]}
    coco = COCO(str(annotation_path(world, "train")))
    assert coco.getCatIds() == [1] and len(coco.getAnnIds()) == 3
    for image, ann in zip(train["images"] + val["images"], train["annotations"] + val["annotations"]):
        assert (world / "images" / image["file_name"]).is_file()
        assert (image["width"], image["height"]) == (160, 128)
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        assert set(np.unique(kp[:, 2])) <= {0, 1, 2}
        assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum())
        np.testing.assert_array_equal(kp[kp[:, 2] == 0, :2], 0)  # outside the image: COCO's unlabelled
        labelled = kp[:, 2] > 0
        assert (kp[labelled, 0] >= 0).all() and (kp[labelled, 0] < 160).all()
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and x + w <= 160 and y + h <= 128 and w > 0 and h > 0
        assert np.asarray(ann["smpl"]["body_pose"]).shape == (69,) and np.asarray(ann["smpl"]["betas"]).shape == (10,)


def test_2d_is_the_projection_of_the_3d_joints_and_smpl_rebuilds_them(world, mannequin_smpl):
    for ann in _load(world, "train")["annotations"]:
        cam = ann["camera"]
        joints = np.array(ann["joints3d_coco"])
        uv = joints[:, :2] / joints[:, 2:] * cam["focal_length"] + cam["principal_point"]
        np.testing.assert_allclose(uv, ann["keypoints_projected"], atol=0.01)
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        labelled = kp[:, 2] > 0
        np.testing.assert_allclose(kp[labelled, :2], uv[labelled], atol=0.01)
        smpl = {k: torch.tensor([v], dtype=torch.float32) for k, v in ann["smpl"].items()}
        with torch.no_grad():
            body = mannequin_smpl(**smpl)
        np.testing.assert_allclose(body.joints[0].numpy(), ann["joints3d_smpl"], atol=2e-4)
        np.testing.assert_allclose(body.joint_set("coco_17")[0].numpy(), joints, atol=2e-4)


def test_same_seed_same_files_and_resume_redoes_only_missing(world, tmp_path):
    again = tmp_path / "again"
    make_synthetic_images(again, 4, seed=3, config=SMALL)
    assert _load(again, "train") == _load(world, "train")
    first = sorted((world / "images").rglob("*.jpg"))
    assert all(p.read_bytes() == (again / p.relative_to(world)).read_bytes() for p in first)
    (again / "images" / "train" / "000001.jpg").unlink()
    make_synthetic_images(again, 4, seed=3, config=SMALL)
    assert (again / "images/train/000001.jpg").read_bytes() == (world / "images/train/000001.jpg").read_bytes()
    smaller = WorldConfig(image_size=(96, 64), val_fraction=0.25)  # other settings: nothing is reused
    make_synthetic_images(again, 4, seed=3, config=smaller)
    assert _load(again, "train")["images"][0]["width"] == 96
    import cv2

    assert cv2.imread(str(again / "images/train/000000.jpg")).shape == (64, 96, 3)
    other = tmp_path / "other"
    make_synthetic_images(other, 1, seed=4, config=SMALL)
    assert _load(other, "train")["annotations"][0]["keypoints"] != _load(world, "train")["annotations"][0]["keypoints"]


def test_surface_depth_is_the_nearest_triangle_along_the_ray():
    camera = Camera.simple(100, 100, 100.0)
    square = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float)
    vertices = np.concatenate([square + [0, 0, 2.0], square * 0.1 + [0, 0, 1.5]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    uv = np.array([[50.0, 50.0], [80.0, 80.0], [99.0, 2.0]])  # both squares, the far one, the far one
    depth = surface_depth_at(uv, vertices, faces, camera)
    np.testing.assert_allclose(depth[:2], [1.5, 2.0])
    assert depth[2] == pytest.approx(2.0)
    assert np.isinf(surface_depth_at(np.array([[500.0, 500.0]]), vertices, faces, camera)).all()


def test_command_writes_the_dataset_and_rejects_bad_counts(tmp_path, capsys):
    assert main(["make-synthetic-images", "--out", str(tmp_path / "w"), "--num", "1", "--image-size", "96", "64",
                 "--quiet"]) == 0
    assert annotation_path(tmp_path / "w", "train").is_file()
    assert main(["make-synthetic-images", "--out", str(tmp_path / "w"), "--num", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--num" in err


def test_floor_under_the_feet_changes_only_the_background(world, tmp_path):
    import cv2

    floored = tmp_path / "floored"
    make_synthetic_images(floored, 4, seed=3, config=WorldConfig(image_size=(160, 128), val_fraction=0.25,
                                                                 floor_prob=1.0))
    assert _load(floored, "train")["annotations"] == _load(world, "train")["annotations"]  # same people
    plain, floor = (cv2.imread(str(root / "images/train/000000.jpg")).astype(int) for root in (world, floored))
    changed = np.abs(plain - floor).max(-1) > 40
    x, y, w, h = _load(world, "train")["annotations"][0]["bbox"]
    person = np.zeros_like(changed)
    person[int(y):int(y + h) + 1, int(x):int(x + w) + 1] = True
    assert changed[~person].mean() > 0.3 and changed[person].mean() < changed[~person].mean()


def test_floor_is_the_plane_under_the_lowest_vertex():
    from hmr.synthetic.images import floor_background

    camera = Camera.simple(64, 48, 60.0)
    rotation = np.diag([1.0, -1.0, -1.0])  # body y up, facing the camera, looking level
    draw = lambda floor_y: floor_background(np.random.default_rng(0), camera, rotation,  # noqa: E731
                                            np.array([0.0, 0.0, 4.0]), floor_y).astype(int)
    one_metre, two_metres = draw(-1.0), draw(-2.0)  # the camera 1 m or 2 m above the floor
    assert one_metre.shape == (48, 64, 3)
    # a level camera sees the horizon on the middle row at any height: the wall above it is the same
    np.testing.assert_array_equal(one_metre[:24], two_metres[:24])
    assert np.abs(one_metre[24:] - two_metres[24:]).max() > 10  # the floor below it is not
    ceiling = draw(1.0)  # a plane above the camera is seen in the upper half, where the wall was
    assert np.abs(ceiling[:24] - one_metre[:24]).max() > 10


def test_world_settings_from_the_command(tmp_path, capsys):
    out = tmp_path / "w"
    assert main(["make-synthetic-images", "--out", str(out), "--num", "1", "--image-size", "96", "64", "--quiet",
                 "--prior-fraction", "0", "--motion-weights", "squat=1", "--floor-prob", "1"]) == 0
    info = _load(out, "train")["info"]["config"]
    assert info["motion_weights"] == [["squat", 1.0]] and info["floor_prob"] == 1.0 and info["prior_fraction"] == 0
    assert _load(out, "train")["annotations"][0]["pose_source"] == "motion"
    assert main(["make-synthetic-images", "--out", str(out), "--num", "1", "--motion-weights", "run=1"]) == 2
    assert main(["make-synthetic-images", "--out", str(out), "--num", "1", "--floor-prob", "1.5"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "--motion-weights" in errors[0] and "--floor-prob" in errors[1]
