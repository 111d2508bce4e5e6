"""``hmr keypoints``: 2D keypoints of a video or image folder with HRNet.

    hmr keypoints clip.mp4 --weights pose_hrnet_w32_256x192.pth --out run/
    hmr keypoints frames/ --fps 25 --weights pose_hrnet_w32_256x192.pth --out run/ --boxes boxes.csv
    hmr keypoints clip.mp4 --weights w.pth --out run/ --detector my_detector:make_detector --refine dark --smooth
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hmr.commands.runtime import add_refine_argument, cli_progress, resolve_device, resolve_refine
from hmr.core.fastpath import PRECISIONS, resolve_precision


def _keypoints(args: argparse.Namespace) -> int:
    from hmr.pose2d.stage import run_keypoints
    from hmr.pose2d.smoothing import OneEuroParams

    if args.weights is None:  # one rule for defaults: the configured hrnet_w32, else the shipped demo HRNet
        from hmr.pipeline import default_hrnet
        from hmr.core.standins import stand_in_lines

        args.weights = default_hrnet()
        for line in stand_in_lines(hrnet_weights=args.weights):
            print(line)
    if not args.weights.is_file():
        from body_models.errors import MissingFileError

        raise MissingFileError(f"HRNet weights not found: {args.weights}; download pose_hrnet_w32_256x192.pth "
                               "(see README, 'Files the user brings') and pass its path to --weights")
    smooth = OneEuroParams(min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta) if args.smooth else None
    with cli_progress(args.quiet, unit="frame") as progress:
        result = run_keypoints(
            video=args.video,
            out_dir=args.out,
            weights=args.weights,
            boxes=args.boxes,
            detector=args.detector,
            flip=not args.no_flip,
            refine=resolve_refine(args.refine),
            smooth=smooth,
            batch_size=args.batch_size,
            device=resolve_device(args.device),
            precision=resolve_precision(args.precision, resolve_device(args.device)),
            compile=args.compile,
            progress=progress,
            fps=args.fps,
            export_coco=args.export_coco,
            export_vp3d=args.export_vp3d,
        )
    kp = result.keypoints
    print(f"wrote {result.path}: {kp.num_frames} frames, {kp.num_people} track(s), "
          f"{result.frames_without_person} frame(s) without a person, {result.seconds:.1f} s")
    for kind, path in result.exports.items():
        print(f"wrote {path} ({kind})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``hmr keypoints``."""
    p = sub.add_parser("keypoints", help="2D keypoints (COCO-17) of a video or image folder with HRNet")
    p.add_argument("video", type=Path, help="video file, or a folder of .jpg/.png frames")
    p.add_argument("--weights", type=Path, default=None,
                   help="HRNet weights: official pose_hrnet_*.pth, an MMPose checkpoint or a project checkpoint "
                        "(default: hrnet_w32 from `hmr weights`, else the shipped synthetic-trained demo HRNet)")
    p.add_argument("--out", type=Path, required=True, help="output folder for keypoints2d.npz")
    p.add_argument("--boxes", type=Path, default=None,
                   help="person boxes per frame: JSON {frame: [[x1,y1,x2,y2,(score)], ...]} or CSV "
                        "frame,x1,y1,x2,y2[,score][,track_id]")
    p.add_argument("--detector", default="hog",
                   help="person detector without --boxes: hog (OpenCV's built-in, the default), a .onnx file "
                        "(MMDeploy layout: dets, labels), module:factory whose factory() returns a callable "
                        "frame RGB -> (N, 5) boxes+score, keypoints (one person, followed by its keypoints), or "
                        "keypoints+hog (the same, found by HOG when lost)")
    p.add_argument("--no-flip", action="store_true", help="skip the flip test (about 2x faster)")
    add_refine_argument(p)
    p.add_argument("--smooth", action="store_true", help="One-Euro temporal smoothing of the keypoints")
    p.add_argument("--smooth-min-cutoff", type=float, default=1.0, help="One-Euro cutoff at rest, Hz (default 1.0)")
    p.add_argument("--smooth-beta", type=float, default=0.05,
                   help="One-Euro speed coefficient, 1/pixel (default 0.05)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder")
    p.add_argument("--batch-size", type=int, default=16, help="person crops per network call (default 16)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default auto)")
    p.add_argument("--precision", default="auto", choices=PRECISIONS, help="auto: bf16 where the CPU (AMX/AVX512-BF16) or GPU has it, else fp32; fp32: the exact official outputs; bf16: autocast with BatchNorm folded and channels_last")
    p.add_argument("--compile", action="store_true",
                   help="HRNet through torch.compile: faster per crop after about 30 s of compiling per batch size "
                        "on a CPU (pays on long videos; needs a C++ compiler)")
    p.add_argument("--export-coco", type=Path, default=None, help="also write COCO keypoint results JSON")
    p.add_argument("--export-vp3d", type=Path, default=None,
                   help="also write VideoPose3D's custom 2D layout (data_2d_custom_<name>.npz)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_keypoints)
