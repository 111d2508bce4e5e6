"""``hmr`` subcommands for the lifter stage.

    hmr make-synthetic-h36m --out data/synthetic_coco --keypoints coco
    hmr train-lifter --config configs/lifting/train_demo.yaml --out out/lifter_demo
    hmr train-lifter --config configs/lifting/train_demo.yaml --out out/lifter_demo --resume
    torchrun --standalone --nproc_per_node=2 -m hmr.cli train-lifter --config configs/lifting/train_demo.yaml
    hmr lift out/keypoints2d.npz --weights lifting/weights/demo_27f_256c_coco.pt --out out
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _pick_device(choice: str) -> str:
    import torch

    if choice != "auto":
        return choice
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cpu"


def _train_lifter(args: argparse.Namespace) -> int:
    from lifting.train import TrainConfig, train_lifter

    config = TrainConfig.from_yaml(args.config)
    out = args.out or Path("out") / "lifter" / Path(args.config).stem
    result = train_lifter(config, out, resume=args.resume, progress=not args.quiet, device=_pick_device(args.device))
    if result.resumed_from is not None:
        print(f"resumed from {result.resumed_from}")
    if result.history:
        last = result.history[-1]
        print(f"epoch {last.epoch}: train MPJPE {last.loss_3d_train_mm:.1f} mm, "
              f"validation MPJPE {last.mpjpe_valid_mm:.1f} mm")
    print(f"checkpoint: {result.checkpoint}")
    print(f"log: {result.log}")
    return 0


def _lift(args: argparse.Namespace) -> int:
    from lifting.inference import lift_keypoints_file

    written = lift_keypoints_file(keypoints_path=args.keypoints, weights=args.weights, out_dir=args.out,
                                  flip=not args.no_flip, trajectory=not args.no_trajectory)
    for role, path in written.items():
        print(f"{role:>4}: {path}")
    return 0


def _make_synthetic(args: argparse.Namespace) -> int:
    from lifting.synthetic import make_synthetic_h36m

    written = make_synthetic_h36m(out_dir=args.out, frames=args.frames, subjects=tuple(args.subjects.split(",")),
                                  takes=args.takes, seed=args.seed, keypoints=args.keypoints)
    for role, path in written.items():
        print(f"{role}: {path}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train-lifter``, ``lift`` and ``make-synthetic-h36m`` on the ``hmr`` parser."""
    from lifting.inference import DEMO_WEIGHTS

    train = sub.add_parser("train-lifter", help="train a VideoPose3D lifter from a recipe (configs/lifting/train_*.yaml)")
    train.add_argument("--config", type=Path, required=True, help="training recipe (YAML, TrainConfig keys)")
    train.add_argument("--out", type=Path, default=None,
                       help="run folder for log.csv and checkpoints (default: out/lifter/<config name>)")
    train.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, cuda:1, ...")
    train.set_defaults(func=_train_lifter)

    lift = sub.add_parser("lift", help="lift a keypoints2d.npz to 3D joints (joints3d.npz + joints3d.json)")
    lift.add_argument("keypoints", type=Path, help="keypoints2d.npz (COCO-17 or H36M-17 joints)")
    lift.add_argument("--weights", type=Path, default=DEMO_WEIGHTS,
                      help=f"lifter weights, official .bin or project .pt taking that layout (default: {DEMO_WEIGHTS.name})")
    lift.add_argument("--out", type=Path, required=True, help="output folder")
    lift.add_argument("--no-flip", action="store_true", help="no test-time flip averaging")
    lift.add_argument("--no-trajectory", action="store_true", help="skip the trajectory model even if the weights have one")
    lift.set_defaults(func=_lift)

    synth = sub.add_parser("make-synthetic-h36m",
                           help="write a synthetic Human3.6M-layout dataset (mannequin, procedural motion, H36M cameras)")
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--frames", type=int, default=250, help="frames per sequence, 50 fps (default: 250)")
    synth.add_argument("--subjects", default="S1,S5,S6,S7,S8,S9,S11",
                       help="comma-separated subjects (default: S1,S5,S6,S7,S8,S9,S11)")
    synth.add_argument("--takes", type=int, default=2, help="sequences per action and subject (default: 2)")
    synth.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    synth.add_argument("--keypoints", choices=("gt", "coco"), default="gt",
                       help="2D joints seen by the cameras: gt (H36M-17) or coco (COCO-17) (default: gt)")
    synth.set_defaults(func=_make_synthetic)
