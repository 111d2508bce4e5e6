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
import os
from pathlib import Path
from types import ModuleType

from body_models.errors import InputError
from body_models.progress import Progress
from hmr.commands.runtime import add_refine_argument, cli_progress, resolve_device

BENCHMARKS = ("h36m-lifter", "h36m-mesh", "3dpw", "mpi-inf-3dhp", "world", "coco-keypoints")


def _eval(args: argparse.Namespace) -> int:
    if args.benchmark == "coco-keypoints":
        from hmr.commands.pose2d import eval_coco_keypoints

        return eval_coco_keypoints(args)
    from hmr.evaluation.report import format_table

    with cli_progress(args.quiet, unit="img") as progress:
        report = evaluate_benchmark(
            benchmark=args.benchmark, data=args.data, out_dir=args.out, checkpoint=args.checkpoint,
            keypoints_2d=args.keypoints_2d, images=args.images, protocol=args.protocol, body_model=args.body_model,
            j_regressor_h36m=args.j_regressor_h36m, mean_params=args.mean_params,
            smplify_keypoints=args.smplify_keypoints, gmm=args.gmm, smplify_iters=args.smplify_iters,
            batch_size=args.batch_size, device=resolve_device(args.device), resume=not args.no_resume,
            progress=progress, flip=not args.no_flip, causal=args.causal, downsample=args.downsample)
    print(format_table(report))
    print(f"wrote {args.out / 'results.json'}, results.csv, figures and run.json")
    return 0


def evaluate_benchmark(benchmark: str, data: str | os.PathLike, out_dir: str | os.PathLike,
                       checkpoint: str | os.PathLike, *, keypoints_2d: str | os.PathLike | None = None,
                       images: str | os.PathLike | None = None, protocol: int | None = None,
                       body_model: str | os.PathLike = "mannequin", j_regressor_h36m: str | os.PathLike | None = None,
                       mean_params: str | os.PathLike | None = None,
                       smplify_keypoints: str | os.PathLike | None = None, gmm: str | os.PathLike | None = None,
                       smplify_iters: int | None = None, batch_size: int = 32, device: str = "cpu",
                       resume: bool = True, progress: Progress | bool = True, flip: bool = True, causal: bool = False,
                       downsample: int = 1,
                       references_dir: str | os.PathLike | None = None):
    """Evaluate a checkpoint on one benchmark and write the report into ``out_dir``.

    The benchmark's adapter (``mesh_adapter``, or ``hmr.evaluation.h36m_lifter``) reads and scores
    it; ``hmr.evaluation.harness`` runs the model and writes the report and ``run.json``.

    Args:
        benchmark: ``h36m-lifter``, ``h36m-mesh``, ``3dpw``, ``mpi-inf-3dhp`` or ``world``.
        data: h36m-lifter: ``data_3d_h36m.npz``; h36m-mesh: ``h36m_valid_protocol{1,2}.npz``;
            3dpw: the 3DPW folder (with ``sequenceFiles/test``), that ``test`` folder, or SPIN's
            ``3dpw_test.npz``; mpi-inf-3dhp: the folder holding ``mpi_inf_3dhp_test_set`` (or that
            folder itself); world: ``spin/val.npz`` of ``hmr world-to-spin``.
        out_dir: report folder (``results.json``, ``results.csv``, PNGs, ``run.json``,
            ``sequences/``).
        checkpoint: VideoPose3D ``.bin`` (h36m-lifter) or SPIN's ``model_checkpoint.pt``.
        keypoints_2d: h36m-lifter only: ``data_2d_h36m_<source>.npz``.
        images: image root for the mesh benchmarks (default: next to ``data``).
        protocol: h36m-mesh: 1 or 2 (default: from the file name).
        body_model: ``"mannequin"`` or a folder with ``SMPL_{NEUTRAL,MALE,FEMALE}.pkl``.
        j_regressor_h36m: SPIN's ``J_regressor_h36m.npy`` (needed with a real SMPL model).
        mean_params: SPIN's ``smpl_mean_params.npz`` for checkpoints without IEF buffers.
        smplify_keypoints: 2D keypoints file; when given, the "with SMPLify" numbers are added.
        gmm: SMPLify's ``gmm_08.pkl`` (the mannequin's prior with the mannequin).
        smplify_iters: Adam steps per SMPLify stage (default: SPIN's 100).
        batch_size: images (or nothing, for the lifter) per forward pass.
        device: torch device the model runs on (the CLI resolves "auto").
        resume: reuse finished per-sequence files in ``out_dir/sequences``.
        progress: a ``body_models.progress.Progress`` reporter for the mesh benchmarks
            (``("eval", images done, images)``); True prints plain lines to stderr, False is silent.
        flip: h36m-lifter test-time flip augmentation.
        causal: h36m-lifter: the official checkpoint was trained causal (its weights cannot tell;
            a project checkpoint carries it, and this must then agree).
        downsample: h36m-lifter: keep every n-th frame (2: 25 fps, the demo lifter's training rate).
        references_dir: folder of published numbers (default: the package's hmr/evaluation/published).

    Returns:
        The ``hmr.evaluation.report.BenchmarkReport``.
    """
    from hmr.evaluation.harness import evaluate_mesh, run_evaluation

    out_dir = Path(out_dir)
    arguments = {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in dict(
        benchmark=benchmark, data=data, checkpoint=checkpoint, keypoints_2d=keypoints_2d, images=images,
        protocol=protocol, body_model=body_model, j_regressor_h36m=j_regressor_h36m, mean_params=mean_params,
        smplify_keypoints=smplify_keypoints, gmm=gmm, smplify_iters=smplify_iters, batch_size=batch_size,
        device=device, resume=resume, flip=flip, causal=causal, downsample=downsample).items()}

    def evaluate(record):
        if benchmark == "h36m-lifter":
            from hmr.evaluation.h36m_lifter import evaluate_lifter

            if keypoints_2d is None:
                raise InputError("h36m-lifter needs --keypoints-2d data_2d_h36m_<source>.npz next to the 3D file "
                                 "(VideoPose3D DATASETS.md)")
            return evaluate_lifter(data_3d=data, data_2d=keypoints_2d, checkpoint=checkpoint, device=device,
                                   flip=flip, causal=causal, record=record, downsample=downsample)
        adapter = mesh_adapter(benchmark)
        return evaluate_mesh(adapter, benchmark, Path(data), out_dir, Path(checkpoint), record, images=images,
                             protocol=protocol, body_model=body_model, j_regressor_h36m=j_regressor_h36m,
                             mean_params=mean_params, smplify_keypoints=smplify_keypoints, gmm=gmm,
                             smplify_iters=smplify_iters, batch_size=batch_size, device=device, resume=resume,
                             progress=progress)

    return run_evaluation(benchmark, arguments, evaluate, out_dir, references_dir=references_dir)


def mesh_adapter(benchmark: str) -> ModuleType:
    """The module that reads and scores a mesh benchmark (``load_dataset`` and ``score``).

    Raises:
        InputError: ``benchmark`` is not one of the mesh benchmarks.
    """
    from hmr.evaluation import h36m_mesh, mpi_inf_3dhp, pw3d, world

    adapters = {"h36m-mesh": h36m_mesh, "3dpw": pw3d, "mpi-inf-3dhp": mpi_inf_3dhp, "world": world}
    if benchmark not in adapters:
        raise InputError(f"unknown benchmark {benchmark!r}; choose h36m-lifter, h36m-mesh, 3dpw, mpi-inf-3dhp or world")
    return adapters[benchmark]


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
    add_refine_argument(ev, prefix="coco-keypoints: ")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=_eval)
