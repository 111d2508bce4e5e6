"""Each script in demos/ runs on its embedded default (a synthetic clip or benchmark made on the fly,
nothing downloaded), writes the files it prints, and prints finite numbers."""

import ast
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"^(\w[^=:]*) = (\S+)$")  # "MPJPE mm = 23.4"
DEMOS = ("video_to_meshes", "lift_2d_file", "smplify_keypoints", "evaluate_checkpoint")


def run_demo(name: str, *args) -> tuple[list[Path], dict[str, float]]:
    """Run demos/<name>.py; return the paths of its "wrote <role>: <path>" lines and the values of
    its "<name> = <number>" lines."""
    done = subprocess.run([sys.executable, str(REPO / "demos" / f"{name}.py"), *map(str, args)], cwd=REPO,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    paths = [Path(line.split(": ", 1)[1]) for line in lines if line.startswith("wrote ")]
    numbers = {m[1]: float(m[2]) for m in map(NUMBER.match, lines) if m}
    assert paths and numbers, done.stdout
    for path in paths:
        assert path.exists(), f"{name} printed {path}, which does not exist"
    for key, value in numbers.items():
        assert math.isfinite(value), f"{name}: {key} = {value}"
    return paths, numbers


@pytest.mark.parametrize("name", DEMOS)
def test_demo_is_short_and_says_how_to_run_it(name):
    source = (REPO / "demos" / f"{name}.py").read_text()
    assert len(source.splitlines()) < 60
    assert f"python demos/{name}.py" in ast.get_docstring(ast.parse(source))


@pytest.mark.slow
def test_video_to_meshes(tmp_path):
    paths, numbers = run_demo("video_to_meshes", "--out", tmp_path)
    assert {"smpl.npz", "meshes", "joints3d.npz"} <= {p.name for p in paths}
    assert numbers["person-frames with a mesh"] > 0 and 0 < numbers["lifter MPJPE mm"] < 200


@pytest.mark.slow
def test_lift_2d_file_on_its_default_and_on_a_given_file(tmp_path):
    paths, numbers = run_demo("lift_2d_file", "--out", tmp_path / "default")
    assert 0 < numbers["MPJPE mm"] < 200 and numbers["PA-MPJPE mm"] <= numbers["MPJPE mm"]
    given = next(p for p in paths if p.name == "keypoints2d.npz")
    paths, numbers = run_demo("lift_2d_file", given, "--out", tmp_path / "given")
    assert "MPJPE mm" not in numbers and numbers["person-frames lifted"] > 0
    assert tmp_path / "given" / "joints3d.npz" in paths


@pytest.mark.slow
def test_smplify_keypoints(tmp_path):
    paths, numbers = run_demo("smplify_keypoints", "--out", tmp_path, "--iterations", 10)
    assert tmp_path / "smpl.npz" in paths and any((tmp_path / "meshes").rglob("*.obj"))
    assert 0 < numbers["PA-MPJPE mm"] < 300


@pytest.mark.slow
def test_evaluate_checkpoint(tmp_path):
    paths, numbers = run_demo("evaluate_checkpoint", "--out", tmp_path)
    assert {"results.json", "results.csv", "run.json"} <= {p.name for p in paths}
    assert 0 < numbers["PA-MPJPE mm"] <= numbers["MPJPE mm"] < 200
