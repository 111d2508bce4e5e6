"""SMPLify on a 2D keypoints file: SMPL parameters and one mesh per frame, without images.

    python demos/smplify_keypoints.py [KEYPOINTS] [--out DIR] [--iterations N]

KEYPOINTS is a ``keypoints2d.npz``, a COCO keypoint ``.json`` or an OpenPose JSON folder (what
``hmr fit --keypoints`` takes). With none it films a short synthetic clip of the mannequin (nothing
downloaded), writes its true 2D keypoints with pixel noise, and fits the mannequin body to them
from the mean pose. Prints every file written, the mean reprojection loss and, on the synthetic
clip, the PA-MPJPE of the fitted SMPL joints against the truth.
"""

import argparse
from pathlib import Path

import numpy as np

from body_models.metrics import MM_PER_M, pa_mpjpe
from body_models.sequences import SMPLSequence
from hmr.demo import noisy_keypoints
from hmr.smplify.video import fit_keypoints_file
from hmr.synthetic.clip import make_synthetic_clip

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("keypoints", nargs="?", type=Path, help="2D keypoints (default: from a synthetic clip)")
parser.add_argument("--out", type=Path, default=Path("demo_out/smplify_keypoints"), help="output folder")
parser.add_argument("--iterations", type=int, default=20, help="Adam steps per SMPLify stage (default 20)")
parser.add_argument("--frames", type=int, default=6, help="frames of the synthetic clip (default 6)")
args = parser.parse_args()

truth, focal_length = None, None
if args.keypoints is None:
    clip = make_synthetic_clip(args.out / "synthetic", num_frames=args.frames, image_size=(320, 240),
                               focal_length=368.0, elevation_deg=15.0, azimuth_deg=25.0)
    truth, focal_length = clip.ground_truth, 368.0  # the camera that filmed it
    args.keypoints = noisy_keypoints(truth, args.out / "synthetic" / "keypoints2d.npz")
    print(f"wrote clip: {clip.video}\nwrote ground_truth: {truth}\nwrote keypoints: {args.keypoints}")

fit = fit_keypoints_file(args.keypoints, args.out, iterations=args.iterations, meshes=True,
                         focal_length=focal_length)
print(f"wrote smpl: {fit.smpl_path}\nwrote meshes: {fit.mesh_dir}\nwrote run: {args.out / 'run.json'}")
print(f"fitted {fit.fitted} of {fit.attempted} person-frames in {fit.seconds:.1f} s")

smpl = SMPLSequence.load(fit.smpl_path)
valid, joints = smpl.valid, smpl.joints  # (T, P); (T, P, 24, 3) metres, camera frame
print(f"mean reprojection loss (crop px^2) = {np.nanmean(smpl.reprojection_loss[valid]):.2f}")
if truth is not None:
    with np.load(truth) as gt:
        pred, target = joints[valid], gt["joints"][valid]  # (N, 24, 3)
    print(f"PA-MPJPE mm = {pa_mpjpe(pred, target) * MM_PER_M:.1f}")
