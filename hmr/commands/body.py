"""``hmr convert-model`` and ``hmr mannequin``: body-model files.

    hmr convert-model basicModel_neutral_lbs_10_207_0_v1.0.0.pkl SMPL_NEUTRAL.npz
    hmr mannequin --out mannequin_files
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _convert_model(args: argparse.Namespace) -> int:
    from body_models.model_files import convert_model_file

    out = convert_model_file(args.src, args.dst)
    print(f"wrote {out}")
    return 0


def _mannequin(args: argparse.Namespace) -> int:
    from body_models import mannequin

    if not args.build_prior and args.out is None:
        from body_models.errors import InputError

        raise InputError("give --out DIR for the mannequin's files, or --build-prior to refit its pose prior")
    if args.build_prior:
        from body_models.mannequin_prior import save_shipped_prior

        print(f"wrote {save_shipped_prior()}")
    if args.out is not None:
        for path in mannequin.export_files(args.out):
            print(path)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``convert-model`` and ``mannequin`` on the ``hmr`` parser."""
    convert = sub.add_parser("convert-model", help="convert an official SMPL .pkl to a clean .npz (no chumpy, no pickle)")
    convert.add_argument("src", type=Path, help="official SMPL model .pkl (or .npz)")
    convert.add_argument("dst", type=Path, help="output .npz")
    convert.set_defaults(func=_convert_model)

    mq = sub.add_parser("mannequin", help="write the synthetic mannequin body model and its companion files")
    mq.add_argument("--out", type=Path, default=None, help="output folder")
    mq.add_argument("--build-prior", action="store_true",
                    help="refit the mannequin's pose prior and rewrite the precomputed copy shipped in body_models/data")
    mq.set_defaults(func=_mannequin)
