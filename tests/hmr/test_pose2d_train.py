"""Keypoint training: COCO-format data, HRNet's targets, loss falling, exact resume, DSNT, fine-tuning
to a new joint count, DDP with two gloo processes, COCO evaluation, and one-line errors."""

import json
import os
import socket

import cv2
import numpy as np
import pytest
import torch

from body_models.errors import InputError, MissingFileError
from hmr.cli import main
from hmr.pose2d import HRNet, HRNetConfig, save_checkpoint
from hmr.pose2d.data import NO_AUGMENTATION, Augmentation, CocoKeypoints, gaussian_targets
from hmr.pose2d.evaluation import coco_keypoint_ap, keypoint_errors
from hmr.pose2d.losses import dsnt_loss, joints_mse_loss, normalized_heatmaps, soft_argmax
from hmr.pose2d.topdown import heatmap_coordinates
from hmr.pose2d.train import Pose2DTrainConfig, load_train_config, train_pose2d

TINY_MODEL = {"width": 8, "num_joints": 17, "image_size": [64, 64], "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]}


def write_tiny_coco(root, num_images=4, num_joints=17, seed=0, size=(96, 80)):
    """Images with a coloured dot at each keypoint of one 'person', as a COCO keypoint file."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        image = np.full((size[1], size[0], 3), 40, np.uint8)
        x0, y0 = rng.uniform(10, 30), rng.uniform(5, 20)
        kp = np.stack([x0 + rng.uniform(0, 50, num_joints), y0 + rng.uniform(0, 50, num_joints),
                       np.full(num_joints, 2.0)], 1)
        kp[0, 2] = 1  # one hidden joint: still labelled
        for j, (x, y, _) in enumerate(kp):
            colour = tuple(int(c) for c in (np.array([j * 37 % 255, j * 91 % 255, 255 - j * 13]) % 256))
            cv2.circle(image, (int(x), int(y)), 3, colour, -1)
        cv2.imwrite(str(root / "images" / f"{i:03d}.png"), image)
        box = [float(kp[:, 0].min() - 4), float(kp[:, 1].min() - 4), float(np.ptp(kp[:, 0]) + 8), float(np.ptp(kp[:, 1]) + 8)]
        images.append({"id": i + 1, "file_name": f"{i:03d}.png", "width": size[0], "height": size[1]})
        annotations.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "bbox": box,
                            "area": box[2] * box[3], "num_keypoints": num_joints,
                            "keypoints": [round(float(v), 2) for v in kp.reshape(-1)]})
    path = root / "keypoints.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "person"}]}))
    return path


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: tiny networks only lose time to thread hand-offs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def tiny(tmp_path):
    return write_tiny_coco(tmp_path), tmp_path / "images"


def tiny_config(annotations, images, **changes):
    values = dict(model=TINY_MODEL, train_annotations=str(annotations), train_images=str(images), batch_size=2,
                  epochs=3, lr=3e-3, log_every=1, checkpoint_every=100, rotation_factor=10.0)
    values.update(changes)
    return Pose2DTrainConfig(**values)


def test_targets_peak_on_the_joint_cell_and_drop_joints_off_the_map():
    joints = np.array([[10.0, 21.0], [-100.0, 5.0], [30.0, 30.0]])
    target, weight = gaussian_targets(joints, np.array([1, 1, 0]), (48, 64), (12, 16), sigma=2.0)
    assert target.shape == (3, 16, 12)
    assert np.unravel_index(target[0].argmax(), target[0].shape) == (5, 3)  # (21/4 + .5, 10/4 + .5) truncated
    assert target[0].max() == 1.0
    np.testing.assert_array_equal(weight[:, 0], [1, 0, 0])
    assert target[1].max() == 0 and target[2].max() == 0


def test_losses_match_their_definitions():
    out, gt = torch.randn(2, 3, 8, 6), torch.rand(2, 3, 8, 6)
    weight = torch.tensor([[[1.0], [0.0], [1.0]], [[1.0], [1.0], [1.0]]])
    expected = 0.5 * ((out - gt) * weight[..., None]).square().mean((0, 2, 3)).mean()
    assert joints_mse_loss(out, gt, weight).item() == pytest.approx(expected.item(), rel=1e-6)
    per = 0.5 * ((out - gt) * weight[..., None]).square().mean((2, 3))  # (B, J)
    assert joints_mse_loss(out, gt, weight, ohkm_topk=2).item() == pytest.approx(
        (per.topk(2, 1).values.sum(1) / 2).mean().item(), rel=1e-6)


def test_dsnt_decodes_its_own_peak_and_trains_toward_the_joint():
    logits = torch.full((1, 1, 8, 8), -30.0)
    logits[0, 0, 3, 5] = 0.0
    logits[0, 0, 3, 6] = 0.0  # two equal cells: the soft-argmax lies between them
    coords, _ = heatmap_coordinates(logits, head="dsnt")
    np.testing.assert_allclose(coords[0, 0], [5.5, 3.0], atol=1e-6)
    torch.testing.assert_close(soft_argmax(normalized_heatmaps(logits)).double(), torch.from_numpy(coords))
    maps = torch.zeros(1, 2, 16, 16, requires_grad=True)
    target = torch.tensor([[[4.0, 11.0], [12.0, 3.0]]])
    optimizer = torch.optim.Adam([maps], lr=0.3)
    losses = []
    for _ in range(60):
        loss, _ = dsnt_loss(maps, target, torch.ones(1, 2, 1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    coords, _ = heatmap_coordinates(maps.detach(), head="dsnt")
    np.testing.assert_allclose(coords[0], target[0].numpy(), atol=0.3)


def test_training_lowers_the_loss(tiny):
    config = tiny_config(*tiny, epochs=8, rotation_factor=0.0, scale_factor=0.0, flip=False, half_body_prob=0.0)
    result = train_pose2d(config, tiny[0].parent / "run")
    losses = [loss for _, loss in result.history]
    assert len(losses) == 16
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    from hmr.pose2d import load_pretrained

    model = load_pretrained(result.model_path)
    assert model.config.width == 8 and not model.training
    log = (result.log_path).read_text().splitlines()
    assert log[0].startswith("step,epoch,lr,loss") and len(log) == 17


@pytest.mark.parametrize("head", ["heatmap", "dsnt"])
def test_resume_is_exact(tiny, tmp_path, head):
    config = tiny_config(*tiny, model={**TINY_MODEL, "head": head})
    straight = train_pose2d(config, tmp_path / "straight")  # 3 epochs of 2 steps
    cut = tiny_config(*tiny, model={**TINY_MODEL, "head": head}, max_steps=3)  # stops inside epoch 1
    first = train_pose2d(cut, tmp_path / "cut")
    assert first.step == 3
    resumed = train_pose2d(config, tmp_path / "cut", resume=True)
    assert resumed.step == straight.step == 6
    assert [round(v, 7) for _, v in resumed.history] == [round(v, 7) for _, v in straight.history[3:]]
    a = torch.load(straight.checkpoint, weights_only=True)
    b = torch.load(resumed.checkpoint, weights_only=True)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert (tmp_path / "cut" / "log.csv").read_text() .count("\n") == (tmp_path / "straight" / "log.csv").read_text().count("\n")


def test_augmented_samples_keep_joints_on_their_pixels(tiny):
    annotations, images = tiny
    aug = CocoKeypoints(annotations, images, (64, 64), (16, 16), 2.0, [(1, 2), (3, 4)], Augmentation(), seed=1)
    plain = CocoKeypoints(annotations, images, (64, 64), (16, 16), 2.0, [(1, 2), (3, 4)], NO_AUGMENTATION)
    for dataset in (aug, plain):
        for epoch in range(3):
            dataset.set_epoch(epoch)
            item = dataset.sample(0)
            crop, joints, weight = item["input"], item["joints"] * 4, item["target_weight"][:, 0]
            for j in np.nonzero(weight)[0]:
                x, y = np.round(joints[j]).astype(int)
                if 2 <= x < 62 and 2 <= y < 62:
                    assert crop[y - 1:y + 2, x - 1:x + 2].max() > 60, "a dot lies under each joint"
    aug.set_epoch(0)
    assert np.array_equal(aug.sample(1)["input"], aug.sample(1)["input"])  # seeded by (seed, epoch, index)


def test_finetune_to_a_new_joint_count_gets_a_fresh_final_layer(tmp_path):
    annotations = write_tiny_coco(tmp_path, num_joints=5)
    source = HRNet(HRNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in TINY_MODEL.items()}))
    save_checkpoint(tmp_path / "start.pt", source)
    config = tiny_config(annotations, tmp_path / "images", model={**TINY_MODEL, "num_joints": 5},
                         init_weights=str(tmp_path / "start.pt"), flip=False, epochs=1, lr=1e-9)
    result = train_pose2d(config, tmp_path / "run")
    assert sorted(result.fresh_keys) == ["final_layer.bias", "final_layer.weight"]
    trained = torch.load(result.checkpoint, weights_only=True)["model"]
    assert trained["final_layer.weight"].shape[0] == 5
    torch.testing.assert_close(trained["conv1.weight"], source.state_dict()["conv1.weight"], atol=1e-6, rtol=0)


def test_bf16_autocast_trains(tiny, tmp_path):
    result = train_pose2d(tiny_config(*tiny, amp="bf16", epochs=1), tmp_path / "bf16")
    assert all(np.isfinite(loss) for _, loss in result.history)


def _ddp_worker(rank, world, port, config, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank))
    torch.set_num_threads(1)
    result = train_pose2d(config, out)
    torch.save({"step": result.step, "weights": result.model.state_dict()}, out / f"rank{rank}.pt")


def test_two_gloo_processes_train_in_step(tmp_path):
    annotations = write_tiny_coco(tmp_path, num_images=8)
    config = tiny_config(annotations, tmp_path / "images", epochs=1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "ddp").mkdir()
    torch.multiprocessing.start_processes(_ddp_worker, args=(2, port, config, tmp_path / "ddp"), nprocs=2, join=True,
                                          start_method="fork")
    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["step"] == ranks[1]["step"] == 2  # 8 people / 2 ranks / batches of 2
    torch.manual_seed(config.seed)
    start = HRNet(config.hrnet_config()).state_dict()  # the initial weights both ranks started from
    weight = "final_layer.weight"
    assert not torch.equal(ranks[0]["weights"][weight], start[weight])  # it trained
    for key, value in ranks[0]["weights"].items():  # averaged gradients keep the ranks identical
        if "running" not in key and "num_batches" not in key:  # BatchNorm statistics stay per rank
            torch.testing.assert_close(value, ranks[1]["weights"][key], rtol=0, atol=1e-6, msg=key)
    assert (tmp_path / "ddp" / "hrnet.pt").is_file() and (tmp_path / "ddp" / "log.csv").is_file()


def test_perfect_predictions_score_ap_one(tiny):
    annotations, _ = tiny
    data = json.loads(annotations.read_text())
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in data["annotations"]]
    assert coco_keypoint_ap(annotations, results)["AP"] == pytest.approx(1.0)
    truth = np.array([a["keypoints"] for a in data["annotations"]]).reshape(-1, 17, 3)
    boxes = np.array([a["bbox"] for a in data["annotations"]])
    perfect = keypoint_errors(truth, truth, boxes)
    assert perfect["mean_px_error"] == 0 and perfect["pck"] == 1.0
    off = truth.copy()
    off[:, :, 0] += 0.06 * boxes[:, 2:].max(1)[:, None]  # every joint just past the PCK radius
    assert keypoint_errors(off, truth, boxes)["pck"] == 0.0
    results[0]["keypoints"] = list(np.array(results[0]["keypoints"]) + 25)
    assert coco_keypoint_ap(annotations, results)["AP"] < 1.0


def test_eval_command_on_ground_truth_boxes(tiny, tmp_path, capsys):
    model = HRNet(HRNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in TINY_MODEL.items()}))
    save_checkpoint(tmp_path / "m.pt", model)
    annotations, images = tiny
    assert main(["eval", "coco-keypoints", str(annotations), "--images", str(images), "--checkpoint",
                 str(tmp_path / "m.pt"), "--out", str(tmp_path / "ev"), "--quiet"]) == 0
    results = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert 0 <= results["AP"] <= 1 and 0 <= results["pck"] <= 1 and results["num_people"] == 4
    assert "OKS AP" in capsys.readouterr().out


def test_bad_inputs_are_one_line_errors(tiny, tmp_path, capsys):
    annotations, images = tiny
    with pytest.raises(InputError, match="has 17 keypoints but the model has 5"):
        CocoKeypoints(annotations, images, (64, 64), (16, 16), 2.0, num_joints=5)
    with pytest.raises(MissingFileError, match="is missing"):
        CocoKeypoints(annotations, tmp_path / "nowhere", (64, 64), (16, 16), 2.0)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(InputError, match="no usable person"):
        CocoKeypoints(empty, images, (64, 64), (16, 16), 2.0)
    with pytest.raises(InputError, match="unknown HRNetConfig key 'widht'"):
        tiny_config(annotations, images, model={"widht": 8})
    with pytest.raises(InputError, match="head must be one of"):
        tiny_config(annotations, images, model={**TINY_MODEL, "head": "softmax"})
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(f"train_annotations: {annotations}\ntrain_images: {images}\nlearning_rate: 0.1\n")
    with pytest.raises(InputError, match="unknown Pose2DTrainConfig key 'learning_rate'"):
        load_train_config(recipe)
    other = tmp_path / "wide.pt"
    save_checkpoint(other, HRNet(HRNetConfig(width=16, image_size=(64, 64), num_modules=(1, 1, 1), num_blocks=(1, 1, 1))))
    good = tmp_path / "good.yaml"
    good.write_text(f"train_annotations: {annotations}\ntrain_images: {images}\nmodel: {json.dumps(TINY_MODEL)}\n"
                    f"init_weights: {other}\nepochs: 1\n")
    assert main(["train-pose2d", "--config", str(good), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "do not fit HRNet(width=8)" in err
    torch.save({"format": "hmr-video/hmr-train"}, tmp_path / "lifter.pt")
    assert main(["eval", "coco-keypoints", str(annotations), "--images", str(images), "--checkpoint",
                 str(tmp_path / "lifter.pt"), "--out", str(tmp_path / "ev")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_clip_scores_count_missing_joints_against_pck():
    from hmr.pose2d.evaluation import score_keypoint_sequence

    truth = np.zeros((4, 17, 3))
    truth[..., :2], truth[..., 2] = 100.0, 1.0
    truth[0, 3, 2] = 0  # not scored
    boxes = np.tile([[50.0, 0.0, 150.0, 200.0]], (4, 1))  # longer side 200: PCK radius 10 px
    predicted = np.repeat(truth[:, None], 2, 1)
    predicted[:, 1, :, :2] += 50  # a second, farther track is ignored
    predicted[:, 0, :, 0] += 4.0
    predicted[1, 0, 5, :2] = np.nan  # one joint not given
    valid = np.ones((4, 2), bool)
    valid[3, 0] = False  # a frame without the person
    scores = score_keypoint_sequence(predicted, valid, truth, boxes)
    scored = 4 * 17 - 1
    given = scored - 1 - 17
    assert scores["mean_px_error"] == pytest.approx(4.0)
    assert scores["pck"] == pytest.approx(given / scored)
    assert scores["detected"] == pytest.approx(given / scored)


def test_progress_counts_steps_to_the_runs_end_and_on_through_a_resume(tiny, tmp_path):
    first, then = [], []
    train_pose2d(tiny_config(*tiny, max_steps=3), tmp_path / "run", progress=lambda *call: first.append(call))
    assert first == [("train", done, 3) for done in range(4)]
    train_pose2d(tiny_config(*tiny), tmp_path / "run", resume=True, progress=lambda *call: then.append(call))
    assert then == [("train", done, 6) for done in range(3, 7)]  # 3 epochs of 2 steps
