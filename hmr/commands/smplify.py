"""``hmr`` subcommands for the SMPLify stage.

    hmr fit --keypoints run/keypoints2d.npz --out run/
    hmr fit --keypoints op_json/ --image-size 1920 1080 --body-model models/smpl --prior gmm_08.pkl --meshes
    hmr fit-prior --poses mocap.npz --out gmm_08.pkl --components 8
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _fit(args: argparse.Namespace) -> int:
    from hmr.commands.runtime import cli_progress, resolve_device
    from hmr.smplify.video import fit_keypoints_file
    from hmr.core.standins import stand_in_lines

    device = resolve_device(args.device)
    for line in stand_in_lines(body_model=args.body_model):
        print(line)
    with cli_progress(args.quiet, unit="fit") as progress:  # the bar starts when fitting does, after loading
        summary = fit_keypoints_file(
            keypoints_path=args.keypoints, out_dir=args.out, body_model=args.body_model, gender=args.gender,
            prior=args.prior, focal_length=args.focal_length,
            image_size=tuple(args.image_size) if args.image_size else None,
            temporal_weight=args.temporal_weight, iterations=args.iterations, meshes=args.meshes,
            batch_size=args.batch_size, mean_params=args.mean_params,
            j_regressor_extra=args.j_regressor_extra, orientation_joints=args.orientations,
            progress=progress,
            betas="frame" if args.betas_per_frame else "track", shape_frames=args.shape_frames,
            joints_only=False if args.full_mesh else None, warm_start=args.warm_start,
            warm_iterations=args.warm_iterations, device=device)
    print(f"fitted {summary.fitted} of {summary.attempted} person-frames ({summary.num_frames} frames, "
          f"{summary.num_people} people; {summary.valid_fits} below the loss threshold, "
          f"{summary.betas_zeroed} with betas reset) in {summary.seconds:.1f} s, "
          f"focal length {summary.focal_length:.0f} px")
    from hmr.smplify.video import over_threshold_hint

    hint = over_threshold_hint(summary.over_threshold)
    if hint:
        print(hint)
    print(f"wrote {summary.smpl_path}")
    if summary.mesh_dir is not None:
        print(f"wrote {summary.mesh_dir}/<track>/<frame>.obj")
    return 0


def _fit_prior(args: argparse.Namespace) -> int:
    from body_models.priors import fit_prior_from_mocap

    made = fit_prior_from_mocap(poses_path=args.poses, out_path=args.out, n_components=args.components,
                                seed=args.seed, max_iter=args.max_iter)
    print(f"fitted a {made.gmm.num_components}-component pose prior to {made.num_poses} poses "
          f"({made.pose_layout})")
    print(f"wrote {made.path}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``fit`` and ``fit-prior`` on the ``hmr`` parser."""
    fit = sub.add_parser("fit", help="fit SMPL to 2D keypoints with SMPLify; writes smpl.npz (and meshes)")
    fit.add_argument("--keypoints", type=Path, required=True,
                     help="keypoints2d.npz, a COCO keypoint .json or an OpenPose JSON folder (full-image pixels)")
    fit.add_argument("--out", type=Path, required=True, help="output folder")
    fit.add_argument("--body-model", default="mannequin",
                     help="'mannequin' (default) or an SMPL model file or folder")
    fit.add_argument("--gender", default="neutral", help="neutral (default), male or female, for a model folder")
    fit.add_argument("--prior", type=Path, default=None,
                     help="gmm_08.pkl pose prior (default: the mannequin's, only with the mannequin)")
    fit.add_argument("--focal-length", type=float, default=None,
                     help="pixels (default: the image diagonal)")
    fit.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=None,
                     help="image width and height, pixels (COCO results and OpenPose files lack it)")
    fit.add_argument("--temporal-weight", type=float, default=None,
                     help="smoothness weight over consecutive frames (default 0: off)")
    fit.add_argument("--iterations", type=int, default=None, help="Adam steps per stage (default 100, SPIN's)")
    fit.add_argument("--batch-size", type=int, default=64, help="person-frames per batch (default 64)")
    fit.add_argument("--full-mesh", action="store_true",
                     help="skin every vertex at every step, as SPIN (the same fit, slower; default: only the "
                          "joints the loss reads)")
    fit.add_argument("--warm-start", type=int, default=0, metavar="N", help="SMPLify fits every N-th frame of each person from its own start and each frame between from the previous frame's fit, with --warm-iterations steps (default 0: every frame from its own start, SPIN's way)")
    fit.add_argument("--warm-iterations", type=int, default=None, help="Adam steps per stage of a warm-started frame (default 20)")
    fit.add_argument("--mean-params", type=Path, default=None,
                     help="SPIN's smpl_mean_params.npz for the start pose (default: the mannequin's)")
    fit.add_argument("--orientations", type=Path, default=None,
                     help="joints3d.npz lifted from these keypoints: SMPLify also starts from its body orientations")
    fit.add_argument("--j-regressor-extra", type=Path, default=None,
                     help="J_regressor_extra.npy (COCO-17 keypoints with a real SMPL model need it)")
    fit.add_argument("--meshes", action="store_true", help="also write meshes/<track>/<frame>.obj")
    fit.add_argument("--betas-per-frame", action="store_true",
                     help="fit the body shape in every frame on its own (default: one shape per track, from a first "
                          "pass on its frames with the best keypoints)")
    fit.add_argument("--shape-frames", type=int, default=16,
                     help="frames per track in the shape pass (default 16)")
    fit.add_argument("--device", default="auto",
                     help="where SMPLify runs: auto (the GPU when there is one), cpu, cuda, cuda:1, ...; it fits in "
                          "float32 on every device")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(func=_fit)

    prior = sub.add_parser("fit-prior", help="fit a GMM pose prior to mocap poses; writes the gmm_08.pkl layout")
    prior.add_argument("--poses", type=Path, required=True,
                       help=".npz with 'poses' (N, 72) (or AMASS (N, 156)) or 'body_pose' (N, 69), radians")
    prior.add_argument("--out", type=Path, required=True, help="output .pkl, e.g. gmm_08.pkl")
    prior.add_argument("--components", type=int, default=8, help="mixture components (default 8)")
    prior.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
    prior.add_argument("--max-iter", type=int, default=100, help="EM iterations at most (default 100)")
    prior.set_defaults(func=_fit_prior)
