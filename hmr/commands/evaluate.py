"""``hmr eval``: benchmark evaluation of the lifter and the mesh regressor.

    hmr eval h36m-lifter data/data_3d_h36m.npz --keypoints-2d data/data_2d_h36m_cpn_ft_h36m_dbb.npz \\
        --checkpoint checkpoint/pretrained_h36m_cpn.bin --out eval/h36m_lifter
    hmr eval h36m-mesh data/h36m/h36m_valid_protocol2.npz --images data/h36m --checkpoint data/model_checkpoint.pt \\
        --body-model data/smpl --j-regressor-h36m data/J_regressor_h36m.npy --out eval/h36m_p2
    hmr eval 3dpw data/3DPW --checkpoint data/model_checkpoint.pt --body-model data/smpl \\
        --j-regressor-h36m data/J_regressor_h36m.npy --out eval/3dpw --device auto
    hmr eval coco-keypoints person_keypoints_val.json --images images --checkpoint hrnet.pt --out eval/kp
    hmr eval mpi-inf-3dhp data/mpi_inf_3dhp --checkpoint data/model_checkpoint.pt --body-model data/smpl \\
        --j-regressor-h36m data/J_regressor_h36m.npy --out eval/3dhp
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hmr.commands.runtime import resolve_device

BENCHMARKS = ("h36m-lifter", "h36m-mesh", "3dpw", "mpi-inf-3dhp", "world", "coco-keypoints")


def _eval(args: argparse.Namespace) -> int:
    if args.benchmark == "coco-keypoints":
        from hmr.commands.pose2d import eval_coco_keypoints

        return eval_coco_keypoints(args)
    from hmr.evaluation.report import format_table
    from hmr.evaluation.runner import evaluate_benchmark

    report = evaluate_benchmark(
        benchmark=args.benchmark, data=args.data, out_dir=args.out, checkpoint=args.checkpoint,
        keypoints_2d=args.keypoints_2d, images=args.images, protocol=args.protocol, body_model=args.body_model,
        j_regressor_h36m=args.j_regressor_h36m, mean_params=args.mean_params,
        smplify_keypoints=args.smplify_keypoints, gmm=args.gmm, smplify_iters=args.smplify_iters,
        batch_size=args.batch_size, device=resolve_device(args.device), resume=not args.no_resume,
        progress=not args.quiet, flip=not args.no_flip, causal=args.causal, downsample=args.downsample)
    print(format_table(report))
    print(f"wrote {args.out / 'results.json'}, results.csv, figures and run.json")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``eval`` on the ``hmr`` parser."""
    ev = sub.add_parser("eval", help="evaluate on Human3.6M, 3DPW, MPI-INF-3DHP (official protocols) or COCO keypoints")
    ev.add_argument("benchmark", choices=BENCHMARKS, metavar="BENCHMARK", help=", ".join(BENCHMARKS))
    ev.add_argument("data", type=Path, help="h36m-lifter: data_3d_h36m.npz; h36m-mesh: h36m_valid_protocol{1,2}.npz; "
                                            "3dpw: 3DPW folder or 3dpw_test.npz; mpi-inf-3dhp: folder with "
                                            "mpi_inf_3dhp_test_set; world: spin/val.npz of hmr world-to-spin")
    ev.add_argument("--checkpoint", type=Path, required=True,
                    help="VideoPose3D .bin (h36m-lifter), SPIN model_checkpoint.pt (mesh benchmarks) or HRNet "
                         "weights (coco-keypoints)")
    ev.add_argument("--out", type=Path, required=True, help="report folder")
    ev.add_argument("--keypoints-2d", type=Path, help="h36m-lifter: data_2d_h36m_<source>.npz")
    ev.add_argument("--images", type=Path, help="image root of the mesh benchmarks (default: next to DATA)")
    ev.add_argument("--protocol", type=int, choices=(1, 2), help="h36m-mesh protocol (default: from the file name)")
    ev.add_argument("--body-model", default="mannequin",
                    help="'mannequin' or a folder with SMPL_NEUTRAL/MALE/FEMALE.pkl (default: mannequin)")
    ev.add_argument("--j-regressor-h36m", type=Path, help="SPIN's J_regressor_h36m.npy (needed with real SMPL)")
    ev.add_argument("--mean-params", type=Path, help="SPIN's smpl_mean_params.npz (checkpoints without IEF buffers)")
    ev.add_argument("--smplify-keypoints", type=Path,
                    help="2D keypoints npz (imgname, keypoints, joint_set): adds the 'with SMPLify' numbers")
    ev.add_argument("--gmm", type=Path, help="SMPLify pose prior gmm_08.pkl")
    ev.add_argument("--smplify-iters", type=int, help="SMPLify Adam steps per stage (default: SPIN's 100)")
    ev.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    ev.add_argument("--no-resume", action="store_true", help="recompute sequences already in OUT/sequences")
    ev.add_argument("--no-flip", action="store_true", help="h36m-lifter, coco-keypoints: no test-time flip augmentation")
    ev.add_argument("--causal", action="store_true",
                    help="h36m-lifter: the official checkpoint was trained causal (run.py --causal); its weights "
                         "cannot tell. Project checkpoints carry it")
    ev.add_argument("--downsample", type=int, default=1,
                    help="h36m-lifter: keep every n-th frame, as run.py's --downsample (default 1; 2 for 25 fps lifters)")
    ev.add_argument("--detections", type=Path, help="coco-keypoints: COCO detection results (default: ground-truth boxes)")
    ev.add_argument("--refine", choices=("dark",), default=None, help="coco-keypoints: DARK heatmap refinement")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=_eval)
