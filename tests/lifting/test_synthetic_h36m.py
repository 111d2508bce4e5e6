"""Tests for lifting.synthetic: a Human3.6M-layout dataset from the mannequin."""

import io

import numpy as np
import pytest
import torch

from body_models.cameras import image_coordinates, project_to_2d, world_to_camera
from lifting import TemporalModel, data, evaluate
from lifting.synthetic import make_synthetic_h36m


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, mannequin_smpl):
    out = tmp_path_factory.mktemp("synthetic_h36m")
    return make_synthetic_h36m(out, frames=12, subjects=("S1", "S9", "S11"),
                               actions={"Walking": "walk", "Greeting": "wave"}, takes=2, smpl=mannequin_smpl)


def test_layout_and_projection(synthetic):
    world = data.load_h36m_3d(synthetic["3d"])
    keypoints = data.load_h36m_2d(synthetic["2d"])
    assert sorted(world) == ["S1", "S11", "S9"]
    assert sorted(world["S9"]) == ["Greeting", "Greeting 1", "Walking", "Walking 1"]
    assert data.load_h36m_3d(synthetic["3d"], remove_static_joints=False)["S1"]["Walking"].shape == (12, 32, 3)
    sequence = world["S11"]["Walking 1"]
    assert sequence[..., 2].min() == pytest.approx(0.0, abs=1e-5)  # standing on the floor, z up
    assert 1.2 < sequence[:, 10, 2].mean() < 2.2  # head height
    for index, cam in enumerate(data.h36m_cameras("S11")):
        pixels = keypoints.positions_2d["S11"]["Walking 1"][index]
        assert pixels.shape == (12, 17, 2)
        assert (pixels > 0).all() and (pixels[..., 0] < cam.res_w).all() and (pixels[..., 1] < cam.res_h).all()
        camera = world_to_camera(sequence, cam.orientation, cam.translation)
        assert (camera[..., 2] > 2).all()  # in front of the camera
        expected = image_coordinates(project_to_2d(camera, cam.intrinsic), cam.res_w, cam.res_h)
        np.testing.assert_allclose(pixels, expected, atol=1e-3)


def test_evaluation_prints_a_table_on_synthetic_data(synthetic):
    torch.manual_seed(0)
    model = TemporalModel(17, 2, 17, (3, 3), channels=8).eval()
    results = evaluate.evaluate_h36m_files(model, synthetic["3d"], synthetic["2d"])
    assert [row.action for row in results.actions] == ["Walking", "Greeting"]
    assert all(row.videos == 16 and row.frames == 16 * 12 for row in results.actions)
    buffer = io.StringIO()
    evaluate.print_table(results, file=buffer)
    assert "Walking" in buffer.getvalue() and np.isfinite(results.average.mpjpe_mm)
