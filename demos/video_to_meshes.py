"""A video to meshes: HRNet 2D keypoints, the VideoPose3D lifter and SMPLify, one OBJ per frame.

    python demos/video_to_meshes.py [VIDEO] [--out DIR] [--frames N] [--iterations N]

With no VIDEO it films a short synthetic clip of the mannequin walking (nothing downloaded) and
runs the same pipeline as ``hmr run`` on it: HRNet (the configured one, else the shipped
synthetic-trained demo HRNet), the shipped demo lifter, and
SMPLify from the mean pose on the mannequin body. Prints every file written, the frames with a
mesh and the lifter's MPJPE against the clip's ground truth.
"""

import argparse
from pathlib import Path

import numpy as np

from body_models.metrics import MM_PER_M, mpjpe
from body_models.sequences import Joints3D, SMPLSequence
from hmr.pipeline import PipelineOptions, run_pipeline
from hmr.synthetic.clip import make_synthetic_clip

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("video", nargs="?", type=Path, help="a video file or image folder (default: a synthetic clip)")
parser.add_argument("--out", type=Path, default=Path("demo_out/video_to_meshes"), help="output folder")
parser.add_argument("--frames", type=int, default=8, help="frames of the synthetic clip (default 8)")
parser.add_argument("--iterations", type=int, default=10, help="SMPLify Adam steps per stage (default 10)")
args = parser.parse_args()

source, truth = args.video, None
if args.video is None:
    clip = make_synthetic_clip(args.out / "synthetic", num_frames=args.frames, image_size=(320, 240),
                               focal_length=368.0, elevation_deg=15.0, azimuth_deg=25.0)
    source, truth = clip.video, clip.ground_truth
    print(f"wrote clip: {clip.video}\nwrote ground_truth: {truth}")

# The clip's one person is followed by their keypoints (found by HOG when lost); a video: HOG.
detector = "keypoints+hog" if truth is not None else PipelineOptions.detector
options = PipelineOptions(detector=detector, smplify_iterations=args.iterations)
result = run_pipeline(source, args.out, options)
for role, path in result.outputs.items():
    print(f"wrote {role}: {path}")
for stage, why in result.skipped.items():
    print(f"skipped {stage}: {why}")

print(f"person-frames with a mesh = {int(SMPLSequence.load(result.outputs['smpl']).valid.sum())}")
if truth is not None:
    pred = Joints3D.load(result.outputs["joints3d"])
    with np.load(truth) as gt:
        ok = pred.valid[:, 0]
        print(f"lifter MPJPE mm = {mpjpe(pred.joints[ok, 0], gt['joints3d'][ok, 0]) * MM_PER_M:.1f}")
