"""Tests for lifting.evaluate against a straightforward, independent computation."""

import csv
import io
import json

import numpy as np
import pytest
import torch

from body_models.errors import InputError
from lifting import TemporalModel, data, evaluate


@pytest.fixture(autouse=True)
def _one_thread():
    """These models are tiny: one intra-op thread avoids thread start-up and contention costs."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


LEFT_2D, RIGHT_2D = [4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]  # h36m keypoints_symmetry
LEFT_3D, RIGHT_3D = [4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]  # H36M-17 joints_left/right


def _model(causal=False, seed=0):
    torch.manual_seed(seed)
    model = TemporalModel(17, 2, 17, filter_widths=(3, 3), causal=causal, channels=16, dropout=0.25)
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    return model.double().eval()


def _dataset(seed=0):
    """2 subjects × ("Walking", "Walking 1", "Eating") × 2 cameras, short sequences."""
    rng = np.random.default_rng(seed)
    keypoints, positions = {}, {}
    for subject in ("S9", "S11"):
        keypoints[subject], positions[subject] = {}, {}
        for action in ("Walking", "Walking 1", "Eating"):
            lengths = rng.integers(1, 13, size=2)
            keypoints[subject][action] = [rng.normal(0, 0.3, size=(n, 17, 2)) for n in lengths]
            positions[subject][action] = [rng.normal(0, 0.3, size=(n, 17, 3)) for n in lengths]
    return keypoints, positions


def _lift_windows(model, windows):
    with torch.no_grad():
        return model(torch.as_tensor(np.stack(windows))).numpy()[:, 0]  # (N, 17, 3)


def _expected_prediction(model, keypoints, flip, causal):
    """Frame by frame: the receptive-field window with clamped (edge) indices."""
    field = model.receptive_field()
    pad = (field - 1) // 2
    frames = len(keypoints)
    windows, mirrored_windows = [], []
    for t in range(frames):
        start = t - 2 * pad if causal else t - pad
        window = keypoints[[min(max(start + k, 0), frames - 1) for k in range(field)]]
        windows.append(window)
        mirrored = window.copy()
        mirrored[..., 0] = -mirrored[..., 0]
        swapped = mirrored.copy()
        for left, right in zip(LEFT_2D, RIGHT_2D):
            swapped[:, left], swapped[:, right] = mirrored[:, right], mirrored[:, left]
        mirrored_windows.append(swapped)
    out = _lift_windows(model, windows)
    if flip:
        back = _lift_windows(model, mirrored_windows)
        back[..., 0] = -back[..., 0]
        unswapped = back.copy()
        for left, right in zip(LEFT_3D, RIGHT_3D):
            unswapped[:, left], unswapped[:, right] = back[:, right], back[:, left]
        out = (out + unswapped) / 2
    return out


def _procrustes_error(pred, gt):
    """Mean joint error after the best similarity transform (proper rotation), one pose."""
    mu_p, mu_g = pred.mean(0), gt.mean(0)
    p, g = pred - mu_p, gt - mu_g
    u, s, vt = np.linalg.svd(g.T @ p)  # g ≈ scale · R p
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1, 1, d]) @ vt
    scale = (s * [1, 1, d]).sum() / (p ** 2).sum()
    aligned = scale * p @ rotation.T + mu_g
    return np.linalg.norm(aligned - gt, axis=-1).mean()


def _expected_errors(pred, gt):
    frames = len(gt)
    e1 = np.mean([np.linalg.norm(pred[t, j] - gt[t, j]) for t in range(frames) for j in range(17)])
    e2 = np.mean([_procrustes_error(pred[t], gt[t]) for t in range(frames)])
    scales = [np.sum(gt[t] * pred[t]) / np.sum(pred[t] * pred[t]) for t in range(frames)]
    e3 = np.mean([np.linalg.norm(scales[t] * pred[t, j] - gt[t, j]) for t in range(frames) for j in range(17)])
    if frames > 1:
        ev = np.mean([np.linalg.norm((pred[t + 1, j] - pred[t, j]) - (gt[t + 1, j] - gt[t, j]))
                      for t in range(frames - 1) for j in range(17)])
    else:
        ev = np.nan
    return np.array([e1, e2, e3, ev])


def _expected_table(model, keypoints, positions, flip, causal):
    table = {}
    for group in ("Walking", "Eating"):
        total, frames = np.zeros(4), 0
        for subject in ("S9", "S11"):
            for action in positions[subject]:
                if action.split(" ")[0] != group:
                    continue
                for view_2d, view_3d in zip(keypoints[subject][action], positions[subject][action]):
                    target = view_3d.copy()
                    target[:, 0] = 0
                    prediction = _expected_prediction(model, view_2d, flip, causal)
                    total += len(target) * _expected_errors(prediction, target)
                    frames += len(target)
        table[group] = total / frames * 1000
    return table


@pytest.mark.parametrize("flip, causal", [(True, False), (False, False), (True, True)])
def test_matches_an_independent_computation(flip, causal):
    model = _model(causal=causal)
    keypoints, positions = _dataset()
    # one sequence of 1 frame would make the velocity undefined; keep every video at >= 2 frames
    for subject in keypoints:
        for action in keypoints[subject]:
            keypoints[subject][action] = [k if len(k) > 1 else np.concatenate([k, k]) for k in keypoints[subject][action]]
            positions[subject][action] = [p if len(p) > 1 else np.concatenate([p, p]) for p in positions[subject][action]]
    results = evaluate.evaluate_h36m(model, keypoints, positions, LEFT_2D, RIGHT_2D, flip=flip)
    expected = _expected_table(model, keypoints, positions, flip, causal)
    assert [row.action for row in results.actions] == ["Walking", "Eating"]
    for row in results.actions:
        got = [row.mpjpe_mm, row.pa_mpjpe_mm, row.n_mpjpe_mm, row.mpjve_mm]
        np.testing.assert_allclose(got, expected[row.action], rtol=1e-7, atol=1e-7)
        assert row.videos == 8 if row.action == "Walking" else row.videos == 4
    averages = np.mean([expected["Walking"], expected["Eating"]], axis=0)
    np.testing.assert_allclose([results.average.mpjpe_mm, results.average.pa_mpjpe_mm,
                                results.average.n_mpjpe_mm, results.average.mpjve_mm], averages, rtol=1e-7)
    assert results.test_time_augmentation == flip and results.receptive_field == 9
    assert not model.training


def test_action_filter_table_and_files(tmp_path):
    model = _model()
    keypoints, positions = _dataset(seed=1)
    results = evaluate.evaluate_h36m(model, keypoints, positions, LEFT_2D, RIGHT_2D, actions=["Eat"])
    assert [row.action for row in results.actions] == ["Eating"]
    buffer = io.StringIO()
    evaluate.print_table(results, file=buffer)
    assert "Eating" in buffer.getvalue() and "Average" in buffer.getvalue()
    json_path, csv_path = evaluate.save_results(results, tmp_path / "eval")
    saved = json.loads(json_path.read_text())
    assert saved["unit"] == "mm" and saved["actions"][0]["action"] == "Eating"
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["action"] for r in rows] == ["Eating", "Average"]
    assert float(rows[0]["mpjpe_mm"]) == pytest.approx(results.actions[0].mpjpe_mm, rel=1e-6)


def test_evaluate_from_files(tmp_path):
    rng = np.random.default_rng(3)
    world = {s: {a: rng.normal(0, 0.3, size=(6, 32, 3)) + [0, 0, 1] for a in ("Walking", "Eating 2")}
             for s in ("S9", "S11")}
    path_3d = data.save_h36m_3d(tmp_path / "data_3d_h36m.npz", world)
    views = data.h36m_camera_views(data.load_h36m_3d(path_3d))
    positions_2d = {s: {a: [rng.uniform(0, 1000, size=(8, 17, 2)) for _ in range(4)] for a in world[s]} for s in world}
    metadata = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [LEFT_2D, RIGHT_2D]}
    path_2d = data.save_h36m_2d(tmp_path / "data_2d_h36m_gt.npz", data.Keypoints2DFile(positions_2d, metadata))
    model = _model().float()
    results = evaluate.evaluate_h36m_files(model, path_3d, path_2d)
    assert [row.frames for row in results.actions] == [48, 48]  # 2D cut to the 6 mocap frames
    normalized = data.normalized_h36m_2d(data.load_h36m_2d(path_2d), views)
    direct = evaluate.evaluate_h36m(model, normalized, views, LEFT_2D, RIGHT_2D)
    assert results.average == direct.average


def test_errors():
    keypoints, positions = _dataset()
    with pytest.raises(InputError, match="S7"):
        evaluate.evaluate_h36m(_model(), keypoints, positions, LEFT_2D, RIGHT_2D, subjects=["S7"])
    with pytest.raises(InputError, match="matched"):
        evaluate.evaluate_h36m(_model(), keypoints, positions, LEFT_2D, RIGHT_2D, actions=["Sitting"])
    del keypoints["S9"]["Eating"]
    with pytest.raises(InputError, match="no 2D keypoints"):
        evaluate.evaluate_h36m(_model(), keypoints, positions, LEFT_2D, RIGHT_2D)
