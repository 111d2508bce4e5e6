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


class Demo:
    """demos/<name>.py started as a script in its own interpreter, its output going to files."""

    def __init__(self, name: str, *args, folder: Path) -> None:
        self.name, self.folder = name, folder
        folder.mkdir(parents=True, exist_ok=True)
        env = os.environ.copy()
        # The default runs go side by side (below): one thread each, so they share the cores
        # instead of spinning against each other.
        env.setdefault("OMP_NUM_THREADS", "1")
        with open(folder / "stdout.txt", "w") as out, open(folder / "stderr.txt", "w") as err:
            self.process = subprocess.Popen([sys.executable, str(REPO / "demos" / f"{name}.py"), *map(str, args)],
                                            cwd=REPO, env=env, stdout=out, stderr=err, text=True)

    def result(self) -> tuple[list[Path], dict[str, float]]:
        """Wait for the script; return the paths of its "wrote <role>: <path>" lines and the values
        of its "<name> = <number>" lines, after checking it exited 0, every path exists and every
        number is finite."""
        try:
            code = self.process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        stdout, stderr = ((self.folder / f"{n}.txt").read_text() for n in ("stdout", "stderr"))
        assert code == 0, stdout + stderr
        lines = stdout.splitlines()
        paths = [Path(line.split(": ", 1)[1]) for line in lines if line.startswith("wrote ")]
        numbers = {m[1]: float(m[2]) for m in map(NUMBER.match, lines) if m}
        assert paths and numbers, stdout
        for path in paths:
            assert path.exists(), f"{self.name} printed {path}, which does not exist"
        for key, value in numbers.items():
            assert math.isfinite(value), f"{self.name}: {key} = {value}"
        return paths, numbers


def run_demo(name: str, *args, folder: Path) -> tuple[list[Path], dict[str, float]]:
    """Run demos/<name>.py to its end (see ``Demo.result``)."""
    return Demo(name, *args, folder=folder).result()


# Each slow test's demo on its embedded default, and the arguments it gets.
DEFAULT_RUNS = {
    "test_video_to_meshes": ("video_to_meshes",),
    "test_lift_2d_file_on_its_default_and_on_a_given_file": ("lift_2d_file",),
    "test_smplify_keypoints": ("smplify_keypoints", "--iterations", 10),
    "test_evaluate_checkpoint": ("evaluate_checkpoint",),
}


@pytest.fixture(scope="module")
def default_runs(request, tmp_path_factory) -> dict[str, tuple[Demo, Path]]:
    """The default runs of the selected slow tests, all started at once: each is mostly its
    interpreter importing torch, so side by side they take about half the time of one after
    another. Each test waits for its own. Returns test name -> (the run, its --out folder)."""
    from body_models import mannequin

    # The mannequin's files, made here once if this session has not yet, not by each script at once.
    for make in (mannequin.model_path, mannequin.j_regressor_h36m_path, mannequin.j_regressor_extra_path,
                 mannequin.mean_params_path, mannequin.gmm_prior_path):
        make()
    selected = {getattr(item, "originalname", item.name) for item in request.session.items}
    runs = {}
    for test, (name, *args) in DEFAULT_RUNS.items():
        if test in selected:
            out = tmp_path_factory.mktemp(name)
            runs[test] = Demo(name, "--out", out / "out", *args, folder=out), out / "out"
    yield runs
    for demo, _ in runs.values():  # a test that failed early leaves no script behind
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait()


@pytest.mark.parametrize("name", DEMOS)
def test_demo_is_short_and_says_how_to_run_it(name):
    source = (REPO / "demos" / f"{name}.py").read_text()
    assert len(source.splitlines()) < 60
    assert f"python demos/{name}.py" in ast.get_docstring(ast.parse(source))


@pytest.mark.slow
def test_video_to_meshes(default_runs):
    demo, _ = default_runs["test_video_to_meshes"]
    paths, numbers = demo.result()
    assert {"smpl.npz", "meshes", "joints3d.npz"} <= {p.name for p in paths}
    assert numbers["person-frames with a mesh"] > 0 and 0 < numbers["lifter MPJPE mm"] < 200


@pytest.mark.slow
def test_lift_2d_file_on_its_default_and_on_a_given_file(default_runs, tmp_path):
    demo, _ = default_runs["test_lift_2d_file_on_its_default_and_on_a_given_file"]
    paths, numbers = demo.result()
    assert 0 < numbers["MPJPE mm"] < 200 and numbers["PA-MPJPE mm"] <= numbers["MPJPE mm"]
    given = next(p for p in paths if p.name == "keypoints2d.npz")
    paths, numbers = run_demo("lift_2d_file", given, "--out", tmp_path / "given", folder=tmp_path / "logs")
    assert "MPJPE mm" not in numbers and numbers["person-frames lifted"] > 0
    assert tmp_path / "given" / "joints3d.npz" in paths


@pytest.mark.slow
def test_smplify_keypoints(default_runs):
    demo, out = default_runs["test_smplify_keypoints"]
    paths, numbers = demo.result()
    assert out / "smpl.npz" in paths and any((out / "meshes").rglob("*.obj"))
    assert 0 < numbers["PA-MPJPE mm"] < 300


@pytest.mark.slow
def test_evaluate_checkpoint(default_runs):
    demo, _ = default_runs["test_evaluate_checkpoint"]
    paths, numbers = demo.result()
    assert {"results.json", "results.csv", "run.json"} <= {p.name for p in paths}
    assert 0 < numbers["PA-MPJPE mm"] <= numbers["MPJPE mm"] < 200
