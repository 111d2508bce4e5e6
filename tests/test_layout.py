"""The package layout: imports only point down (body_models <- lifting <- hmr), no module imports
itself back through others, and the stage packages never reach the pipeline or the command layer."""

import ast
import sys
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


# The import graph: every module under the three packages, with its module-level and function-level
# imports (a function-level import runs too, only later). ``from package import name`` points at
# the submodule when ``name`` is one, at the module a lazy ``_HOME`` table in the package's
# ``__init__`` names for it, and at the package otherwise.

STAGES = ("hmr.pose2d", "hmr.regressor", "hmr.smplify", "hmr.io", "hmr.synthetic", "hmr.evaluation", "hmr.world")
"""Packages that each do one step; the pipeline and the CLI are built on them, never the reverse."""
SHARED = ("hmr.core",)
"""Helpers the stages and the pipeline share; held to the stages' rules."""
SHIMS = {
    "hmr.boxes": "hmr.pose2d.boxes",
    "hmr.keypoints_io": "hmr.pose2d.keypoints_io",
    "hmr.discriminator": "hmr.regressor.discriminator",
    "hmr.video": "hmr.io.video",
    "hmr.render": "hmr.io.render",
    "hmr.skeletons": "hmr.io.skeletons",
    "hmr.synthetic_clip": "hmr.synthetic.clip",
    "hmr.imagenet": "hmr.core.imagenet",
    "hmr.fastpath": "hmr.core.fastpath",
    "hmr.provenance": "hmr.core.provenance",
    "hmr.weights": "hmr.core.weights",
    "hmr.standins": "hmr.core.standins",
    "hmr.intrinsics": "hmr.core.intrinsics",
    "hmr.input_checks": "hmr.core.input_checks",
    "hmr.keypoints_stage": "hmr.pose2d.stage",
}
"""Old module paths (issue 16 moved the loose modules of ``hmr/`` into folders) → where the code
lives now. Each old path is a module re-exporting the new one's names, for users only."""
TOP_LEVEL = ("hmr", "hmr.pipeline", "hmr.demo", "hmr.cli")
"""The modules left loose in ``hmr/``, beside the shims: the pipeline's own and the CLI."""
ABOVE_STAGES = ("hmr.pipeline", "hmr.commands", "hmr.cli")
ADAPTERS = ("hmr.evaluation.h36m_lifter", "hmr.evaluation.h36m_mesh", "hmr.evaluation.pw3d",
            "hmr.evaluation.mpi_inf_3dhp", "hmr.evaluation.world")
"""The benchmark adapters; the command layer picks one, so no evaluation module imports them."""
ALLOWED_EDGES: dict[tuple[str, str], str] = {
    ("hmr.evaluation.runner", "hmr.commands.evaluate"):
        "runner is the old home of evaluate_benchmark and re-exports it on first use; nothing in "
        "the packages imports runner (test_nothing_imports_the_compatibility_runner)",
}
"""Edges the rules below would refuse, each with the reason it is kept."""


