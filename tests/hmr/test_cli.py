import json

import numpy as np

from body_models import joints as js
from hmr.cli import main


def test_demo_writes_the_documented_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "4", "--motion", "walk"]) == 0
    smpl = np.load(out / "smpl.npz", allow_pickle=False)
    assert smpl["global_orient"].shape == (4, 1, 3) and smpl["body_pose"].shape == (4, 1, 69)
    assert smpl["betas"].shape == (4, 1, 10) and smpl["transl"].shape == (4, 1, 3)
    assert smpl["joints"].shape == (4, 1, 24, 3) and smpl["valid"].all()
    assert str(smpl["body_model"]) == "mannequin" and int(smpl["schema_version"]) == 1
    joints3d = np.load(out / "joints3d_gt.npz", allow_pickle=False)
    assert joints3d["joints"].shape == (4, 1, 17, 3)
    np.testing.assert_allclose(joints3d["joints"][:, :, 0], 0.0, atol=1e-6)  # root-relative
    # camera frame: in front of the camera, y down (head above the ankles), walking towards it
    joints = smpl["joints"][:, 0]
    assert (joints[..., 2] > 2.0).all()
    head, ankle = js.SMPL_24.index("head"), js.SMPL_24.index("left_ankle")
    assert (joints[:, head, 1] < joints[:, ankle, 1] - 1.0).all()
    assert joints[-1, 0, 2] < joints[0, 0, 2]
    meshes = sorted((out / "meshes" / "0").glob("*.obj"))
    assert [m.name for m in meshes] == ["000000.obj", "000001.obj", "000002.obj", "000003.obj"]
    assert meshes[0].read_text().startswith("# body model: mannequin (synthetic stand-in, not SMPL)")
    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "demo" and run["arguments"]["num_frames"] == 4
    assert set(run["timings_s"]) == {"body_model", "motion", "skinning", "export"}
    assert "smpl.npz" in capsys.readouterr().out


def test_demo_mesh_matches_the_saved_parameters(tmp_path, mannequin_smpl):
    import torch

    from body_models.meshes import load_obj

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "2", "--motion", "wave"]) == 0
    smpl = np.load(out / "smpl.npz")
    body = mannequin_smpl(betas=torch.as_tensor(smpl["betas"][:, 0]), body_pose=torch.as_tensor(smpl["body_pose"][:, 0]),
                          global_orient=torch.as_tensor(smpl["global_orient"][:, 0]),
                          transl=torch.as_tensor(smpl["transl"][:, 0]))
    mesh = load_obj(out / "meshes" / "0" / "000001.obj")
    np.testing.assert_allclose(mesh.vertices, body.vertices[1].numpy(), atol=1e-5)


def test_errors_are_one_line_with_nonzero_exit(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--motion", "moonwalk"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "moonwalk" in err and "walk" in err
    assert main(["convert-model", str(tmp_path / "missing.pkl"), str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.pkl" in err


def test_convert_model_writes_a_clean_npz(tmp_path):
    from body_models import mannequin
    from body_models.model_files import load_model_file

    dst = tmp_path / "model.npz"
    assert main(["convert-model", str(mannequin.model_path()), str(dst)]) == 0
    converted = load_model_file(dst)
    original = load_model_file(mannequin.model_path())
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f"):
        np.testing.assert_array_equal(converted[key], original[key])
