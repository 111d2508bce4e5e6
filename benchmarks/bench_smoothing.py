"""Smoothing trade-off on demo clips: acceleration error against MPJPE for each ``--smooth``.

    hmr demo --out demo_s0 --seed 0 && hmr demo --out demo_s1 --seed 1
    python benchmarks/bench_smoothing.py demo_s0 demo_s1

For each demo folder (its ``smpl.npz``, ``joints3d.npz`` and ``synthetic/ground_truth.npz``; run
without ``--smooth``), applies every method of ``hmr.world.smoothing`` to the fitted SMPL
parameters and to the lifter's joints, and prints, against the truth: the SMPL mesh's H36M
joints root-relative (MPJPE and acceleration error) and the SMPL pelvis in the camera frame (its
jitter), and the lifter's root-relative joints (MPJPE and acceleration error). "none" is the
same-run baseline. Units: mm, and mm / frame² for acceleration error (× fps² for mm/s²).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
import torch

from body_models.metrics import MM_PER_M, accel_error, mpjpe
from body_models.sequences import Joints3D, SMPLSequence
from body_models.smpl import load_smpl
from hmr.world.metrics import jitter
from hmr.world.smoothing import METHODS, smooth_smpl_sequence, smooth_vectors


def _load(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return dict(z)


def rows_for(run_dir: Path, smpl) -> list[tuple]:
    gt = _load(run_dir / "synthetic" / "ground_truth.npz")
    fit = SMPLSequence.load(run_dir / "smpl.npz")
    lifted = Joints3D.load(run_dir / "joints3d.npz") if (run_dir / "joints3d.npz").is_file() else None
    ok = fit.valid[:, 0]
    with torch.no_grad():
        truth = smpl(**{k: torch.as_tensor(gt[k][:, 0], dtype=torch.float32)
                        for k in ("betas", "body_pose", "global_orient", "transl")}).h36m.double().numpy()
    truth_rel = truth - truth[:, :1]
    rows = []
    for method in METHODS:
        smoothed = smooth_smpl_sequence(fit, smpl, method)
        with torch.no_grad():
            body = smpl(**{k: torch.as_tensor(v[:, 0], dtype=torch.float32) for k, v in smoothed.smpl_parameters().items()})
        pred = body.h36m.double().numpy()
        rel = pred - pred[:, :1]
        row = [run_dir.name, method, mpjpe(rel[ok], truth_rel[ok]) * MM_PER_M,
               accel_error(rel, truth_rel, ok) * MM_PER_M, jitter(pred[ok][:, :1])]
        if lifted is not None:
            joints = smooth_vectors(lifted.joints, lifted.valid, float(gt["fps"]), method)[:, 0]
            row += [mpjpe(joints, gt["joints3d"][:, 0]) * MM_PER_M,
                    accel_error(joints, gt["joints3d"][:, 0]) * MM_PER_M]
        rows.append(tuple(row))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="hmr demo output folders (run without --smooth)")
    args = parser.parse_args()
    smpl = load_smpl("mannequin")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}; SMPL: mannequin; mm, accel mm/frame^2, pelvis jitter mm/frame^3")
    header = ("run", "smooth", "mesh MPJPE", "mesh accel", "pelvis jitter", "lifter MPJPE", "lifter accel")
    print(" | ".join(f"{h:>13}" for h in header))
    for run in args.runs:
        for row in rows_for(run, smpl):
            print(" | ".join(f"{v:>13}" if isinstance(v, str) else f"{v:13.2f}" for v in row))


if __name__ == "__main__":
    main()
