"""``hmr`` subcommands for the lifter stage.

    hmr make-synthetic-h36m --out data/synthetic_coco --keypoints coco
    hmr train-lifter --config configs/lifting/train_demo.yaml --out out/lifter_demo
    hmr train-lifter --config configs/lifting/train_demo.yaml --out out/lifter_demo --resume
    torchrun --standalone --nproc_per_node=2 -m hmr.cli train-lifter --config configs/lifting/train_demo.yaml
    hmr lift out/keypoints2d.npz --weights lifting/weights/demo_27f_256c_coco.pt --out out
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from hmr.commands.runtime import cli_progress, resolve_device


def _train_lifter(args: argparse.Namespace) -> int:
    from lifting.train import TrainConfig, train_lifter

    config = TrainConfig.from_yaml(args.config)
    out = args.out or Path("out") / "lifter" / Path(args.config).stem
    with cli_progress(args.quiet, unit="batch", leave=False) as progress:  # one bar per epoch, rank 0 only
        result = train_lifter(config, out, resume=args.resume, progress=progress, device=resolve_device(args.device))
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
    from hmr.core.fastpath import resolve_precision
    from hmr.core.standins import stand_in_lines
    from lifting.inference import lift_keypoints_file

    if args.weights is None:
        from lifting import DEMO_WEIGHTS

        args.weights = DEMO_WEIGHTS
    for line in stand_in_lines(lifter_weights=args.weights):
        print(line)
    keypoints = _as_keypoints2d(args.keypoints, args.out, tuple(args.image_size) if args.image_size else None)
    written = lift_keypoints_file(keypoints_path=keypoints, weights=args.weights, out_dir=args.out,
                                  flip=not args.no_flip, trajectory=not args.no_trajectory,
                                  chunk_frames=args.chunk_frames, precision=resolve_precision(args.precision))
    for role, path in written.items():
        print(f"{role:>4}: {path}")
    return 0


def _as_keypoints2d(source: Path, out_dir: Path, image_size: tuple[int, int] | None) -> Path:
    """``source`` itself when it is a keypoints2d.npz, else the COCO JSON or OpenPose folder
    converted to ``out_dir/keypoints2d.npz`` (COCO-17), as ``hmr run`` does."""
    from body_models.errors import InputError
    from hmr.pose2d.keypoints_io import load_keypoints_file, save_keypoints2d

    if Path(source).suffix.lower() == ".npz" and image_size is None:
        return Path(source)
    kp = load_keypoints_file(source, image_size=image_size)
    if image_size is not None:
        kp = dataclasses.replace(kp, image_size=image_size)
    if min(kp.image_size) <= 0:
        raise InputError(f"{source} does not record the image size; pass --image-size W H")
    try:
        kp = kp if kp.joint_set in ("coco_17", "h36m_17") else kp.to_joint_set("coco_17")
    except KeyError:
        raise InputError(f"{source}: {kp.joint_set} keypoints cannot give the lifter's COCO-17 joints") from None
    return save_keypoints2d(Path(out_dir) / "keypoints2d.npz", kp)


def _make_synthetic(args: argparse.Namespace) -> int:
    from lifting.synthetic import DEFAULT_ACTIONS, WORLD_ACTIONS, make_synthetic_h36m

    actions = WORLD_ACTIONS if args.motion == "world" else DEFAULT_ACTIONS
    written = make_synthetic_h36m(out_dir=args.out, frames=args.frames, subjects=tuple(args.subjects.split(",")),
                                  actions=actions, takes=args.takes, seed=args.seed, keypoints=args.keypoints)
    for role, path in written.items():
        print(f"{role}: {path}")
    return 0


def _motion_coverage(args: argparse.Namespace) -> int:
    from body_models.mannequin import gmm_prior_path
    from body_models.motion import sample_poses
    from body_models.motion_coverage import coverage, format_coverage
    from body_models.motion_world import sample_world_poses
    from body_models.priors import load_gmm

    prior = load_gmm(args.prior if args.prior is not None else gmm_prior_path())
    from lifting.synthetic import WORLD_PRIOR_SCALE

    sets = {"world": lambda: sample_world_poses(args.poses, seed=args.seed, prior=load_gmm(gmm_prior_path()),
                                                prior_scale=WORLD_PRIOR_SCALE),
            "actions": lambda: sample_poses(args.poses, seed=args.seed)}
    print(f"coverage of the pose prior {args.prior or 'of the mannequin (fitted to the actions)'}")
    for name in ("world", "actions") if args.motion == "both" else (args.motion,):
        report = coverage(sets[name](), prior, radius=args.radius, seed=args.seed)
        print(f"-- {name} --")
        print(format_coverage(report, name))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train-lifter``, ``lift`` and ``make-synthetic-h36m`` on the ``hmr`` parser."""
    train = sub.add_parser("train-lifter", help="train a VideoPose3D lifter from a recipe (configs/lifting/train_*.yaml)")
    train.add_argument("--config", type=Path, required=True, help="training recipe (YAML, TrainConfig keys)")
    train.add_argument("--out", type=Path, default=None,
                       help="run folder for log.csv and checkpoints (default: out/lifter/<config name>)")
    train.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, cuda:1, ...")
    train.set_defaults(func=_train_lifter)

    lift = sub.add_parser("lift", help="lift a keypoints2d.npz to 3D joints (joints3d.npz + joints3d.json)")
    lift.add_argument("keypoints", type=Path,
                      help="keypoints2d.npz (COCO-17 or H36M-17 joints), a COCO keypoint .json or an OpenPose folder")
    lift.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=None,
                      help="image width and height, pixels (COCO results and OpenPose files lack it)")
    lift.add_argument("--weights", type=Path, default=None,
                      help="lifter weights, official .bin or project .pt taking that layout (default: the shipped "
                           "demo lifter demo_27f_256c_coco.pt, a synthetic-trained stand-in)")
    lift.add_argument("--out", type=Path, required=True, help="output folder")
    lift.add_argument("--no-flip", action="store_true", help="no test-time flip averaging")
    lift.add_argument("--no-trajectory", action="store_true", help="skip the trajectory model even if the weights have one")
    lift.add_argument("--chunk-frames", type=int, default=None,
                      help="output frames per network call, with the receptive field's overlap (default 1024; "
                           "same result, memory flat on any length)")
    lift.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                      help="auto: bf16 where the CPU (AMX/AVX512-BF16) has it (the fast path), else fp32; "
                           "fp32: the exact official outputs")
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
    synth.add_argument("--motion", choices=("actions", "world"), default="actions",
                       help="actions: one procedural motion per H36M action (body_models.motion); world: clips "
                            "of the motion world, many movements with transitions (body_models.motion_world), "
                            "as the action 'World' (default: actions)")
    synth.set_defaults(func=_make_synthetic)

    cov = sub.add_parser("motion-coverage",
                         help="how much of a pose prior the motion world (and the per-action motions) visit")
    cov.add_argument("--prior", type=Path, default=None,
                     help="gmm_08.pkl-layout prior (default: the mannequin's, which was fitted to the actions)")
    cov.add_argument("--motion", choices=("world", "actions", "both"), default="both", help="which poses (default both)")
    cov.add_argument("--poses", type=int, default=4000, help="poses drawn from each (default 4000)")
    cov.add_argument("--radius", type=float, default=0.15,
                     help="radians, RMS over the 69 pose values, within which a prior sample is visited (default 0.15)")
    cov.add_argument("--seed", type=int, default=1, help="seed of the poses and the prior samples (default 1)")
    cov.set_defaults(func=_motion_coverage)