def _modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _lazy_names(tree: ast.Module) -> dict[str, str]:
    """A package's ``_HOME = {"name": "module", ...}`` table of names imported on first use."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Name) and t.id == "_HOME" for t in node.targets)):
            return {k.value: v.value for k, v in zip(node.value.keys, node.value.values)
                    if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
    return {}


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """module → {imported project module: line of the first such import}."""
    files = _modules(root)
    trees = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in files.items()}
    lazy = {name: _lazy_names(tree) for name, tree in trees.items() if files[name].name == "__init__.py"}

    def nearest(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {name: {} for name in files}
    for module, tree in trees.items():
        package = module if files[module].name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [nearest(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                    base = f"{parent}.{base}" if base else parent
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files
                           else lazy.get(base, {}).get(a.name) or nearest(base) for a in node.names]
            else:
                continue
            for target in targets:
                if target and target != module:
                    graph[module].setdefault(target, node.lineno)
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def _within(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _path_to(graph: dict[str, dict[str, int]], start: str, goal) -> list[str] | None:
    """The shortest import chain from ``start`` to a module ``goal`` accepts, skipping allowed edges."""
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if goal(node) and node != start:
            chain = [node]
            while previous[chain[-1]] is not None:
                chain.append(previous[chain[-1]])
            return chain[::-1]
        for target in graph[node]:
            if target not in previous and (node, target) not in ALLOWED_EDGES:
                previous[target] = node
                queue.append(target)
    return None


def _without_allowed(graph: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {m: {t: n for t, n in targets.items() if (m, t) not in ALLOWED_EDGES} for m, targets in graph.items()}


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_no_import_cycles(graph):
    problems = []
    for group in import_cycles(_without_allowed(graph)):
        edges = [f"{m} -> {t} (line {graph[m][t]})" for m in group for t in graph[m] if t in group]
        problems.append(" | ".join(edges))
    assert not problems, "import cycles:\n" + "\n".join(problems)


def test_allowed_edges_exist(graph):
    for (module, target), reason in ALLOWED_EDGES.items():
        assert reason and target in graph[module], f"stale allow-list entry {module} -> {target}"


@pytest.mark.parametrize("stage", STAGES + SHARED)
def test_stages_never_reach_the_pipeline_or_the_commands(graph, stage):
    for module in sorted(m for m in graph if _within(m, (stage,))):
        chain = _path_to(graph, module, lambda m: _within(m, ABOVE_STAGES))
        assert chain is None, f"{' -> '.join(chain)}: {stage} must not depend on {', '.join(ABOVE_STAGES)}"


@pytest.mark.parametrize("package, forbidden", [("body_models", ("lifting", "hmr")), ("lifting", ("hmr",))])
def test_lower_packages_never_reach_higher_ones(graph, package, forbidden):
    for module in sorted(m for m in graph if _within(m, (package,))):
        chain = _path_to(graph, module, lambda m: _within(m, forbidden))
        assert chain is None, f"{' -> '.join(chain)}: {package} must not depend on {', '.join(forbidden)}"


def test_adapters_are_picked_by_the_command_layer(graph):
    for module in sorted(m for m in graph if _within(m, ("hmr.evaluation",))):
        wrong = sorted(set(graph[module]) & set(ADAPTERS))
        assert not wrong, f"{module} imports the benchmark adapters {wrong}; hmr.commands.evaluate picks them"


def test_nothing_imports_the_compatibility_runner(graph):
    users = sorted(m for m, targets in graph.items() if "hmr.evaluation.runner" in targets)
    assert not users, f"{users} import hmr.evaluation.runner; import from types, harness or smplify_setup"


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_graph_sees_function_level_and_relative_cycles(tmp_path):
    _write_tree(tmp_path, {
        "body_models/__init__.py": "import importlib\n_HOME = {'load': 'body_models.files'}\n",
        "body_models/files.py": "def load():\n    from body_models.rows import table\n",
        "body_models/rows.py": "from . import files\n",
        "lifting/__init__.py": "", "lifting/a.py": "from body_models import load\n",
        "hmr/__init__.py": "", "hmr/x.py": "import hmr.y\n", "hmr/y.py": "import os\n",
    })
    graph = import_graph(tmp_path)
    assert graph["lifting.a"] == {"body_models.files": 1}
    assert graph["body_models.rows"] == {"body_models.files": 1}
    assert graph["hmr.x"] == {"hmr.y": 1}
    assert import_cycles(graph) == [["body_models.files", "body_models.rows"]]
    assert _path_to(graph, "lifting.a", lambda m: m == "body_models.rows") == [
        "lifting.a", "body_models.files", "body_models.rows"]


def test_the_old_runner_names_still_import():
    import hmr.commands.evaluate
    import hmr.evaluation.harness
    import hmr.evaluation.runner as runner
    import hmr.evaluation.scoring
    import hmr.evaluation.smplify_setup
    import hmr.evaluation.types

    homes = {hmr.evaluation.types: ("FORMAT_VERSION", "JointProtocol", "LSP_14_PROTOCOL", "SPIN_EVAL_17_PROTOCOL",
                                    "SequenceSpec", "PredictedBodies", "Predictor", "StoredSequence", "MeshDataset",
                                    "mm"),
             hmr.evaluation.scoring: ("per_sample_errors", "joint_summaries", "consecutive_triples",
                                      "acceleration_errors"),
             hmr.evaluation.harness: ("regressor_predictor", "load_crops", "MeshEvaluator", "fingerprint_of"),
             hmr.evaluation.smplify_setup: ("SmplifyStage", "load_smplify_keypoints", "smplify_stage"),
             hmr.commands.evaluate: ("evaluate_benchmark",)}
    for home, names in homes.items():
        for name in names:
            assert getattr(runner, name) is getattr(home, name), name
    assert sorted(runner.__all__) == sorted(n for names in homes.values() for n in names)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        runner.nothing  # noqa: B018


# The old paths of the modules issue 16 moved: shims for users, never imported by the project.


def test_loose_modules_in_hmr_are_the_pipeline_or_shims(graph):
    loose = {m for m in graph if m.count(".") == 1 and m.startswith("hmr.") and not (ROOT / m.replace(".", "/")).is_dir()}
    assert loose == set(SHIMS) | set(TOP_LEVEL) - {"hmr"}, "a module in hmr/ that is neither the pipeline's nor a shim"
    for old, new in SHIMS.items():
        assert new in graph, f"{old}'s new home {new} is missing"
        assert set(graph[old]) == {new}, f"{old} imports {sorted(graph[old])}; a shim imports only {new}"


@pytest.mark.parametrize("old", sorted(SHIMS))
def test_old_paths_still_import(old):
    import importlib

    shim, home = importlib.import_module(old), importlib.import_module(SHIMS[old])
    docstring = shim.__doc__.strip()
    assert "\n" not in docstring and f"``{home.__name__}``" in docstring, docstring
    tree = ast.parse(Path(home.__file__).read_text())
    defined = {t.id for n in tree.body for t in (n.targets if isinstance(n, ast.Assign) else [getattr(n, "target", None)])
               if isinstance(t, ast.Name)} | {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    public = {name for name in defined if not name.startswith("_")}
    assert public <= set(vars(shim)), f"{old} lacks {sorted(public - set(vars(shim)))}"
    assert sorted(shim.__all__) == sorted(getattr(home, "__all__", public))
    names = [name for name in vars(shim) if not name.startswith("__")]
    for name in names:
        assert getattr(shim, name) is getattr(home, name), f"{old}.{name} is not {home.__name__}.{name}"


@pytest.mark.parametrize("package", STAGES + SHARED)
def test_stages_never_import_a_shim(graph, package):
    for module in sorted(m for m in graph if _within(m, (package,))):
        used = sorted(set(graph[module]) & set(SHIMS))
        assert not used, f"{module} imports the old paths {used}; import {[SHIMS[u] for u in used]}"


def test_nothing_in_the_project_imports_a_shim(graph):
    """The shims are for users: the packages, demos, benchmarks and tests import the new homes."""
    problems = [f"{m} imports {t} (line {n})" for m, targets in graph.items() if m not in SHIMS
                for t, n in targets.items() if t in SHIMS]
    for folder in ("demos", "benchmarks", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                problems += [f"{path.relative_to(ROOT)} imports {m} (line {node.lineno})" for m in modules if m in SHIMS]
    assert not problems, "old paths used inside the project:\n" + "\n".join(problems)


# Size: no module over 600 lines and no function (or method) over 80, so that each reads on its own.

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def oversized(root: Path = ROOT) -> list[str]:
    """Every module over ``MAX_MODULE_LINES`` and every function over ``MAX_FUNCTION_LINES`` (its
    ``def`` line to its last, docstring included) under the packages, each with its length."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name, text = path.relative_to(root).as_posix(), path.read_text()
            lines = len(text.splitlines())
            if lines > MAX_MODULE_LINES:
                found.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES})")
            for node in ast.walk(ast.parse(text, filename=str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        found.append(f"{name}:{node.lineno} {node.name}: {length} lines (at most {MAX_FUNCTION_LINES})")
    return found


def test_no_module_or_function_is_too_long():
    problems = oversized()
    assert not problems, "split these (modules by concern, functions into named steps):\n" + "\n".join(problems)


def test_size_check_sees_long_modules_and_functions(tmp_path):
    _write_tree(tmp_path, {
        "body_models/__init__.py": "", "body_models/fine.py": "x = 1\n" * 600,
        "lifting/__init__.py": "", "lifting/long.py": "x = 1\n" * 601,
        "hmr/__init__.py": "", "hmr/ok.py": "def g():\n" + "    pass\n" * 79,
        "hmr/f.py": "class C:\n    def method(self):\n" + "        pass\n" * 80,
    })
    assert oversized(tmp_path) == ["lifting/long.py: 601 lines (at most 600)",
                                   "hmr/f.py:2 method: 81 lines (at most 80)"]
