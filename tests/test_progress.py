"""One progress protocol (``body_models.progress``): library code reports ``(stage, done, total)``
and never draws; only the command layer (``hmr.commands``) imports tqdm."""

import ast
import io
from pathlib import Path

import pytest

from body_models.progress import LineProgress, StageCounter, as_progress, no_progress

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("body_models", "lifting", "hmr")
DRAWS = ROOT / "hmr" / "commands"  # the one place bars are drawn


def _imports_tqdm(path: Path) -> list[int]:
    """Lines of ``path`` that import tqdm, at module level or inside a function."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        else:
            continue
        if any(name.split(".")[0] == "tqdm" for name in names):
            lines.append(node.lineno)
    return lines


def test_no_library_module_imports_tqdm():
    offenders = []
    for package in LIBRARY:
        for path in sorted((ROOT / package).rglob("*.py")):
            if DRAWS in path.parents:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{line}" for line in _imports_tqdm(path)]
    assert not offenders, f"library code imports tqdm (report through body_models.progress instead): {offenders}"


def test_the_checker_sees_a_function_level_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\ndef f():\n    from tqdm.auto import tqdm\n    import tqdm as t\n")
    assert _imports_tqdm(bad) == [4, 5]


def test_as_progress_maps_the_old_bool_arguments():
    assert as_progress(False) is no_progress and as_progress(None) is no_progress
    assert isinstance(as_progress(True), LineProgress)
    calls = []
    recorder = lambda *call: calls.append(call)  # noqa: E731
    assert as_progress(recorder) is recorder
    with pytest.raises(TypeError, match="progress must be a callable"):
        as_progress("yes")


def test_stage_counter_reports_the_running_count():
    calls = []
    counter = StageCounter(lambda *call: calls.append(call), "fit", 5)
    counter.advance(2)
    counter.reach(2)  # no rise, no report
    counter.reach(5)
    assert calls == [("fit", 0, 5), ("fit", 2, 5), ("fit", 5, 5)]
    quiet = []
    StageCounter(lambda *call: quiet.append(call), "x", None, start=False).advance()
    assert quiet == [("x", 1, None)]


def test_line_progress_prints_one_line_per_stage_and_the_end():
    stream = io.StringIO()  # not a terminal: lines, throttled, and always the last
    report = LineProgress(stream, interval=3600)
    for done in range(4):
        report("keypoints", done, 3)
    report("fit", 1, None)
    report("fit", 2, None)
    report.close()
    assert stream.getvalue().splitlines() == ["keypoints: 0/3", "keypoints: 3/3", "fit: 1"]


def test_cli_reporter_draws_one_bar_per_stage_and_quiet_draws_none(capsys):
    from hmr.commands.runtime import QuietProgress, TqdmProgress, cli_progress

    assert isinstance(cli_progress(quiet=True), QuietProgress)
    assert isinstance(cli_progress(quiet=False, main=False), QuietProgress)  # other torchrun ranks
    with cli_progress(quiet=False, unit="frame") as bars:
        assert isinstance(bars, TqdmProgress)
        bars("keypoints", 0, 2)
        first = bars.bar
        bars("keypoints", 2, 2)
        assert bars.bar is None and first.n == 2  # closed when the stage finished
        bars("fit", 1, None)
        assert bars.bar is not None and bars.bar.desc == "fit"
        bars.postfix(loss="0.5")
    assert bars.bar is None
    err = capsys.readouterr().err
    assert "keypoints" in err and "2/2" in err and "fit" in err
    with cli_progress(quiet=True) as silent:
        silent("keypoints", 1, 2)
        silent.postfix(loss="1")
    assert capsys.readouterr().err == ""

