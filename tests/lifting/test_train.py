"""Lifter training: chunks as VideoPose3D's ChunkedGenerator, MPJPE falling, exact resume."""

import shutil

import numpy as np
import pytest
import torch

from body_models.errors import InputError, MissingFileError
from body_models.joints import COCO_17, H36M_17
from lifting import load_pretrained, load_trajectory_model
from lifting.synthetic import make_synthetic_h36m
from lifting.train import (
    ChunkedBatches,
    TrainConfig,
    _rank_batches,
    bn_momentum,
    train_lifter,
)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, mannequin_smpl):
    out = tmp_path_factory.mktemp("train_data")
    return make_synthetic_h36m(out, frames=30, subjects=("S1", "S5", "S9"),
                               actions={"Walking": "walk", "Greeting": "wave"}, takes=1, smpl=mannequin_smpl)


def _config(synthetic, **changes):
    values = dict(data_3d=str(synthetic["3d"]), data_2d=str(synthetic["2d"]),
                  model=dict(filter_widths=[3, 3], channels=32), subjects_train=("S1", "S5"),
                  subjects_test=("S9",), epochs=4, batch_size=64, checkpoint_frequency=2)
    values.update(changes)
    return TrainConfig(**values)


def _official_chunks(poses_2d, poses_3d, chunk_length, pad, shift, augment, kps, joints, seed):
    """What ChunkedGenerator yields for one pass, written out with np.pad per chunk."""
    pairs = []
    for i, seq in enumerate(poses_2d):
        n_chunks = (len(seq) + chunk_length - 1) // chunk_length
        offset = (n_chunks * chunk_length - len(seq)) // 2
        bounds = np.arange(n_chunks + 1) * chunk_length - offset
        pairs += [(i, bounds[k], bounds[k + 1], False) for k in range(n_chunks)]
        if augment:
            pairs += [(i, bounds[k], bounds[k + 1], True) for k in range(n_chunks)]
    order = np.random.RandomState(seed).permutation(pairs)
    inputs, targets = [], []
    for seq_i, start, end, flip in order:
        def cut(seq, lo, hi):
            low, high = max(lo, 0), min(hi, len(seq))
            return np.pad(seq[low:high], ((low - lo, hi - high), (0, 0), (0, 0)), "edge")
        x = cut(poses_2d[seq_i], start - pad - shift, end + pad - shift).copy()
        y = cut(poses_3d[seq_i], start, end).copy()
        if flip:
            x[..., 0] *= -1
            x[:, kps[0] + kps[1]] = x[:, kps[1] + kps[0]]
            y[..., 0] *= -1
            y[:, joints[0] + joints[1]] = y[:, joints[1] + joints[0]]
        inputs.append(x)
        targets.append(y)
    return order, np.stack(inputs), np.stack(targets)


@pytest.mark.parametrize("chunk_length, pad, causal", [(1, 4, False), (3, 4, True), (2, 13, False)])
def test_chunks_match_an_edge_padded_reference(chunk_length, pad, causal):
    rng = np.random.default_rng(0)
    poses_2d = [rng.normal(size=(n, 17, 2)).astype(np.float32) for n in (5, 8, 1)]
    poses_3d = [rng.normal(size=(len(p), 17, 3)).astype(np.float32) for p in poses_2d]
    kps = (list(COCO_17.left), list(COCO_17.right))
    joints = (list(H36M_17.left), list(H36M_17.right))
    shift = pad if causal else 0
    chunks = ChunkedBatches(poses_2d, poses_3d, None, chunk_length, pad, shift, augment=True,
                            kps_left=kps[0], kps_right=kps[1], seed=7)
    order = chunks.shuffled()
    expected_order, inputs, targets = _official_chunks(poses_2d, poses_3d, chunk_length, pad, shift, True,
                                                      kps, joints, seed=7)
    np.testing.assert_array_equal(order, expected_order.astype(np.int64))
    batch = chunks.batch(order)
    assert batch.keypoints.shape == (len(order), chunk_length + 2 * pad, 17, 2)
    np.testing.assert_array_equal(batch.keypoints, inputs)
    np.testing.assert_array_equal(batch.targets, targets)


def test_flipped_cameras_negate_cx_and_p1():
    cams = [np.arange(9, dtype=np.float32) + 1]
    chunks = ChunkedBatches([np.zeros((2, 17, 2), np.float32)], None, cams, augment=True,
                            kps_left=COCO_17.left, kps_right=COCO_17.right)
    batch = chunks.batch(chunks.pairs)
    flipped = chunks.pairs[:, 3] == 1
    np.testing.assert_array_equal(batch.cameras[~flipped][0], cams[0])
    np.testing.assert_array_equal(batch.cameras[flipped][0], cams[0] * [1, 1, -1, 1, 1, 1, 1, -1, 1])


def test_rank_split_covers_every_chunk_with_equal_batches():
    order = np.arange(11)[:, None].repeat(4, axis=1)
    per_rank = [_rank_batches(order, 2, rank, 3) for rank in range(3)]
    assert len({len(b) for b in per_rank}) == 1
    seen = np.concatenate([np.concatenate(b) for b in per_rank])[:, 0]
    assert set(seen) == set(range(11)) and len(seen) == 12  # one chunk repeated to pad
    assert [len(b) for b in _rank_batches(order, 4, 0, 1)] == [4, 4, 3]


def test_bn_momentum_decays_from_0_1_to_0_001():
    assert bn_momentum(0, 60) == pytest.approx(0.1)
    assert bn_momentum(30, 60) == pytest.approx(0.01)
    assert bn_momentum(60, 60) == pytest.approx(0.001)


