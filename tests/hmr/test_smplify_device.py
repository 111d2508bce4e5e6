"""``--device`` reaches SMPLify: its tensors, body model and prior go to the device, results come
back to the CPU for writing, the fit stays float32 whatever ``--precision`` says, and ``run.json``
records where and in which precision every stage ran."""

import json
import math

import numpy as np
import pytest
import torch

from body_models import mannequin
from body_models.cameras import perspective_project
from body_models.motion import sample_poses
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from body_models.smpl import load_smpl
from hmr.cli import main
from hmr.pose2d.keypoints_io import Keypoints2D, boxes_from_keypoints, save_keypoints2d
from hmr.smplify import SMPLify, SMPLifyConfig
from hmr.smplify.video import FIT_PRECISION, fit_keypoints_file

W, H = 320, 240
T, P = 2, 1
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def keypoints_file(mannequin_smpl, tmp_path_factory):
    """A keypoints2d.npz of one mannequin over two frames, projected with the image diagonal's
    focal length (the fit's default camera)."""
    pose = torch.from_numpy(sample_poses(T * P, seed=5))
    orient = matrix_to_axis_angle(axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0])).expand(T * P, 3, 3))
    with torch.no_grad():
        rest = mannequin_smpl(body_pose=pose, global_orient=orient)
        body = mannequin_smpl(body_pose=pose, global_orient=orient,
                              transl=torch.tensor([0.1, 0.0, 4.0]) - rest.joints[:, 0])
    uv = perspective_project(body.joint_set("coco_17"), math.hypot(W, H), torch.tensor([W / 2, H / 2])).numpy()
    kp = np.concatenate([uv, np.ones((*uv.shape[:2], 1))], -1).reshape(T, P, -1, 3).astype(np.float32)
    return save_keypoints2d(tmp_path_factory.mktemp("kp") / "keypoints2d.npz", Keypoints2D(
        keypoints=kp, boxes=boxes_from_keypoints(kp), valid=np.ones((T, P), bool), track_ids=np.arange(P),
        joint_set="coco_17", image_size=(W, H), fps=25.0, frame_indices=np.arange(T)))


def _smplify(device=None) -> SMPLify:
    # A layer of its own: .to() moves it in place, and the session's mannequin_smpl must stay on the CPU.
    smplify = SMPLify(load_smpl("mannequin"), mannequin.gmm_prior_path(), SMPLifyConfig(num_iters=3),
                      mean_params=mannequin.mean_params())
    return smplify if device is None else smplify.to(device)


def _tensors(smplify: SMPLify) -> list[torch.Tensor]:
    return [*smplify.body_model.parameters(), *smplify.body_model.buffers(), *smplify.pose_prior.buffers(),
            *smplify.mean.values()]


def test_smplify_to_a_device_moves_its_body_model_prior_and_start():
    smplify = _smplify()
    assert smplify.device == torch.device("cpu")
    before = [t.data_ptr() for t in _tensors(smplify)]
    assert smplify.to(torch.device("cpu")) is smplify
    assert [t.data_ptr() for t in _tensors(smplify)] == before  # the CPU's own tensors, not copies
    moved = _smplify().to(torch.device("meta"))  # a device without data: only where the tensors live
    assert moved.device == torch.device("meta")
    assert {t.device.type for t in _tensors(moved)} == {"meta"}
    assert {t.dtype for t in _tensors(moved) if t.is_floating_point()} == {torch.float32}


def test_the_fit_on_the_cpu_is_the_same_with_the_device_given(keypoints_file, tmp_path):
    """``device="cpu"`` (what ``hmr run --device cpu`` passes) and ``torch.device("cpu")`` give the
    bytes the fit gave before it took a device."""
    outputs = {}
    for name, kwargs in (("default", {}), ("cpu", {"device": "cpu"}), ("torch", {"device": torch.device("cpu")})):
        fit_keypoints_file(keypoints_file, tmp_path / name, iterations=3, **kwargs)
        outputs[name] = dict(np.load(tmp_path / name / "smpl.npz", allow_pickle=False))
        record = json.loads((tmp_path / name / "run.json").read_text())
        assert record["compute"]["fit"] == {"device": "cpu", "precision": FIT_PRECISION}
    assert FIT_PRECISION == "fp32"
    for name in ("cpu", "torch"):
        assert set(outputs[name]) == set(outputs["default"])
        for key, value in outputs["default"].items():
            np.testing.assert_array_equal(outputs[name][key], value, err_msg=key)


