"""The package layout: imports only point down (body_models <- lifting <- hmr)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("body_models", "lifting", "hmr")
# What each package may import from the project.
ALLOWED = {"body_models": set(), "lifting": {"body_models"}, "hmr": {"body_models", "lifting"}}


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(n.split(".")[0] for n in names if n.split(".")[0] in PACKAGES)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_only_point_down(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    for path in files:
        bad = _project_imports(path) - ALLOWED[package] - {package}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}, which {package} must not depend on"


def test_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom hmr.cli import main\n")
    assert _project_imports(bad) == {"hmr"}


def test_packages_import_on_their_own():
    import subprocess
    import sys

    for package in PACKAGES:
        subprocess.run([sys.executable, "-c", f"import {package}"], check=True, cwd=ROOT)
