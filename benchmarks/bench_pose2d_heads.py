"""Heatmap against DSNT (Nibali et al. 2018) on the same synthetic data, at two heatmap resolutions.

    hmr make-synthetic-images --out out/synthetic_world --num 3000 --seed 0
    python benchmarks/bench_pose2d_heads.py --data out/synthetic_world --steps 400

Four runs of ``hmr.pose2d.train.train_pose2d`` with the same seed, data order, augmentation,
optimiser and step budget: head ``heatmap`` (official JointsMSELoss, decoded by argmax plus the
quarter-cell shift) and head ``dsnt`` (DSNT loss, soft-argmax), each at a 64×64 input (16×16
heatmaps) and a 128×128 input (32×32 heatmaps). Then each model is scored on the held-out split
from ground-truth boxes (no flip test): mean error in image pixels over labelled joints and
PCK@0.05 of the longer box side. The paper's claim is that DSNT holds up at low heatmap
resolution, where the argmax's quantisation costs the heatmap head most.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from hmr.pose2d.data import CocoKeypoints
from hmr.pose2d.evaluation import evaluate_dataset
from hmr.pose2d.train import Pose2DTrainConfig, train_pose2d
from hmr.synthetic import annotation_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a make-synthetic-images folder")
    parser.add_argument("--out", type=Path, default=Path("out/bench_pose2d_heads"))
    parser.add_argument("--steps", type=int, default=400, help="training steps per run")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=8, help="HRNet width (default 8: a small, fast model)")
    parser.add_argument("--val-people", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for size in (64, 128):
        for head in ("heatmap", "dsnt"):
            model = {"width": args.width, "num_joints": 17, "image_size": [size, size], "head": head,
                     "sigma": 2.0 if head == "heatmap" else 1.0, "num_modules": [1, 1, 1], "num_blocks": [2, 2, 2]}
            config = Pose2DTrainConfig(model=model, train_annotations=str(annotation_path(args.data, "train")),
                                       train_images=str(args.data / "images"), batch_size=args.batch_size,
                                       epochs=1000, max_steps=args.steps, checkpoint_every=10**9, log_every=50)
            began = time.perf_counter()
            result = train_pose2d(config, args.out / f"{head}_{size}")
            seconds = time.perf_counter() - began
            hrnet = config.hrnet_config()
            val = CocoKeypoints(annotation_path(args.data, "val"), args.data / "images", hrnet.image_size,
                                hrnet.heatmap_size, hrnet.sigma, config.pairs(), None)
            scores = evaluate_dataset(result.model, val, max_people=args.val_people)
            rows.append((head, f"{size}x{size}", f"{hrnet.heatmap_size[0]}x{hrnet.heatmap_size[1]}",
                         scores["mean_px_error"], 100 * scores["pck"], result.history[-1][1], seconds))
            print(f"done {head} {size}: {scores['mean_px_error']:.2f} px, PCK {100 * scores['pck']:.1f} %", flush=True)
    print(f"\nheatmap vs DSNT, HRNet width {args.width}, {args.steps} steps of {args.batch_size}, "
          f"{args.val_people} held-out people, ground-truth boxes, no flip test")
    print(f"{'head':8} {'input':>8} {'heatmap':>8} {'error px':>9} {'PCK@0.05 %':>11} {'last loss':>10} {'train s':>8}")
    for head, size, hm, px, pck, loss, seconds in rows:
        print(f"{head:8} {size:>8} {hm:>8} {px:9.2f} {pck:11.1f} {loss:10.4g} {seconds:8.0f}")


if __name__ == "__main__":
    main()