def test_hmr_fit_takes_a_device(keypoints_file, tmp_path, capsys, monkeypatch):
    assert main(["fit", "--keypoints", str(keypoints_file), "--out", str(tmp_path / "out"), "--iterations", "1",
                 "--device", "cpu", "--quiet"]) == 0
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["arguments"]["device"] == "cpu" and record["compute"]["fit"]["device"] == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["fit", "--keypoints", str(keypoints_file), "--out", str(tmp_path / "bad"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--device cuda: CUDA is not available here; use --device cpu or auto")


def test_run_json_says_where_and_in_which_precision_each_stage_ran(keypoints_file, tmp_path):
    """``--precision bf16`` reaches the networks (here the lifter); SMPLify fits in fp32 on the
    chosen device and run.json says so, also when the stage comes from the cache."""
    out = tmp_path / "out"
    argv = ["run", str(keypoints_file), "--out", str(out), "--iterations", "1", "--no-meshes", "--no-overlay",
            "--no-world", "--quiet", "--device", "cpu", "--precision", "bf16"]
    assert main(argv) == 0
    record = json.loads((out / "run.json").read_text())
    compute = record["compute"]
    assert compute["fit"]["device"] == "cpu" and compute["fit"]["precision"] == "fp32"
    assert "bf16" in compute["fit"]["note"]  # the asked precision is not silently dropped
    assert compute["lift"] == {"device": "cpu", "precision": "bf16"}
    assert set(compute) == {"keypoints", "lift", "fit"}  # no HRNet (a keypoints file), no video for HMR
    assert record["arguments"]["device"] == "cpu" and record["arguments"]["precision"] == "bf16"
    assert main(argv) == 0  # every stage cached: the record still says where each ran
    again = json.loads((out / "run.json").read_text())
    assert set(again["cached_stages"]) >= {"lift", "fit"} and again["compute"] == compute


def test_the_fit_cache_key_has_the_device_only_where_outputs_can_differ():
    """The CPU's key has no device; a CUDA fit rounds differently, so it is cached apart from
    the CPU's, but it does not depend on --precision, which the fit ignores; with SMPLify off
    the stage computes on the CPU whatever the device."""
    from hmr.core.stages import RunContext
    from hmr.smplify.stage import FitSettings

    fit = FitSettings()
    cpu = fit.key(RunContext(device="cpu"))
    assert "device" not in cpu and "precision" not in cpu
    assert fit.key(RunContext(device="cpu", precision="bf16")) == cpu
    on_gpu = fit.key(RunContext(device="cuda:1"))
    assert on_gpu == {**cpu, "device": "cuda"}
    assert fit.key(RunContext(device="cuda", precision="bf16")) == on_gpu
    alone = FitSettings(smplify=False)
    assert alone.key(RunContext(device="cuda")) == alone.key(RunContext(device="cpu"))


@cuda
def test_smplify_on_cuda_fits_as_on_the_cpu(mannequin_smpl):
    """The same fit on the GPU: results on the GPU, loss and joints within float32 rounding of the
    CPU fit (kernels differ, so not bit-identical)."""
    pose = torch.from_numpy(sample_poses(4, seed=9))
    orient = matrix_to_axis_angle(axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0])).expand(4, 3, 3))
    with torch.no_grad():
        body = mannequin_smpl(body_pose=pose, global_orient=orient, transl=torch.tensor([0.0, 0.0, 20.0]).expand(4, 3))
    uv = perspective_project(body.joint_set("coco_17"), 5000.0, torch.tensor([112.0, 112.0]))
    keypoints = torch.cat([uv, torch.ones(*uv.shape[:2], 1)], -1)
    cpu = _smplify()(keypoints)
    gpu_fit = _smplify("cuda")
    assert {t.device.type for t in _tensors(gpu_fit)} == {"cuda"}
    gpu = gpu_fit(keypoints)
    assert gpu.reprojection_loss.device.type == "cuda" and gpu.joints.dtype == torch.float32
    torch.testing.assert_close(gpu.reprojection_loss.cpu(), cpu.reprojection_loss, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(gpu.joints.cpu(), cpu.joints, rtol=0, atol=1e-3)  # metres: 1 mm


@cuda
def test_fit_keypoints_file_on_cuda_writes_the_cpu_fit(keypoints_file, tmp_path):
    fit_keypoints_file(keypoints_file, tmp_path / "cpu", iterations=3, device="cpu")
    fit_keypoints_file(keypoints_file, tmp_path / "cuda", iterations=3, device="cuda")
    cpu = dict(np.load(tmp_path / "cpu" / "smpl.npz", allow_pickle=False))
    gpu = dict(np.load(tmp_path / "cuda" / "smpl.npz", allow_pickle=False))
    np.testing.assert_array_equal(gpu["valid"], cpu["valid"])
    np.testing.assert_allclose(gpu["reprojection_loss"], cpu["reprojection_loss"], rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(gpu["joints"], cpu["joints"], atol=1e-3)  # metres: 1 mm
    assert json.loads((tmp_path / "cuda" / "run.json").read_text())["compute"]["fit"] == {
        "device": "cuda", "precision": "fp32"}
