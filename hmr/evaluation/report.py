"""Benchmark reports: the printed table, ``results.json``, ``results.csv`` and the figures.

A ``BenchmarkReport`` holds one ``VariantResult`` per way the model was run ("regressor", and
"smplify" when the fits were refined), each with per-group rows (action, activity or sequence),
the overall row that the official protocol reports, the error per joint and the error over time
of each sequence. Errors are in millimetres, PCK and AUC in percent.

Published numbers of the official checkpoints (``hmr/evaluation/published/*.yaml``, package data
read with ``importlib.resources``, so an installed wheel has them) are printed beside
the table and drawn into every figure, so a run can be compared with its reference at a glance.

    report = ...                       # from hmr.commands.evaluate.evaluate_benchmark
    print(format_table(report))
    save_report(report, "eval_out")    # results.json, results.csv, per_joint_*.png, over_time_*.png
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from body_models.atomic import atomic_path, write_json, write_text
from body_models.configs import config_from_yaml
from body_models.errors import MissingFileError

REFERENCES_PACKAGE = "hmr.evaluation"
REFERENCES_FOLDER = "published"
"""Where the published-number files are: ``REFERENCES_FOLDER`` of the package ``REFERENCES_PACKAGE``
(one YAML file per benchmark and checkpoint), shipped as package data."""

METRIC_LABELS = {
    "mpjpe_mm": "MPJPE", "pa_mpjpe_mm": "PA-MPJPE", "n_mpjpe_mm": "N-MPJPE", "mpjve_mm": "MPJVE",
    "pve_mm": "PVE", "accel_mm": "Accel", "pck": "PCK@150", "auc": "AUC", "pa_pck": "PA-PCK", "pa_auc": "PA-AUC",
    "knee_range_pct": "knee %", "knee_r": "knee r", "elbow_range_pct": "elbow %", "elbow_r": "elbow r",
    "static_mpjpe_mm": "static",
}
"""Column titles; the keys are the metric names used in results.json and the CSV."""

MAX_TIME_CURVES = 6
"""Sequences drawn in the error-over-time figure (the first ones, in report order)."""


@dataclass(frozen=True)
class Row:
    """One line of a table.

    Attributes:
        name: group name ("Directions", "TS1", "downtown_runForCover_00/0"), or "All".
        samples: images (frames) scored.
        values: metric name → value (mm for errors, % for PCK/AUC).
    """

    name: str
    samples: int
    values: Mapping[str, float]


@dataclass(frozen=True)
class VariantResult:
    """The results of one way of running the model.

    Attributes:
        name: "regressor", "smplify" or "lifter".
        rows: per group.
        overall: what the official protocol reports (its averaging is in the report's protocol).
        extra_rows: other averages (e.g. the mean over actions), printed after ``overall``.
        joint_names: (J,) names of the scored joints.
        per_joint_mm: metric → (J,) mean error per joint, mm.
        over_time_mm: sequence → (frame ids (N,), error per frame (N,) mm).
        bars_of: what the bars of ``per_joint_mm`` stand for: "joint", or "action" for the lifter.
    """

    name: str
    rows: tuple[Row, ...]
    overall: Row
    extra_rows: tuple[Row, ...] = ()
    joint_names: tuple[str, ...] = ()
    per_joint_mm: Mapping[str, Sequence[float]] = field(default_factory=dict)
    over_time_mm: Mapping[str, tuple[Sequence[int], Sequence[float]]] = field(default_factory=dict)
    bars_of: str = "joint"


@dataclass(frozen=True)
class Reference:
    """Published numbers of an official checkpoint on one benchmark (``hmr/evaluation/published/*.yaml``).

    Attributes:
        benchmark: ``h36m-lifter``, ``h36m-mesh-p1``, ``h36m-mesh-p2``, ``3dpw`` or ``mpi-inf-3dhp``.
        checkpoint: the official file the numbers belong to.
        variant: which ``VariantResult`` they compare with ("regressor", "lifter", ...).
        values: metric name → published value (mm or %).
        sources: metric name → where the value is published (paper, table, README).
        unverified: metrics whose value could not be checked against the source.
        conditions: how the published numbers were produced, in the keys a run reports
            (``body_model``, ``input_2d``, ``flip``, ``causal``, ...); a run that differs in one of
            them is flagged beside the numbers.
        notes: anything that differs between the published protocol and this one.
    """

    benchmark: str
    checkpoint: str
    variant: str
    values: Mapping[str, float]
    sources: Mapping[str, str]
    unverified: tuple[str, ...] = ()
    conditions: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""

    def differences(self, run_conditions: Mapping[str, str]) -> dict[str, tuple[str, str]]:
        """condition → (this run's value, the published one), for the keys both name and that differ."""
        return {key: (run_conditions[key], value) for key, value in self.conditions.items()
                if key in run_conditions and str(run_conditions[key]) != str(value)}


@dataclass(frozen=True)
class BenchmarkReport:
    """Everything ``save_report`` writes.

    Attributes:
        benchmark: the benchmark name (with the protocol, e.g. ``h36m-mesh-p2``).
        protocol: one paragraph: data, joints, alignment and averaging.
        metrics: metric names in column order.
        variants: one result per way of running the model.
        references: published numbers for this benchmark.
        body_model: the body model the run used: ``"mannequin"``, the SMPL file or folder, or
            ``"none"`` (the lifter scores joints without a body model). Written into every file.
        conditions: how this run was made, in ``Reference.conditions``' keys (e.g.
            ``{"flip": "on", "input_2d": "cpn_ft_h36m_dbb", "causal": "no", "body_model": "SMPL"}``).
    """

    benchmark: str
    protocol: str
    metrics: tuple[str, ...]
    variants: tuple[VariantResult, ...]
    references: tuple[Reference, ...] = ()
    body_model: str = "none"
    conditions: Mapping[str, str] = field(default_factory=dict)

    @property
    def body_model_note(self) -> str:
        """One line naming the body model, and saying that SMPL's published numbers do not compare
        with the mannequin's."""
        if self.body_model == "mannequin":
            return ("body model: mannequin, the project's synthetic stand-in for SMPL; the published numbers "
                    "are for SMPL and do not compare with these")
        if self.body_model == "none":
            return "body model: none (joints scored directly)"
        return f"body model: {self.body_model}"

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark,
            "protocol": self.protocol,
            "body_model": self.body_model,
            "body_model_note": self.body_model_note,
            "conditions": dict(self.conditions),
            "units": {m: ("%" if m in ("pck", "auc", "pa_pck", "pa_auc") else "mm") for m in self.metrics},
            "metrics": list(self.metrics),
            "variants": [{
                "name": v.name,
                "overall": _row_dict(v.overall),
                "rows": [_row_dict(r) for r in v.rows],
                "extra_rows": [_row_dict(r) for r in v.extra_rows],
                "joint_names": list(v.joint_names),
                f"per_{v.bars_of}_mm": {k: [float(x) for x in vals] for k, vals in v.per_joint_mm.items()},
            } for v in self.variants],
            "references": [{"checkpoint": r.checkpoint, "variant": r.variant, "values": dict(r.values),
                            "sources": dict(r.sources), "unverified": list(r.unverified),
                            "conditions": dict(r.conditions),
                            "differs_from_this_run": {k: {"this_run": a, "published": b}
                                                      for k, (a, b) in r.differences(self.conditions).items()},
                            "notes": r.notes}
                           for r in self.references],
        }


def _row_dict(row: Row) -> dict:
    return {"name": row.name, "samples": row.samples,
            **{k: (None if math.isnan(v) else float(v)) for k, v in row.values.items()}}


def load_references(benchmark: str, references_dir: str | os.PathLike | None = None) -> tuple[Reference, ...]:
    """Every ``Reference`` whose ``benchmark`` starts with ``benchmark`` (so ``h36m-mesh`` finds both
    protocols), from ``references_dir`` or, by default, the package's published numbers.

    Raises:
        MissingFileError: ``references_dir`` is given but is not a folder.
    """
    if references_dir is None:
        with resources.as_file(resources.files(REFERENCES_PACKAGE) / REFERENCES_FOLDER) as folder:
            return _references_in(Path(folder), benchmark)
    if not Path(references_dir).is_dir():
        raise MissingFileError(f"{references_dir}: no such folder of published numbers (*.yaml, the layout of "
                               f"hmr/evaluation/{REFERENCES_FOLDER})")
    return _references_in(Path(references_dir), benchmark)


def _references_in(folder: Path, benchmark: str) -> tuple[Reference, ...]:
    found = []
    for path in sorted(folder.glob("*.yaml")):
        reference = config_from_yaml(Reference, path)
        if reference.benchmark.startswith(benchmark):
            found.append(reference)
    return tuple(found)


def attach_references(report: BenchmarkReport, references: Sequence[Reference]) -> BenchmarkReport:
    """The report with the references of its exact benchmark (e.g. only protocol 2's)."""
    return replace(report, references=tuple(r for r in references if r.benchmark == report.benchmark))


# ---------------------------------------------------------------------------------------------
# Building variant results


def variant_result(name: str, groups: Mapping[str, Sequence], metric_fn: Callable[[Sequence], dict[str, float]],
                   joint_names: Sequence[str], per_joint: Mapping[str, np.ndarray],
                   over_time: Mapping[str, tuple[np.ndarray, np.ndarray]],
                   extra_rows: Sequence[Row] = ()) -> VariantResult:
    """Rows from ``metric_fn`` on each group's items and on all items pooled ("All").

    Args:
        name: the variant.
        groups: group name → items (the adapter's per-sequence records) in report order.
        metric_fn: items → metric values; also returns "samples".
        joint_names: (J,).
        per_joint: metric → (J,) mm.
        over_time: sequence → (frame ids, per-frame error mm).
        extra_rows: rows printed after "All".
    """
    rows = []
    for group, items in groups.items():
        values = dict(metric_fn(items))
        rows.append(Row(group, int(values.pop("samples")), values))
    everything = [item for items in groups.values() for item in items]
    values = dict(metric_fn(everything))
    overall = Row("All", int(values.pop("samples")), values)
    return VariantResult(name, tuple(rows), overall, tuple(extra_rows), tuple(joint_names),
                         {k: [float(x) for x in v] for k, v in per_joint.items()}, dict(over_time))


# ---------------------------------------------------------------------------------------------
# Table, files and figures


def _fmt(value: float, metric: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.2f}" if metric in ("mpjve_mm",) or metric.endswith("_r") else f"{value:.1f}"


def _conditions_text(conditions: Mapping[str, str]) -> str:
    return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in conditions.items())


def format_table(report: BenchmarkReport) -> str:
    """The per-group table of every variant, then the published numbers beside the overall row,
    each with the reference's full name, its conditions and where this run differs from them."""
    head = f"{'group':<28} {'samples':>8} " + " ".join(f"{METRIC_LABELS.get(m, m):>9}" for m in report.metrics)
    lines = [f"{report.benchmark}: {report.protocol}", report.body_model_note]
    if report.conditions:
        lines.append(f"this run: {_conditions_text(report.conditions)}")
    lines.append("errors in mm, PCK and AUC in %"
                 + ("; knee/elbow % = predicted flexion range over the truth's, r = correlation over time, "
                    "static = MPJPE of the mean true pose held still" if "knee_r" in report.metrics else ""))
    for variant in report.variants:
        lines += ["", f"[{variant.name}]", head, "-" * len(head)]
        for row in variant.rows + ("-", variant.overall) + variant.extra_rows:
            if row == "-":
                lines.append("-" * len(head))
                continue
            lines.append(f"{row.name[:28]:<28} {row.samples:>8d} "
                         + " ".join(f"{_fmt(row.values.get(m, math.nan), m):>9}" for m in report.metrics))
        for ref in report.references:
            if ref.variant != variant.name:
                continue
            published = " ".join(f"{_fmt(ref.values[m], m) if m in ref.values else '':>9}" for m in report.metrics)
            lines.append(f"{'published':<37} " + published)
            lines.append(f"    reference: {ref.checkpoint}")
            if ref.conditions:
                lines.append(f"    published with: {_conditions_text(ref.conditions)}")
            differences = ref.differences(report.conditions)
            if differences:
                lines.append("    this run differs: " + ", ".join(
                    f"{key.replace('_', ' ')} {ours} (published: {theirs})"
                    for key, (ours, theirs) in differences.items()))
            for metric in report.metrics:
                if metric in ref.values:
                    mark = " [unverified]" if metric in ref.unverified else ""
                    lines.append(f"    {METRIC_LABELS.get(metric, metric)}: {ref.sources.get(metric, '?')}{mark}")
    return "\n".join(lines)


def save_report(report: BenchmarkReport, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv``, ``table.txt`` and the PNG figures atomically.

    Returns:
        role → path of every file written.
    """
    out_dir = Path(out_dir)
    written = {"json": write_json(out_dir / "results.json", report.to_dict()),
               "table": write_text(out_dir / "table.txt", format_table(report) + "\n")}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("variant", "group", "samples") + report.metrics + ("body_model",))
    for variant in report.variants:
        for row in variant.rows + (variant.overall,) + variant.extra_rows:
            writer.writerow((variant.name, row.name, row.samples)
                            + tuple("" if math.isnan(row.values.get(m, math.nan)) else f"{row.values[m]:.6f}"
                                    for m in report.metrics) + (report.body_model,))
    written["csv"] = write_text(out_dir / "results.csv", buffer.getvalue())
    for variant in report.variants:
        written.update(_figures(report, variant, out_dir))
    return written


def _reference_text(report: BenchmarkReport, variant: VariantResult) -> str:
    lines = [report.body_model_note]
    for ref in report.references:
        if ref.variant != variant.name:
            continue
        differences = ref.differences(report.conditions)
        if differences:
            lines.append(f"{ref.checkpoint}: this run differs in " + ", ".join(
                f"{key.replace('_', ' ')} {ours} (published: {theirs})" for key, (ours, theirs) in differences.items()))
        for metric, value in ref.values.items():
            mark = " (unverified)" if metric in ref.unverified else ""
            lines.append(f"published {METRIC_LABELS.get(metric, metric)} {_fmt(value, metric)}: "
                         f"{ref.sources.get(metric, '?')}{mark}")
    ours = ", ".join(f"{METRIC_LABELS.get(m, m)} {_fmt(variant.overall.values.get(m, math.nan), m)}"
                     for m in report.metrics if m in variant.overall.values)
    if len(lines) == 1:
        lines.append("no published numbers for this variant")
    return "\n".join([f"this run: {ours}"] + lines)


def _figures(report: BenchmarkReport, variant: VariantResult, out_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = {}
    note = _reference_text(report, variant)
    if variant.per_joint_mm:
        fig, ax = plt.subplots(figsize=(10, 5.5))
        names = list(variant.joint_names)
        x = np.arange(len(names))
        width = 0.8 / max(len(variant.per_joint_mm), 1)
        for i, (metric, values) in enumerate(variant.per_joint_mm.items()):
            ax.bar(x + i * width, values, width, label=METRIC_LABELS.get(metric, metric))
        ax.set_xticks(x + 0.4 - width / 2, names, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel(f"error per {variant.bars_of} (mm)")
        ax.set_title(f"{report.benchmark} [{variant.name}]: error per {variant.bars_of}")
        ax.legend()
        fig.text(0.01, 0.01, note, fontsize=7, va="bottom")
        fig.subplots_adjust(bottom=0.32)
        stem = f"per_{variant.bars_of}_{variant.name}"
        written[stem] = _save_figure(fig, out_dir / f"{stem}.png")
        plt.close(fig)
    if variant.over_time_mm:
        fig, ax = plt.subplots(figsize=(10, 5))
        for key, (frames, errors) in list(variant.over_time_mm.items())[:MAX_TIME_CURVES]:
            ax.plot(frames, errors, lw=1, label=key)
        ax.set_xlabel("frame")
        ax.set_ylabel("MPJPE per frame (mm)")
        ax.set_title(f"{report.benchmark} [{variant.name}]: error over time (first {MAX_TIME_CURVES} sequences)")
        ax.legend(fontsize=7)
        fig.text(0.01, 0.01, note, fontsize=7, va="bottom")
        fig.subplots_adjust(bottom=0.25)
        written[f"over_time_{variant.name}"] = _save_figure(fig, out_dir / f"over_time_{variant.name}.png")
        plt.close(fig)
    return written


def _save_figure(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return path

