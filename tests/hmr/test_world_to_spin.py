"""The image world as SPIN-layout regressor data: targets that agree with the COCO truth, crops cut
as the pipeline cuts them, mocap that is not the training poses, and a regressor that trains on it."""

import json

import numpy as np
import pytest
import torch

from body_models import joints as js
from body_models.errors import InputError, MissingFileError
from hmr.cli import main
from hmr.evaluation.smplify_setup import load_smplify_keypoints
from hmr.regressor.data import Augmentation, MocapData, SpinDataset
from hmr.regressor.train import RegressorTrainConfig, train_regressor
from hmr.synthetic.spin_layout import world_mocap, world_to_spin

COCO_IN_SPIN = [js.SPIN_24.index(name) for name in js.COCO_17.names]


@pytest.fixture(scope="module")
def converted(small_image_world):
    return small_image_world, world_to_spin(small_image_world, num_mocap=64)


def _annotations(root, split):
    return json.loads((root / "annotations" / f"person_keypoints_{split}.json").read_text())["annotations"]


def test_targets_are_the_world_truth_in_spin_order(converted):
    root, written = converted
    for split, count in (("train", 3), ("val", 1)):
        with np.load(written[split], allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        annotations = _annotations(root, split)
        keypoints_table, joint_set = load_smplify_keypoints(written[f"{split}_keypoints"])
        assert joint_set == "coco_17" and len(keypoints_table) == count
        assert len(arrays["imgname"]) == count == len(annotations)
        for i, ann in enumerate(annotations):
            part = arrays["part"][i]
            np.testing.assert_allclose(part[COCO_IN_SPIN, :2], ann["keypoints_projected"], atol=0.01)
            coco_v = np.asarray(ann["keypoints"]).reshape(17, 3)[:, 2]
            assert (part[COCO_IN_SPIN, 2][coco_v == 0] == 0).all()
            smplify_keypoints = keypoints_table[(arrays["imgname"][i], 0)]
            np.testing.assert_allclose(smplify_keypoints[:, 2], coco_v > 0)
            np.testing.assert_allclose(smplify_keypoints[coco_v > 0, :2], part[COCO_IN_SPIN, :2][coco_v > 0], atol=0.01)
            inside = ((part[:, :2] >= 0) & (part[:, :2] < (160, 128))).all(-1)
            assert (part[~inside, 2] == 0).all() and set(np.unique(part[:, 2])) <= {0.0, 1.0}
            x, y, w, h = ann["bbox"]
            np.testing.assert_allclose(arrays["center"][i], (x + w / 2, y + h / 2))
            np.testing.assert_allclose(arrays["scale"][i], 1.2 * max(w, h) / 200)
            np.testing.assert_allclose(arrays["pose"][i], ann["smpl"]["global_orient"] + ann["smpl"]["body_pose"])
            np.testing.assert_allclose(arrays["shape"][i], ann["smpl"]["betas"])
            joints = arrays["S"][i]
            hips = joints[[js.SPIN_24.index("left_hip"), js.SPIN_24.index("right_hip")], :3].mean(0)
            np.testing.assert_allclose(hips, 0.0, atol=1e-9)
            # the camera-frame joints, less the pelvis, are the COCO 3D truth's
            coco = np.asarray(ann["joints3d_coco"])
            offset = coco - joints[COCO_IN_SPIN, :3]
            np.testing.assert_allclose(offset, np.broadcast_to(offset[:1], offset.shape), atol=1e-4)


def test_dataset_reads_it_and_crops_hold_the_person(converted):
    root, written = converted
    dataset = SpinDataset(written["train"], root / "images")
    sample = dataset.sample(0, 64, Augmentation(enabled=False), np.random.default_rng(0))
    assert sample["image"].shape == (3, 64, 64) and sample["has_smpl"] == 1 and sample["has_3d"] == 1
    seen = sample["keypoints"][:, 2] > 0
    assert seen.sum() >= 10
    # the box with 1.2 context holds every visible joint inside the crop's [-1, 1] square
    assert (np.abs(sample["keypoints"][seen, :2]) <= 1.0).all()


def test_mocap_is_upright_varied_and_not_the_training_poses(converted):
    root, written = converted
    mocap = MocapData(written["mocap"])
    assert mocap.poses.shape == (64, 72) and mocap.betas.shape == (64, 10)
    training = np.load(written["train"])["pose"]
    distance = np.abs(mocap.poses[:, None, 3:] - training[None, :, 3:]).max(-1)
    assert distance.min() > 1e-3
    assert mocap.poses[:, 3:].std(0).mean() > 0.05
    from body_models.rotations import axis_angle_to_matrix

    up = axis_angle_to_matrix(torch.from_numpy(mocap.poses[:, :3]).double()) @ torch.tensor([0.0, 1.0, 0.0]).double()
    np.testing.assert_allclose(up[:, 1].numpy(), -1.0, atol=1e-9)  # body's up is the camera's −y
    again = world_mocap(64, seed=1)
    np.testing.assert_array_equal(again["poses"], mocap.poses)


def test_small_backbone_trains_on_it(converted, tmp_path):
    root, written = converted
    config = RegressorTrainConfig(
        model={"backbone": "resnet18", "image_size": 64}, datasets=({"npz": str(written["train"]), "images": str(root / "images")},),
        mocap=str(written["mocap"]), steps=2, batch_size=2, checkpoint_every=2, log_every=1)
    result = train_regressor(config, tmp_path / "run")
    assert result.step == 2 and all(np.isfinite(l.loss) for _, l in result.history)
    from hmr.regressor import load_pretrained

    assert load_pretrained(result.model_path).config.backbone == "resnet18"


def test_command_and_bad_worlds(converted, tmp_path, capsys):
    root, _ = converted
    assert main(["world-to-spin", str(root), "--num-mocap", "8"]) == 0
    assert "spin/train.npz" in capsys.readouterr().out
    with pytest.raises(MissingFileError, match="make-synthetic-images"):
        world_to_spin(tmp_path / "nowhere")
    plain = tmp_path / "plain"
    (plain / "annotations").mkdir(parents=True)
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 8}],
            "annotations": [{"id": 1, "image_id": 1, "keypoints": [0] * 51, "bbox": [0, 0, 4, 4]}]}
    (plain / "annotations" / "person_keypoints_train.json").write_text(json.dumps(coco))
    with pytest.raises(InputError, match="no 'smpl' truth"):
        world_to_spin(plain)


