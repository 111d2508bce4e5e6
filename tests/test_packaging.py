"""The built wheel, installed outside the repository, carries the data the code reads at run time:
the published numbers beside every benchmark report, and the shipped demo lifter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
import hmr, lifting
from hmr.cli import main
from lifting.synthetic import make_synthetic_h36m
from hmr.evaluation import synthetic

data = make_synthetic_h36m("data", frames=6, subjects=("S9", "S11"), actions={"Walking": "walk"}, takes=1)
ckpt = synthetic.write_videopose3d_checkpoint("vp3d.bin", filter_widths=(3,), channels=16)
code = main(["eval", "h36m-lifter", str(data["3d"]), "--keypoints-2d", str(data["2d"]), "--checkpoint", str(ckpt),
             "--out", "out", "--quiet"])
results = json.load(open("out/results.json"))
print(json.dumps({"code": code, "hmr": hmr.__file__, "lifting_weights": str(lifting.DEMO_WEIGHTS),
                  "references": [r["checkpoint"] for r in results["references"]]}))
"""


@pytest.mark.slow
def test_installed_wheel_evaluates_with_the_shipped_published_numbers(tmp_path):
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
                   check=True, cwd=tmp_path, capture_output=True)
    (wheel,) = wheels.glob("*.whl")
    subprocess.run(pip + ["install", "--no-deps", "--target", str(target), str(wheel)], check=True,
                   capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["code"] == 0
    assert Path(found["hmr"]).is_relative_to(target)  # the wheel, not the repository, was imported
    assert found["references"] == ["VideoPose3D pretrained_h36m_cpn.bin"]
    assert Path(found["lifting_weights"]).is_file() and Path(found["lifting_weights"]).is_relative_to(target)
