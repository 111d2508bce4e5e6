"""The ``hmr`` command line: the parser, and the one-line error handling every subcommand shares.
Each subcommand lives in ``hmr.commands``, parses its arguments and calls one library function.

    hmr demo --out demo_out
    hmr run video.mp4 --out out --hrnet-weights pose_hrnet_w32_256x192.pth \\
        --lifter-weights pretrained_h36m_detectron_coco.bin --hmr-weights model_checkpoint.pt
    hmr convert-model basicModel_neutral_lbs_10_207_0_v1.0.0.pkl SMPL_NEUTRAL.npz
    hmr mannequin --out mannequin_files
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from pathlib import Path
from typing import Sequence

from body_models.errors import HMRError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hmr", description="3D human pose and mesh recovery from video.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True)

    from hmr.commands import body, evaluate, export, keypoints, lifter, pipeline, pose2d, regressor, smplify, weights

    for area in (pipeline, body, keypoints, lifter, regressor, smplify, weights, evaluate, pose2d, export):
        area.add_commands(sub)
    return parser


_FILE_OUTPUTS = {"fit-prior"}  # subcommands whose --out is a file, not a folder


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hmr`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = getattr(args, "out", None)
    if out is not None and args.command not in _FILE_OUTPUTS and Path(out).exists() and not Path(out).is_dir():
        print(f"hmr {args.command}: error: --out {out} is a file; give a folder (new or existing)", file=sys.stderr)
        return 2
    new_out = out is not None and not Path(out).exists()
    if out is not None and Path(out).is_dir():
        from body_models.atomic import remove_stale_temporaries

        remove_stale_temporaries(out)  # left by an earlier command killed mid-write
    code = 1
    try:
        code = _dispatch(args)
        return code
    finally:
        if code != 0 and new_out:
            _remove_if_empty(Path(out))


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except HMRError as err:
        if args.debug:
            raise
        print(f"hmr {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"hmr {args.command}: interrupted; finished stages are kept, the same command resumes",
              file=sys.stderr)
        return 130
    except (FileExistsError, NotADirectoryError) as err:
        if args.debug:
            raise
        where = err.filename or getattr(args, "out", "")
        print(f"hmr {args.command}: error: cannot make the folder {where}: a file is in the way; choose "
              "another --out", file=sys.stderr)
        return 2
    except OSError as err:
        if args.debug or err.errno not in (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT):
            raise
        where = f" ({err.filename})" if err.filename else ""
        print(f"hmr {args.command}: error: cannot write{where}: {err.strerror}; free some space or choose "
              "another --out", file=sys.stderr)
        return 2


def _remove_if_empty(folder: Path) -> None:
    """Remove an output folder this failed command made, if nothing useful is in it (only the
    stage bookkeeping of a run that finished no stage)."""
    import contextlib
    import shutil

    if not folder.is_dir():
        return
    entries = list(folder.iterdir())
    if all(e.name == ".stages" and e.is_dir() and not any(e.iterdir()) for e in entries):
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