def test_brief_training_lowers_mpjpe(synthetic, tmp_path):
    result = train_lifter(_config(synthetic), tmp_path / "run", progress=False)
    valid = [row.mpjpe_valid_mm for row in result.history]
    train = [row.loss_3d_train_mm for row in result.history]
    assert len(valid) == 4 and valid[-1] < 0.8 * valid[0] and train[-1] < train[0]
    assert [row.lr for row in result.history] == pytest.approx([0.001 * 0.95 ** e for e in range(4)])
    assert sorted(p.name for p in (tmp_path / "run").glob("*.pt")) == ["epoch_0002.pt", "epoch_0004.pt", "final.pt"]
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,lr,bn_momentum,loss_3d_train_mm") and len(log) == 5
    model = load_pretrained(result.checkpoint)
    assert model.receptive_field() == 9 and not model.training


def test_resume_continues_exactly(synthetic, tmp_path):
    config = _config(synthetic, subjects_train=("S1",), subjects_unlabeled=("S5",), warmup=1, epochs=3,
                     checkpoint_frequency=1)
    straight = train_lifter(config, tmp_path / "a", progress=False)
    train_lifter(_config(synthetic, subjects_train=("S1",), subjects_unlabeled=("S5",), warmup=1, epochs=1,
                         checkpoint_frequency=1), tmp_path / "b", progress=False)  # stop after epoch 1
    resumed = train_lifter(config, tmp_path / "b", resume=True, progress=False)
    assert resumed.resumed_from.name == "final.pt"
    for a, b in zip(load_pretrained(straight.checkpoint).state_dict().values(),
                    load_pretrained(resumed.checkpoint).state_dict().values()):
        assert torch.equal(a, b)
    traj_a, traj_b = load_trajectory_model(straight.checkpoint), load_trajectory_model(resumed.checkpoint)
    assert all(torch.equal(a, b) for a, b in zip(traj_a.state_dict().values(), traj_b.state_dict().values()))
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert {**a.__dict__, "seconds": 0} == pytest.approx({**b.__dict__, "seconds": 0}, rel=0, abs=0, nan_ok=True)
    assert np.isfinite(resumed.history[-1].loss_2d_unlabeled)  # the unlabeled terms ran after warm-up


def test_corrupted_2d_training_differs_and_resumes_exactly(synthetic, tmp_path):
    noisy = dict(keypoint_noise=0.004, keypoint_dropout=0.1, keypoint_truncation=0.3)
    clean = train_lifter(_config(synthetic, epochs=2, checkpoint_frequency=1), tmp_path / "clean", progress=False)
    straight = train_lifter(_config(synthetic, epochs=2, checkpoint_frequency=1, **noisy), tmp_path / "a",
                            progress=False)
    assert straight.history[0].loss_3d_train_mm != clean.history[0].loss_3d_train_mm
    train_lifter(_config(synthetic, epochs=1, checkpoint_frequency=1, **noisy), tmp_path / "b", progress=False)
    resumed = train_lifter(_config(synthetic, epochs=2, checkpoint_frequency=1, **noisy), tmp_path / "b",
                           resume=True, progress=False)
    for a, b in zip(load_pretrained(straight.checkpoint).state_dict().values(),
                    load_pretrained(resumed.checkpoint).state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(InputError, match="keypoint_noise must be >= 0"):
        _config(synthetic, keypoint_dropout=1.0)


def test_resume_refuses_a_changed_recipe_or_an_empty_folder(synthetic, tmp_path):
    with pytest.raises(MissingFileError, match="nothing to resume"):
        train_lifter(_config(synthetic, epochs=1), tmp_path / "empty", resume=True, progress=False)
    train_lifter(_config(synthetic, epochs=1, evaluate=False), tmp_path / "run", progress=False)
    shutil.copy(tmp_path / "run" / "final.pt", tmp_path / "run" / "epoch_0001.pt")
    with pytest.raises(InputError, match="learning_rate"):
        train_lifter(_config(synthetic, epochs=2, evaluate=False, learning_rate=0.01), tmp_path / "run",
                     resume=True, progress=False)


def test_recipe_errors_are_one_line(synthetic, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(f"data_3d: {synthetic['3d']}\ndata_2d: {synthetic['2d']}\nepochz: 3\n")
    with pytest.raises(InputError, match="unknown TrainConfig key 'epochz'"):
        TrainConfig.from_yaml(path)
    with pytest.raises(InputError, match="has 17 joints per frame but the model takes 15"):
        train_lifter(_config(synthetic, model=dict(num_joints_in=15, filter_widths=[3])), tmp_path / "x",
                     progress=False)
    with pytest.raises(InputError, match="S7"):
        train_lifter(_config(synthetic, subjects_train=("S7",)), tmp_path / "y", progress=False)


def test_progress_reports_each_epoch_and_changes_nothing(synthetic, tmp_path, capsys):
    from progress_helpers import check_stages

    config = _config(synthetic, epochs=2, evaluate=False)
    calls = []
    recorded = train_lifter(config, tmp_path / "a", progress=lambda *call: calls.append(call))
    check_stages(calls, ["epoch 1/2", "epoch 2/2"])
    batches = calls[-1][2]
    assert batches > 1 and [done for _, done, _ in calls[:batches + 1]] == list(range(batches + 1))
    printed = train_lifter(config, tmp_path / "b", progress=True)  # plain lines on stderr, no bar library
    assert f"epoch 2/2: {batches}/{batches}" in capsys.readouterr().err
    for a, b in zip(load_pretrained(recorded.checkpoint).state_dict().values(),
                    load_pretrained(printed.checkpoint).state_dict().values()):
        assert torch.equal(a, b)
