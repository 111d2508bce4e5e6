"""``hmr eval`` end to end: random-weight official-layout checkpoints on the synthetic Human3.6M,
3DPW and MPI-INF-3DHP files write the tables, plots and run.json, resume, and fail in one line."""

import json

import numpy as np
import pytest

import hmr.cli
from hmr.core.provenance import file_sha256
from hmr.evaluation import synthetic


@pytest.fixture
def main():
    return hmr.cli.main


@pytest.fixture(scope="module")
def spin_checkpoint(tmp_path_factory):
    return synthetic.write_spin_checkpoint(tmp_path_factory.mktemp("ckpt") / "model_checkpoint.pt")


def _outputs(out):
    names = {p.name for p in out.iterdir()}
    assert {"results.json", "results.csv", "table.txt", "run.json", "per_joint_regressor.png",
            "over_time_regressor.png"} <= names
    return json.loads((out / "results.json").read_text()), json.loads((out / "run.json").read_text())


def test_mesh_benchmarks_end_to_end(tmp_path, main, spin_checkpoint, capsys, mannequin_smpl):
    pw3d = synthetic.write_3dpw(tmp_path / "3dpw", sequences=(("downtown_walk_00", 1),), frames=3, invalid=(),
                                image_size=(64, 64), smpl=mannequin_smpl)
    hp = synthetic.write_3dhp(tmp_path / "3dhp", frames=3, image_size=(64, 64), smpl=mannequin_smpl)
    h36m = synthetic.write_h36m_mesh(tmp_path / "h36m", protocol=2, subjects=("S9",), actions=("Walking",),
                                     frames=2, image_size=64, smpl=mannequin_smpl)
    common = ["--checkpoint", str(spin_checkpoint), "--batch-size", "4", "--quiet", "--device", "cpu"]

    assert main(["eval", "3dpw", str(pw3d["root"]), "--out", str(tmp_path / "o3dpw")] + common) == 0
    results, run = _outputs(tmp_path / "o3dpw")
    overall = results["variants"][0]["overall"]
    assert overall["samples"] == 3 and all(overall[m] > 0 for m in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm"))
    assert results["references"][0]["values"]["pa_mpjpe_mm"] == 59.2
    assert run["files"]["checkpoint"]["sha256"] == file_sha256(spin_checkpoint)
    assert run["files"]["data_downtown_walk_00"]["sha256"] == file_sha256(pw3d["folder"] / "downtown_walk_00.pkl")
    assert run["sequences"] == {"computed": ["downtown_walk_00_0"], "reused": []}
    printed = capsys.readouterr().out
    assert "PA-MPJPE" in printed and "59.2" in printed
    # Every file names the body model; SMPL's published numbers are flagged as not comparable.
    assert results["body_model"] == "mannequin" and "do not compare" in results["body_model_note"]
    assert results["references"][0]["differs_from_this_run"] == {
        "body_model": {"this_run": "mannequin", "published": "SMPL"}}
    assert "reference: SPIN model_checkpoint.pt" in printed and "body model mannequin (published: SMPL)" in printed
    table = (tmp_path / "o3dpw" / "table.txt").read_text()
    assert "body model: mannequin" in table and "published with: body model SMPL" in table
    assert all(line.endswith(",mannequin") for line in
               (tmp_path / "o3dpw" / "results.csv").read_text().splitlines()[1:])

    # Resume: nothing is recomputed, the numbers are the same.
    assert main(["eval", "3dpw", str(pw3d["root"]), "--out", str(tmp_path / "o3dpw")] + common) == 0
    again, run = _outputs(tmp_path / "o3dpw")
    assert run["sequences"] == {"computed": [], "reused": ["downtown_walk_00_0"]}
    assert again["variants"] == results["variants"]

    assert main(["eval", "mpi-inf-3dhp", str(hp["root"]), "--out", str(tmp_path / "o3dhp")] + common) == 0
    results, _ = _outputs(tmp_path / "o3dhp")
    assert results["variants"][0]["overall"]["samples"] == 6 and 0 <= results["variants"][0]["overall"]["pck"] <= 100

    assert main(["eval", "h36m-mesh", str(h36m["npz"]), "--out", str(tmp_path / "oh36m")] + common) == 0
    results, _ = _outputs(tmp_path / "oh36m")
    assert results["benchmark"] == "h36m-mesh-p2" and results["references"][0]["values"] == {"pa_mpjpe_mm": 41.1}
    csv_lines = (tmp_path / "oh36m" / "results.csv").read_text().splitlines()
    assert csv_lines[0] == "variant,group,samples,mpjpe_mm,pa_mpjpe_mm,body_model" and len(csv_lines) == 1 + 3


def test_project_regressor_on_the_mesh_benchmarks_with_and_without_smplify(tmp_path, main, capsys, mannequin_smpl):
    """A project checkpoint (the shipped demo regressor's kind: ResNet-18 trunk, its own crop size)
    runs through hmr eval 3dpw and h36m-mesh, with and without SMPLify, and every file names the body."""
    from hmr.regressor import HMR, HMRConfig, save_checkpoint

    checkpoint = save_checkpoint(tmp_path / "demo_like.pt", HMR(HMRConfig(backbone="resnet18", image_size=64)).eval(),
                                 half=True)
    pw3d = synthetic.write_3dpw(tmp_path / "3dpw", sequences=(("downtown_walk_00", 1),), frames=2, invalid=(),
                                image_size=(64, 64), smpl=mannequin_smpl)
    h36m = synthetic.write_h36m_mesh(tmp_path / "h36m", protocol=2, subjects=("S9",), actions=("Walking",),
                                     frames=1, image_size=64, smpl=mannequin_smpl)
    with np.load(h36m["npz"]) as npz:
        names = [str(n) for n in npz["imgname"]]
    h36m_keypoints = synthetic.write_smplify_keypoints(tmp_path / "h36m_kp.npz", names, h36m["coco_pixels"])
    pw3d_keypoints = synthetic.write_smplify_keypoints(
        tmp_path / "3dpw_kp.npz", [f"imageFiles/downtown_walk_00/image_{f:05d}.jpg" for f in range(2)],
        np.full((2, 17, 2), 32.0) + np.random.default_rng(0).normal(0.0, 8.0, (2, 17, 2)))
    common = ["--checkpoint", str(checkpoint), "--quiet", "--device", "cpu", "--smplify-iters", "2"]
    for benchmark, data, keypoints in (("3dpw", pw3d["root"], pw3d_keypoints), ("h36m-mesh", h36m["npz"], h36m_keypoints)):
        plain, refined = tmp_path / f"{benchmark}_plain", tmp_path / f"{benchmark}_smplify"
        assert main(["eval", benchmark, str(data), "--out", str(plain)] + common) == 0
        assert main(["eval", benchmark, str(data), "--out", str(refined), "--smplify-keypoints", str(keypoints)]
                    + common) == 0
        for out, variants in ((plain, ["regressor"]), (refined, ["regressor", "smplify"])):
            results, run = _outputs(out)
            assert [v["name"] for v in results["variants"]] == variants
            assert all(np.isfinite(v["overall"]["pa_mpjpe_mm"]) for v in results["variants"])
            assert results["body_model"] == "mannequin" and "do not compare" in results["body_model_note"]
            assert "body model: mannequin" in (out / "table.txt").read_text()
            assert all(line.endswith(",mannequin") for line in (out / "results.csv").read_text().splitlines()[1:])
            assert run["files"]["checkpoint"]["sha256"] == file_sha256(checkpoint)
    assert "published with: body model SMPL" in capsys.readouterr().out


def test_lifter_end_to_end(tmp_path, main):
    from lifting.synthetic import make_synthetic_h36m

    data = make_synthetic_h36m(tmp_path / "data", frames=10, subjects=("S9", "S11"), actions={"Walking": "walk"},
                               takes=1)
    checkpoint = synthetic.write_videopose3d_checkpoint(tmp_path / "pretrained_h36m_cpn.bin", filter_widths=(3,),
                                                        channels=16)
    out = tmp_path / "out"
    assert main(["eval", "h36m-lifter", str(data["3d"]), "--keypoints-2d", str(data["2d"]),
                 "--checkpoint", str(checkpoint), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["variants"][0]["rows"][0]["name"] == "Walking"
    assert results["references"][0]["values"] == {"mpjpe_mm": 46.8, "pa_mpjpe_mm": 36.5}
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    motion = ["knee_range_pct", "knee_r", "elbow_range_pct", "elbow_r", "static_mpjpe_mm"]
    assert header[header.index("mpjve_mm") + 1:header.index("mpjve_mm") + 6] == motion
    walking = results["variants"][0]["rows"][0]
    assert walking["static_mpjpe_mm"] > 0 and np.isfinite(walking["knee_range_pct"])
    assert "knee r" in (out / "table.txt").read_text()
    assert (out / "per_action_lifter.png").is_file()
    assert results["body_model"] == "none"
    assert results["conditions"] == {"input_2d": "gt", "flip": "on", "causal": "no", "receptive_field": "3"}


def test_lifter_report_says_where_the_run_differs_from_the_published_one(tmp_path, main, capsys):
    """The full reference label and its conditions are printed, and --no-flip, another 2D input and a
    causal model are each named against the published conditions."""
    from lifting import load_pretrained
    from lifting.evaluate import evaluate_h36m_files
    from lifting.synthetic import make_synthetic_h36m

    data = make_synthetic_h36m(tmp_path / "data", frames=10, subjects=("S9", "S11"), actions={"Walking": "walk"},
                               takes=1)
    checkpoint = synthetic.write_videopose3d_checkpoint(tmp_path / "causal.bin", filter_widths=(3, 3), channels=16)
    out = tmp_path / "out"
    assert main(["eval", "h36m-lifter", str(data["3d"]), "--keypoints-2d", str(data["2d"]), "--checkpoint",
                 str(checkpoint), "--out", str(out), "--quiet", "--no-flip", "--causal"]) == 0
    printed = capsys.readouterr().out
    assert "reference: VideoPose3D pretrained_h36m_cpn.bin" in printed
    assert "published with: input 2d cpn_ft_h36m_dbb, flip on, causal no, receptive field 243" in printed
    assert ("this run differs: input 2d gt (published: cpn_ft_h36m_dbb), flip off (published: on), "
            "causal yes (published: no), receptive field 9 (published: 243)") in printed
    results = json.loads((out / "results.json").read_text())
    assert results["conditions"]["causal"] == "yes"
    # Scored as causal: the numbers are those of the causal model, not of the same weights centred.
    causal = evaluate_h36m_files(load_pretrained(checkpoint, causal=True), data["3d"], data["2d"], flip=False)
    centred = evaluate_h36m_files(load_pretrained(checkpoint), data["3d"], data["2d"], flip=False)
    overall = results["variants"][0]["overall"]["mpjpe_mm"]
    assert overall == pytest.approx(sum(a.mpjpe_mm for a in causal.actions) / len(causal.actions))
    assert overall != pytest.approx(sum(a.mpjpe_mm for a in centred.actions) / len(centred.actions))


@pytest.mark.parametrize("case", ["missing", "wrong_split", "joint_set"])
def test_one_line_errors(tmp_path, main, capsys, case):
    if case == "missing":
        argv = ["eval", "mpi-inf-3dhp", str(tmp_path), "--checkpoint", str(tmp_path / "x.pt")]
        expected = "mpi_inf_3dhp_test_set"
    elif case == "wrong_split":
        files = synthetic.write_3dpw(tmp_path / "3dpw", sequences=(("a_00", 1),), frames=2, image_size=(32, 32),
                                     split="validation")
        argv = ["eval", "3dpw", str(files["folder"]), "--checkpoint", str(tmp_path / "x.pt")]
        expected = "validation split"
    else:
        from lifting.synthetic import make_synthetic_h36m

        data = make_synthetic_h36m(tmp_path / "data", frames=6, subjects=("S9", "S11"),
                                   actions={"Walking": "walk"}, takes=1)
        checkpoint = synthetic.write_videopose3d_checkpoint(tmp_path / "humaneva.bin", filter_widths=(3,),
                                                            channels=16, num_joints_out=15)
        argv = ["eval", "h36m-lifter", str(data["3d"]), "--keypoints-2d", str(data["2d"]),
                "--checkpoint", str(checkpoint)]
        expected = "predicts 15 joints"
    assert main(argv + ["--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hmr eval: error:") and expected in err and "\n" not in err


def test_the_command_layer_picks_the_adapter(tmp_path):
    from body_models.errors import InputError
    from hmr.commands.evaluate import evaluate_benchmark, mesh_adapter
    from hmr.evaluation import h36m_mesh, mpi_inf_3dhp, pw3d, world

    assert [mesh_adapter(b) for b in ("h36m-mesh", "3dpw", "mpi-inf-3dhp", "world")] == [h36m_mesh, pw3d,
                                                                                          mpi_inf_3dhp, world]
    with pytest.raises(InputError, match=r"^unknown benchmark 'coco'; choose h36m-lifter, h36m-mesh, 3dpw, "
                                         r"mpi-inf-3dhp or world$"):
        evaluate_benchmark("coco", tmp_path, tmp_path / "out", tmp_path / "x.pt")
    assert not (tmp_path / "out").exists()
