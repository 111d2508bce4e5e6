"""``hmr`` subcommands for 2D keypoint models: the synthetic image world, training, COCO evaluation.

    hmr make-synthetic-images --out data/world --num 12000 --seed 0
    hmr train-pose2d --config configs/pose2d/train_demo.yaml --out runs/pose2d_demo [--resume]
    hmr eval coco-keypoints data/world/annotations/person_keypoints_val.json --images data/world/images \\
        --checkpoint runs/pose2d_demo/hrnet.pt --out eval/world_val
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hmr.commands.runtime import cli_progress, resolve_device, resolve_refine


def _motion_weights(text: str | None) -> tuple[tuple[str, float], ...]:
    """``"walk=3,squat=1"`` → (("walk", 3.0), ("squat", 1.0)); kinds are checked by the world."""
    from body_models.errors import InputError
    from body_models.motion import MOTION_KINDS

    if not text:
        return ()
    pairs = []
    for item in text.split(","):
        kind, _, weight = item.partition("=")
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if kind.strip() not in MOTION_KINDS or not value >= 0:
            raise InputError(f"--motion-weights: {item!r} is not KIND=WEIGHT with KIND one of "
                             f"{', '.join(MOTION_KINDS)} and WEIGHT >= 0 (e.g. walk=3,squat=1)")
        pairs.append((kind.strip(), value))
    return tuple(pairs)


def _make_synthetic_images(args: argparse.Namespace) -> int:
    from body_models.errors import InputError
    from hmr.synthetic.images import WorldConfig, make_synthetic_images

    if args.num < 1:
        raise InputError(f"--num must be a positive integer, got {args.num}")
    for name in ("prior_fraction", "floor_prob", "val_fraction"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise InputError(f"--{name.replace('_', '-')} must be between 0 and 1, got {getattr(args, name)}")
    config = WorldConfig(image_size=tuple(args.image_size), val_fraction=args.val_fraction,
                         prior_fraction=args.prior_fraction, floor_prob=args.floor_prob,
                         motion_weights=_motion_weights(args.motion_weights))
    with cli_progress(args.quiet, unit="image") as progress:
        written = make_synthetic_images(args.out, args.num, seed=args.seed, config=config, backend=args.renderer,
                                        progress=progress)
    for split, path in written.items():
        print(f"{split}: {path}")
    print(f"images: {args.out / 'images'}")
    return 0


def _train_pose2d(args: argparse.Namespace) -> int:
    from hmr.pose2d.train import load_train_config, train_pose2d

    config = load_train_config(args.config, epochs=args.epochs, max_steps=args.steps)
    is_main = int(os.environ.get("RANK", "0")) == 0
    with cli_progress(args.quiet, unit="step") as progress:
        def on_step(step: int, epoch: int, loss: float) -> None:
            progress.postfix(epoch=epoch, loss=f"{loss:.4g}")

        result = train_pose2d(config, args.out, resume=args.resume, device=resolve_device(args.device),
                              on_step=on_step, progress=progress)
    if not is_main:
        return 0
    if result.history:
        print(f"steps {result.history[0][0]}-{result.history[-1][0]}: loss {result.history[0][1]:.4g} -> "
              f"{result.history[-1][1]:.4g} (epoch {result.epoch})")
    if result.fresh_keys:
        print(f"fresh final layer: {', '.join(result.fresh_keys)}")
    print(f"checkpoint: {result.checkpoint}")
    print(f"model: {result.model_path}")
    print(f"log: {result.log_path}")
    return 0


def eval_coco_keypoints(args: argparse.Namespace) -> int:
    """``hmr eval coco-keypoints``: called by ``hmr.commands.evaluate``."""
    from body_models.atomic import write_json
    from body_models.errors import InputError
    from hmr.pose2d import load_pretrained
    from hmr.pose2d.evaluation import evaluate_coco_keypoints

    if args.images is None:
        raise InputError("coco-keypoints needs --images, the folder the JSON's file names are relative to")
    model = load_pretrained(args.checkpoint)
    metrics = evaluate_coco_keypoints(args.data, args.images, model, detections=args.detections,
                                      flip=not args.no_flip, refine=resolve_refine(args.refine), batch_size=args.batch_size,
                                      device=resolve_device(args.device))
    results = metrics.pop("results")
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "keypoint_results.json", results)
    write_json(args.out / "results.json", {"annotations": str(args.data), "checkpoint": str(args.checkpoint),
                                           "detections": str(args.detections) if args.detections else None,
                                           "flip": not args.no_flip, **metrics})
    print(f"OKS AP {metrics['AP']:.3f}  AP50 {metrics['AP50']:.3f}  AP75 {metrics['AP75']:.3f}  AR {metrics['AR']:.3f}")
    if args.detections is None:
        print(f"PCK@0.05 {100 * metrics['pck']:.1f} %  mean error {metrics['mean_px_error']:.2f} px  "
              f"({metrics['num_people']} people, ground-truth boxes)")
    print(f"wrote {args.out / 'results.json'} and keypoint_results.json")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``make-synthetic-images`` and ``train-pose2d`` on the ``hmr`` parser."""
    make = sub.add_parser("make-synthetic-images",
                          help="render the synthetic image world (mannequin) as a COCO keypoint dataset")
    make.add_argument("--out", type=Path, required=True, help="dataset folder: images/{train,val}, annotations/")
    make.add_argument("--num", type=int, required=True, help="number of images (train and val)")
    make.add_argument("--seed", type=int, default=0, help="world seed (default 0); the same seed gives the same files")
    make.add_argument("--image-size", type=int, nargs=2, default=(384, 288), metavar=("W", "H"),
                      help="pixels (default 384 288)")
    make.add_argument("--val-fraction", type=float, default=0.1, help="held-out fraction (default 0.1)")
    make.add_argument("--prior-fraction", type=float, default=0.5,
                      help="fraction of poses drawn from the pose prior, the rest from procedural motion (default 0.5)")
    make.add_argument("--motion-weights", default=None, metavar="KIND=W,...",
                      help="relative weights of the motion kinds for the motion poses, e.g. walk=4,squat=1 "
                           "(kinds left out are not drawn; default: every kind equally)")
    make.add_argument("--floor-prob", type=float, default=0.0,
                      help="probability of a floor under the feet in perspective instead of a flat background "
                           "(default 0)")
    make.add_argument("--renderer", default="auto", help="auto, moderngl or painter")
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    make.set_defaults(func=_make_synthetic_images)

    train = sub.add_parser("train-pose2d", help="train HRNet top-down on COCO-format keypoints (heatmap or DSNT)")
    train.add_argument("--config", type=Path, required=True, help="training preset (configs/pose2d/train_*.yaml)")
    train.add_argument("--out", type=Path, required=True, help="output folder: checkpoint.pt, hrnet.pt, log.csv")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    train.add_argument("--steps", type=int, default=None, help="stop after this many steps in total")
    train.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train_pose2d)
