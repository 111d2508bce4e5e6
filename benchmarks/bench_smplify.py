"""SMPLify speed and memory: fits per second at batch 1, 64 and 512, and peak memory, on CPU.

    python benchmarks/bench_smplify.py                      # batches 1, 64, 512
    python benchmarks/bench_smplify.py --batches 1 64 --iters 2 4
    python benchmarks/bench_smplify.py --iters 100 100      # the real thing, no extrapolation

SPIN's published setting is 100 Adam steps per stage (200 in all). Running all of them at batch
512 takes many minutes on a laptop CPU, so each configuration is timed at two short iteration
counts n1 < n2 (per stage) and extrapolated linearly: per-step time = (t(n2) − t(n1)) / (2 ·
(n2 − n1)), fixed cost = t(n1) − 2 · n1 · per-step, time of a 100 + 100 fit = fixed + 200 ·
per-step. The table says so. Each configuration runs in its own process, so ``ru_maxrss`` is its
own peak resident memory; "fit memory" is that peak minus the resident memory after loading.

Variants measured in the same run: the SMPL layer as loaded (it computes every joint regressor,
H36M included, on each forward) and the same layer with its H36M regressor removed (SMPLify on
COCO-17 keypoints never needs it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _child(batch: int, iters: list[int], variant: str) -> dict:
    import torch

    from body_models import mannequin
    from body_models.cameras import SPIN_CROP_SIZE, SPIN_FOCAL_LENGTH, perspective_project
    from body_models.motion import sample_poses
    from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
    from body_models.smpl import load_smpl
    from hmr.smplify import SMPLify, SMPLifyConfig

    torch.manual_seed(0)
    smpl = load_smpl("mannequin")
    if variant == "no_h36m":
        # SMPLOutput regresses H36M joints only when read, so this variant should match as_loaded;
        # it stays as a check that SMPLify never reads them.
        smpl.J_regressor_h36m = None
    prior = mannequin.gmm_prior_path()
    # Synthetic bodies in SPIN's crop camera: f = 5000 px, 224-pixel crop, about 10 m away.
    pose = torch.from_numpy(sample_poses(batch, seed=1))
    orient = matrix_to_axis_angle(axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0])).expand(batch, 3, 3))
    with torch.no_grad():
        body = smpl(body_pose=pose, global_orient=orient, transl=torch.tensor([0.0, 0.2, 10.0]).expand(batch, 3))
    center = torch.full((2,), SPIN_CROP_SIZE / 2)
    uv = perspective_project(body.joint_set("coco_17"), SPIN_FOCAL_LENGTH, center)
    keypoints = torch.cat([uv + torch.randn_like(uv), torch.ones(batch, 17, 1)], dim=-1)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    SMPLify(smpl, prior, SMPLifyConfig(num_iters=1))(keypoints)  # warm-up: allocator, first calls
    times, cpu_times = [], []
    for n in iters:
        smplify = SMPLify(smpl, prior, SMPLifyConfig(num_iters=n), mean_params=mannequin.mean_params())
        start, start_cpu = time.perf_counter(), time.process_time()
        smplify(keypoints)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - start_cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"times_s": times, "cpu_s": cpu_times, "rss_loaded_kib": rss_loaded, "rss_peak_kib": peak}


def _extrapolate(t1: float, t2: float, n1: int, n2: int) -> tuple[float, float, float]:
    """(per-step s, fixed s, 100 + 100 step fit s) from timings of n1 + n1 and n2 + n2 step fits."""
    if n2 > n1:
        per_step = max(t2 - t1, 0.0) / (2 * (n2 - n1))
        fixed = max(t1 - 2 * n1 * per_step, 0.0)
        return per_step, fixed, fixed + 200 * per_step
    per_step = min(t1, t2) / (2 * n1)  # the same count twice: measured, scaled to 100 + 100
    return per_step, float("nan"), 200 * per_step


def _run_child(batch: int, iters: list[int], variant: str) -> dict:
    cmd = [sys.executable, __file__, "--child", "--batches", str(batch), "--variant", variant,
           "--iters", *map(str, iters)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 512])
    parser.add_argument("--iters", type=int, nargs=2, default=[2, 6], metavar=("N1", "N2"),
                        help="two short per-stage iteration counts to extrapolate from (default 2 6)")
    parser.add_argument("--variants", nargs="+", default=["as_loaded", "no_h36m"])
    parser.add_argument("--variant", default="as_loaded", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.batches[0], args.iters, args.variant)))
        return

    import torch

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    n1, n2 = args.iters
    print(f"SMPLify benchmark, commit {commit}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), CPU float32")
    if n2 > n1:
        print(f"times of a 100 + 100 step fit EXTRAPOLATED from measured {n1} + {n1} and {n2} + {n2} step fits")
    else:
        print(f"times of a 100 + 100 step fit scaled from measured {n1} + {n1} step fits (best of two)")
    print(f"(load average at start: {os.getloadavg()[0]:.1f})")
    header = (f"{'variant':<10} {'batch':>5} {'step ms':>9} {'fixed s':>8} {'fit 100+100 s':>14} "
              f"{'fits/s':>8} {'vs as_loaded':>12} {'fits/CPU-s':>10} {'peak RSS MiB':>13} {'fit mem MiB':>12}")
    print(header)
    print("-" * len(header))
    base = {}
    for batch in args.batches:
        for variant in args.variants:
            r = _run_child(batch, [n1, n2], variant)
            per_step, fixed, full = _extrapolate(*r["times_s"], n1, n2)
            cpu_full = _extrapolate(*r["cpu_s"], n1, n2)[2]
            fits_per_s = batch / full
            if variant == args.variants[0]:
                base[batch] = fits_per_s
            ratio = fits_per_s / base[batch] if batch in base else float("nan")
            peak = r["rss_peak_kib"] / 1024
            fit_mem = (r["rss_peak_kib"] - r["rss_loaded_kib"]) / 1024
            print(f"{variant:<10} {batch:>5} {1000 * per_step:>9.1f} {fixed:>8.2f} {full:>14.1f} "
                  f"{fits_per_s:>8.2f} {ratio:>11.2f}x {batch / cpu_full:>10.3f} {peak:>13.0f} {fit_mem:>12.0f}", flush=True)
    print("step ms: one Adam step over the whole batch (wall); fixed s: the start and final forwards; "
          "fits/CPU-s: fits per second of process CPU time (all threads), less sensitive to other load; "
          "fit mem: peak RSS minus RSS after loading the model.")


if __name__ == "__main__":
    main()
