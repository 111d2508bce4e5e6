"""``hmr`` subcommands for the regressor stage.

    hmr train-regressor --config configs/regressor/train_tiny_synthetic.yaml --out runs/tiny
    hmr train-regressor --config configs/regressor/train_tiny_synthetic.yaml --out runs/tiny --resume --steps 60
    hmr world-to-spin out/synthetic_world
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hmr.commands.runtime import cli_progress, resolve_device


def _train_regressor(args: argparse.Namespace) -> int:
    from body_models.training import read_log
    from hmr.regressor.train import load_train_config, plot_losses, train_regressor

    config = load_train_config(args.config, steps=args.steps)
    is_main = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 reports
    with cli_progress(args.quiet, unit="step") as progress:
        def on_step(step: int, losses) -> None:
            progress.postfix(loss=f"{losses.loss:.4g}", kp=f"{losses.keypoints:.3g}", adv=f"{losses.adversarial:.3g}")

        result = train_regressor(config, out_dir=args.out, resume=args.resume, device=resolve_device(args.device),
                                 on_step=on_step, progress=progress)
    if not is_main:
        return 0
    if result.history:
        first, last = result.history[0], result.history[-1]
        print(f"steps {first[0]}-{last[0]}: loss {first[1].loss:.4g} -> {last[1].loss:.4g} "
              f"(keypoints {first[1].keypoints:.4g} -> {last[1].keypoints:.4g})")
    print(f"checkpoint: {result.checkpoint}")
    print(f"model: {result.model_path}")
    print(f"log: {result.log_path}")
    if read_log(result.log_path, config.steps):
        print(f"loss curves: {plot_losses(result.log_path, result.log_path.with_name('losses.png'))}")
    return 0


def _world_to_spin(args: argparse.Namespace) -> int:
    from hmr.synthetic.spin_layout import world_to_spin

    written = world_to_spin(args.world, body_model=args.body_model, num_mocap=args.num_mocap, seed=args.seed)
    for name, path in written.items():
        print(f"{name}: {path}")
    print(f"images: {args.world / 'images'}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train-regressor`` and ``world-to-spin`` on the ``hmr`` parser."""
    convert = sub.add_parser("world-to-spin",
                             help="write a synthetic image world as SPIN-layout regressor datasets and prior mocap")
    convert.add_argument("world", type=Path, help="folder written by hmr make-synthetic-images")
    convert.add_argument("--body-model", default="mannequin", help="the body the world was posed with")
    convert.add_argument("--num-mocap", type=int, default=20000, help="poses for the adversarial prior")
    convert.add_argument("--seed", type=int, default=1, help="mocap seed (default 1)")
    convert.set_defaults(func=_world_to_spin)
    train = sub.add_parser("train-regressor", help="train the HMR regressor with HMR's losses and adversarial prior")
    train.add_argument("--config", type=Path, required=True, help="training preset (configs/regressor/train_*.yaml)")
    train.add_argument("--out", type=Path, required=True,
                       help="output folder: checkpoint.pt, regressor.pt, log.csv, losses.png")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--steps", type=int, default=None, help="override the config's total steps")
    train.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train_regressor)
