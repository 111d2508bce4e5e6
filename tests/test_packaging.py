"""The built wheel, installed into a fresh environment outside the repository, carries the data the
code reads at run time: the published numbers beside every benchmark report, the mannequin's pose
prior that SMPLify falls back to, and the shipped demo weights."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("body_models", "lifting", "hmr")

SCRIPT = """
import json
from importlib import resources

import numpy as np

import hmr, lifting
from body_models import mannequin_prior
from hmr.cli import main
from hmr.evaluation import synthetic
from hmr.regressor import HMR, HMRConfig, save_checkpoint
from lifting.synthetic import make_synthetic_h36m

data = make_synthetic_h36m("data", frames=6, subjects=("S9", "S11"), actions={"Walking": "walk"}, takes=1)
lifter = synthetic.write_videopose3d_checkpoint("vp3d.bin", filter_widths=(3,), channels=16)
lifter_code = main(["eval", "h36m-lifter", str(data["3d"]), "--keypoints-2d", str(data["2d"]), "--checkpoint",
                    str(lifter), "--out", "lifter", "--quiet"])
h36m = synthetic.write_h36m_mesh("h36m", protocol=2, subjects=("S9",), actions=("Walking",), frames=1, image_size=64)
with np.load(h36m["npz"]) as npz:
    names = [str(n) for n in npz["imgname"]]
keypoints = synthetic.write_smplify_keypoints("keypoints.npz", names, h36m["coco_pixels"])
regressor = save_checkpoint("regressor.pt", HMR(HMRConfig(backbone="resnet18", image_size=64)).eval(), half=True)
mesh_code = main(["eval", "h36m-mesh", str(h36m["npz"]), "--checkpoint", str(regressor), "--smplify-keypoints",
                  str(keypoints), "--smplify-iters", "1", "--out", "mesh", "--quiet", "--device", "cpu"])
mesh = json.load(open("mesh/results.json"))
print(json.dumps({
    "codes": [lifter_code, mesh_code], "hmr": hmr.__file__, "lifting_weights": str(lifting.DEMO_WEIGHTS),
    "prior": str(mannequin_prior.SHIPPED_PRIOR), "prior_loads": mannequin_prior.load_shipped_prior() is not None,
    "published": sorted(p.name for p in (resources.files("hmr.evaluation") / "published").iterdir()),
    "references": [r["checkpoint"] for r in json.load(open("lifter/results.json"))["references"]
                   + mesh["references"]],
    "mesh_variants": [v["name"] for v in mesh["variants"]]}))
"""


def _source_files() -> list[str]:
    """The files a wheel is built from: those git tracks, else everything under the packages."""
    names = ["pyproject.toml", "README.md"]
    try:
        listed = subprocess.run(["git", "ls-files", "-z", *SOURCES], cwd=REPO, check=True, capture_output=True)
        tracked = [n for n in listed.stdout.decode().split("\0") if n and (REPO / n).is_file()]
    except (OSError, subprocess.CalledProcessError):
        tracked = []
    if not tracked:
        tracked = [p.relative_to(REPO).as_posix() for package in SOURCES for p in (REPO / package).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts]
    return names + sorted(tracked)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, list[str]]:
    """A wheel built from a clean copy of the sources (no stale ``build/`` of the checkout), and
    the package files it was built from."""
    root = tmp_path_factory.mktemp("wheel")
    source, wheels = root / "source", root / "wheels"
    files = _source_files()
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "wheel", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(source)], check=True, cwd=root, capture_output=True)
    (built,) = wheels.glob("*.whl")
    return built, [n for n in files if n.split("/")[0] in SOURCES]


@pytest.mark.slow
def test_wheel_carries_every_package_file(wheel):
    """Every module and every data file under the packages (published numbers, the mannequin's
    prior, demo weights) is in the wheel: pyproject's package-data misses none."""
    built, files = wheel
    with zipfile.ZipFile(built) as archive:
        shipped = {n for n in archive.namelist() if n.split("/")[0] in SOURCES}
    assert shipped == set(files), (f"missing from the wheel: {sorted(set(files) - shipped)}; "
                                   f"not in the sources: {sorted(shipped - set(files))}")
    assert any(n.startswith("hmr/evaluation/published/") and n.endswith(".yaml") for n in shipped)


@pytest.mark.slow
def test_installed_wheel_evaluates_with_the_shipped_data(wheel, tmp_path):
    built, _ = wheel
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    # Torch and the other dependencies come from the running interpreter's site-packages.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "--python", str(python),
                    "install", "--no-deps", "--ignore-installed", str(built)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HMR_CACHE_DIR"] = str(tmp_path / "cache")  # the mannequin's prior is written from the shipped one
    # The mannequin's generated files are no shipped data (the code builds them, the same in the
    # wheel as here): they come from this session's cache, so the child does not build them again
    # (~3 s). The prior is not copied: the child still writes it from the wheel's shipped one.
    from body_models import mannequin

    generated = [mannequin.model_path(), mannequin.j_regressor_h36m_path(), mannequin.j_regressor_extra_path(),
                 mannequin.mean_params_path()]
    mannequin.cache_dir(tmp_path / "cache").mkdir(parents=True)
    for path in generated:
        shutil.copy2(path, mannequin.cache_dir(tmp_path / "cache") / path.name)
    out = subprocess.run([str(python), "-c", SCRIPT], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True, env=env, cwd=work).stdout.strip())
    assert found["codes"] == [0, 0]
    assert Path(found["hmr"]).is_relative_to(site)  # the wheel, not the repository, was imported
    assert found["published"] == sorted(p.name for p in (REPO / "hmr" / "evaluation" / "published").glob("*.yaml"))
    assert found["references"] == ["VideoPose3D pretrained_h36m_cpn.bin", "SPIN model_checkpoint.pt"]
    assert "reference: VideoPose3D pretrained_h36m_cpn.bin" in out.stdout
    assert "reference: SPIN model_checkpoint.pt" in out.stdout
    assert found["mesh_variants"] == ["regressor", "smplify"]
    assert found["prior_loads"] and Path(found["prior"]).is_relative_to(site)
    assert len(list(mannequin.cache_dir(tmp_path / "cache").glob("gmm_08_*.pkl"))) == 1  # the child wrote it
    assert Path(found["lifting_weights"]).is_file() and Path(found["lifting_weights"]).is_relative_to(site)
