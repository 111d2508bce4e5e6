"""A 2D keypoints file to 3D joints with the shipped demo lifter (VideoPose3D, 27 frames, COCO-17).

    python demos/lift_2d_file.py [KEYPOINTS2D_NPZ] [--out DIR] [--weights LIFTER]

With no file it films a short synthetic clip of the mannequin walking (nothing downloaded), writes
its true 2D keypoints with pixel noise as a ``keypoints2d.npz``, lifts them, and prints MPJPE and
PA-MPJPE against the clip's true 3D joints. Prints every file written.
"""

import argparse
from pathlib import Path

import numpy as np

from body_models.metrics import MM_PER_M, mpjpe, pa_mpjpe
from body_models.sequences import Joints3D
from hmr.demo import noisy_keypoints
from hmr.synthetic.clip import make_synthetic_clip
from lifting import DEMO_WEIGHTS, lift_keypoints_file

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("keypoints", nargs="?", type=Path, help="a keypoints2d.npz (default: from a synthetic clip)")
parser.add_argument("--out", type=Path, default=Path("demo_out/lift_2d_file"), help="output folder")
parser.add_argument("--weights", type=Path, default=DEMO_WEIGHTS, help="lifter weights (default: the demo lifter)")
parser.add_argument("--frames", type=int, default=50, help="frames of the synthetic clip (default 50)")
args = parser.parse_args()

truth = None
if args.keypoints is None:  # 25 fps, the demo lifter's training rate
    clip = make_synthetic_clip(args.out / "synthetic", num_frames=args.frames, fps=25.0, image_size=(320, 240),
                               focal_length=368.0, elevation_deg=15.0, azimuth_deg=25.0)
    truth = clip.ground_truth
    args.keypoints = noisy_keypoints(truth, args.out / "synthetic" / "keypoints2d.npz")
    print(f"wrote clip: {clip.video}\nwrote ground_truth: {truth}\nwrote keypoints: {args.keypoints}")

written = lift_keypoints_file(args.keypoints, args.weights, args.out)
for role, path in written.items():
    print(f"wrote {role}: {path}")

lifted = Joints3D.load(written["npz"])
joints, valid = lifted.joints, lifted.valid  # (T, P, 17, 3) metres, root-relative; (T, P)
print(f"person-frames lifted = {int(valid.sum())}")
if truth is not None:
    with np.load(truth) as gt:
        pred, target = joints[valid], gt["joints3d"][valid]  # (N, 17, 3) metres
    print(f"MPJPE mm = {mpjpe(pred, target) * MM_PER_M:.1f}")
    print(f"PA-MPJPE mm = {pa_mpjpe(pred, target) * MM_PER_M:.1f}")
