"""``hmr export``: a run's SMPL motion as files for animation tools.

    hmr export out/ --format bvh
    hmr export out/ --format bvh,glb,amass --up z --person 3 --out motion/
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _export(args: argparse.Namespace) -> int:
    from hmr.io.export import export_run

    written = export_run(args.run_dir, formats=args.format, up=args.up, person=args.person, out_dir=args.out,
                         body_model=args.body_model, gender=args.gender)
    for path in written.values():
        print(f"wrote {path}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``export`` on the ``hmr`` parser."""
    export = sub.add_parser("export", help="a run's SMPL motion as BVH, skinned glTF (.glb) or AMASS npz")
    export.add_argument("run_dir", type=Path, help="an `hmr run` / `hmr demo` output folder (with smpl.npz)")
    export.add_argument("--format", default="bvh", help="bvh, glb, amass, or several joined by commas (default: bvh)")
    export.add_argument("--up", default="y", help="y or z up for BVH and AMASS (glTF is always y up; default: y)")
    export.add_argument("--person", type=int, default=None, help="track ID (default: every fitted person)")
    export.add_argument("--out", type=Path, default=None, help="output folder (default: RUN_DIR/export)")
    export.add_argument("--body-model", default=None,
                        help="the SMPL file the run used (default: the mannequin, or the file run.json names)")
    export.add_argument("--gender", default=None, choices=("neutral", "male", "female"),
                        help="for a model folder and AMASS's gender field (default: as the run)")
    export.set_defaults(func=_export)
