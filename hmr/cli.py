"""The ``hmr`` command line. Each subcommand parses its arguments and calls one library function.

    hmr demo --out demo_out
    hmr convert-model basicModel_neutral_lbs_10_207_0_v1.0.0.pkl SMPL_NEUTRAL.npz
    hmr mannequin --out mannequin_files
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from body_models.errors import HMRError


def _demo(args: argparse.Namespace) -> int:
    from hmr.demo import run_demo

    written = run_demo(args.out, motion=args.motion, num_frames=args.frames, fps=args.fps,
                       seed=args.seed, write_meshes=not args.no_meshes)
    for role, path in written.items():
        print(f"{role:>9}: {path}")
    return 0


def _convert_model(args: argparse.Namespace) -> int:
    from body_models.model_files import convert_model_file

    out = convert_model_file(args.src, args.dst)
    print(f"wrote {out}")
    return 0


def _mannequin(args: argparse.Namespace) -> int:
    from body_models import mannequin

    for path in mannequin.export_files(args.out):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hmr", description="3D human pose and mesh recovery from video.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the embedded default (mannequin + procedural motion) into --out")
    demo.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default: demo_out)")
    demo.add_argument("--motion", default="walk", help="procedural motion: walk, wave, squat, reach, idle, ...")
    demo.add_argument("--frames", type=int, default=60, help="clip length in frames (default: 60)")
    demo.add_argument("--fps", type=float, default=30.0, help="frames per second (default: 30)")
    demo.add_argument("--seed", type=int, default=0, help="motion variation seed (default: 0)")
    demo.add_argument("--no-meshes", action="store_true", help="skip the per-frame OBJ files")
    demo.set_defaults(func=_demo)

    convert = sub.add_parser("convert-model", help="convert an official SMPL .pkl to a clean .npz (no chumpy, no pickle)")
    convert.add_argument("src", type=Path, help="official SMPL model .pkl (or .npz)")
    convert.add_argument("dst", type=Path, help="output .npz")
    convert.set_defaults(func=_convert_model)

    mq = sub.add_parser("mannequin", help="write the synthetic mannequin body model and its companion files")
    mq.add_argument("--out", type=Path, required=True, help="output folder")
    mq.set_defaults(func=_mannequin)

    from hmr.commands import keypoints, lifter, regressor, smplify, weights

    for area in (keypoints, lifter, regressor, smplify, weights):
        area.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hmr`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except HMRError as err:
        if args.debug:
            raise
        print(f"hmr {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