# --- hmr eval world --------------------------------------------------------------------------------

H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # SPIN constants.py


def _regress(smpl, pose, betas):
    """(N, 72), (N, 10) → (N, 17, 3) regressor joints, (N, V, 3) vertices, from the mannequin's files."""
    from body_models import mannequin

    with torch.no_grad():
        out = smpl(betas=torch.as_tensor(betas, dtype=torch.float32), body_pose=torch.as_tensor(pose[:, 3:], dtype=torch.float32),
                   global_orient=torch.as_tensor(pose[:, :3], dtype=torch.float32))
    verts = out.vertices.double().numpy()
    return np.einsum("jv,bvc->bjc", np.load(mannequin.j_regressor_h36m_path()), verts), verts


def test_world_benchmark_matches_independent_computation(converted, tmp_path, mannequin_smpl):
    from hmr.evaluation import synthetic, world
    from hmr.evaluation.harness import MeshEvaluator

    root, written = converted
    dataset = world.load_dataset(written["train"])
    assert dataset.image_root == root / "images" and [len(s) for s in dataset.sequences] == [3]
    evaluator = MeshEvaluator(dataset.protocol, synthetic.stand_in_predictor(), mannequin_smpl, dataset.image_root,
                              tmp_path / "out", batch_size=2, progress=False, gt_bodies={"neutral": mannequin_smpl})
    report = world.score(evaluator.run(dataset.sequences), dataset)
    with np.load(written["train"]) as data:
        names, pose, betas = [str(n) for n in data["imgname"]], data["pose"], data["shape"]
    gt_j, gt_v = _regress(mannequin_smpl, pose, betas)
    params = [synthetic.stand_in_parameters(n) for n in names]
    pr_j, pr_v = _regress(mannequin_smpl, np.stack([p["pose"] for p in params]), np.stack([p["betas"] for p in params]))
    gt14, pr14 = gt_j[:, H36M_TO_J14] - gt_j[:, :1], pr_j[:, H36M_TO_J14] - pr_j[:, :1]
    values = report.variants[0].overall.values
    np.testing.assert_allclose(values["mpjpe_mm"], 1000 * np.linalg.norm(pr14 - gt14, axis=-1).mean(), rtol=1e-4)
    pve = np.linalg.norm((pr_v - pr_j[:, :1]) - (gt_v - gt_j[:, :1]), axis=-1).mean()
    np.testing.assert_allclose(values["pve_mm"], 1000 * pve, rtol=1e-4)
    assert values["pa_mpjpe_mm"] < values["mpjpe_mm"] and values["pve_mm"] > 1.0


def test_eval_world_command_and_bad_files(converted, tmp_path, capsys):
    from hmr.regressor import HMR, HMRConfig, save_checkpoint

    root, written = converted
    checkpoint = save_checkpoint(tmp_path / "hmr.pt", HMR(HMRConfig(backbone="resnet18", image_size=64)).eval())
    assert main(["eval", "world", str(written["val"]), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert "world" in json.dumps(results) and "mannequin" in capsys.readouterr().out
    # with SMPLify on the world's own 2D keypoints: a second variant
    assert main(["eval", "world", str(written["val"]), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "s"),
                 "--smplify-keypoints", str(written["val_keypoints"]), "--smplify-iters", "2", "--quiet"]) == 0
    assert "[smplify]" in capsys.readouterr().out
    from hmr.evaluation import world

    with pytest.raises(MissingFileError, match="world-to-spin"):
        world.load_dataset(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", imgname=np.array(["a.jpg"]))
    with pytest.raises(InputError, match="missing center"):
        world.load_dataset(tmp_path / "bad.npz")
