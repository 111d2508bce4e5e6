"""``hmr run`` and ``hmr demo``: the whole pipeline on a video (or a keypoints file), and on the
embedded synthetic clip, scored against its ground truth.

    hmr demo --out demo_out
    hmr run video.mp4 --out out --hrnet-weights pose_hrnet_w32_256x192.pth \\
        --lifter-weights pretrained_h36m_detectron_coco.bin --hmr-weights model_checkpoint.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hmr.commands.runtime import add_refine_argument, cli_progress, resolve_device, resolve_refine


def _bars(quiet: bool):
    """One tqdm bar per pipeline stage, the names aligned; silent with --quiet."""
    return cli_progress(quiet, unit="frame", width=9)


def _pipeline_options(args: argparse.Namespace):
    from hmr.io.export import parse_formats
    from hmr.pipeline import PipelineOptions
    from hmr.core.weights import resolve

    def weights(flag, key):
        found = resolve(key, flag, args.config)
        if flag is not None and not found.exists:
            from body_models.errors import MissingFileError

            raise MissingFileError(f"{flag} not found ({found.file.role}); see `hmr weights`")
        return found.path if found.exists else None

    return PipelineOptions(
        hrnet_weights=weights(args.hrnet_weights, "hrnet_w32"),
        lifter_weights=weights(args.lifter_weights, "vp3d_coco"),
        hmr_weights=weights(args.hmr_weights, "spin"),
        mean_params=weights(args.mean_params, "spin_mean_params") if args.hmr_weights or args.mean_params else None,
        body_model=args.body_model, gender=args.gender, prior=args.prior,
        j_regressor_extra=args.j_regressor_extra, smplify=not args.no_smplify,
        smplify_iterations=args.iterations, smplify_full_mesh=args.full_mesh,
        smplify_warm_start=args.warm_start, smplify_warm_iterations=args.warm_iterations, temporal_weight=args.temporal_weight,
        orient_from_lifter=args.orient_from_lifter,
        focal_length=args.focal_length, fov=args.fov, calibration=args.calibration,
        image_size=tuple(args.image_size) if args.image_size else None, frame_offset=args.frame_offset,
        boxes=args.boxes, detector=args.detector, flip=not args.no_flip,
        refine=resolve_refine(args.refine), device=resolve_device(args.device),
        precision=args.precision, compile=args.compile,
        batch_size=args.batch_size, meshes=not args.no_meshes, overlay=not args.no_overlay,
        skeleton=not args.no_skeleton, side_by_side=args.side_by_side,
        smooth=args.smooth, world=not args.no_world, refine_contacts=args.refine_contacts,
        export=parse_formats(args.export) if args.export else ())


def _summary(out_dir: Path, outputs: dict, seconds: dict, cached: list, skipped: dict, notes=()) -> None:
    print(f"outputs in {out_dir}:")
    for role, path in outputs.items():
        print(f"  {role:>13}: {path}")
    print("time per stage: " + ", ".join(
        f"{stage} {t:.1f} s" + (" (cached)" if stage in cached else "") for stage, t in seconds.items()))
    for stage, why in skipped.items():
        print(f"  skipped {stage}: {why}")
    for note in notes:
        print(note)


def _print_stand_ins(options) -> None:
    from hmr.core.standins import stand_in_lines

    fits = options.smplify or options.hmr_weights is not None
    for line in stand_in_lines(body_model=options.body_model if fits else None, lifter_weights=options.lifter_weights,
                               regressor=(options.hmr_weights is not None) if options.smplify else None,
                               hrnet_weights=options.hrnet_weights, hmr_weights=options.hmr_weights):
        print(line)


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    from hmr.pipeline import default_hrnet, default_regressor, is_keypoints_file, run_pipeline

    options = _pipeline_options(args)
    if options.lifter_weights is None:  # the shipped lifter, as in `hmr lift` and `hmr demo`
        from lifting import DEMO_WEIGHTS

        options = dataclasses.replace(options, lifter_weights=DEMO_WEIGHTS)
    if options.hrnet_weights is None and not is_keypoints_file(args.input):  # and the shipped HRNet
        options = dataclasses.replace(options, hrnet_weights=default_hrnet())
    if options.hmr_weights is None and (args.video is not None or not is_keypoints_file(args.input)):
        options = dataclasses.replace(options, hmr_weights=default_regressor())  # and the shipped regressor
    _print_stand_ins(options)
    with _bars(args.quiet) as progress:
        result = run_pipeline(args.input, args.out, options, video=args.video, progress=progress)
    _summary(result.out_dir, result.outputs, result.seconds, result.cached, result.skipped, result.notes)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from hmr.demo import run_demo

    with _bars(args.quiet) as progress:
        demo = run_demo(args.out, num_frames=args.frames, motion=args.motion, seed=args.seed,
                        options=_pipeline_options(args), progress=progress, keypoints=args.keypoints)
    result = demo.pipeline
    _summary(result.out_dir, demo.outputs, result.seconds, result.cached, result.skipped, result.notes)
    print("stages:")
    for stage, what in demo.stages.items():
        print(f"  {stage:>9}: {what}")
    print("scores against the ground truth (mm):")
    for name, value in demo.scores.items():
        print(f"  {name:>22}: {value}")
    from hmr.demo import mesh_table

    if any(name.endswith("mesh_mpjpe_mm") for name in demo.scores):
        print("meshes against the ground truth, stage by stage (mm, H36M joints; PVE pelvis-aligned):")
        print("\n".join(mesh_table(demo.scores)))
    if demo.motion:
        from hmr.demo import MOTION_BAR

        print("does the lifter follow the motion (flexion range as % of the truth's, r over time, "
              "MPJPE against a static mean pose):")
        for name, value in demo.motion.items():
            print(f"  {name:>22}: {value}")
        met = all(demo.motion[k] >= v for k, v in MOTION_BAR.items())
        print(f"  {'bar':>22}: {'met' if met else 'NOT met'} (knee range >= 70 %, knee r >= 0.8, "
              "MPJPE >= 30 % under the static pose)")
    print("keypoints against the ground truth (image pixels; PCK@0.05 of the box's longer side):")
    for name, value in demo.keypoint_scores.items():
        print(f"  {name:>22}: {value}")
    return 0


def _add_pipeline_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("demo_out") if p.prog.endswith("demo") else None,
                   required=not p.prog.endswith("demo"), help="output folder")
    p.add_argument("--config", type=Path, default=None, help="weights config file (see `hmr weights`)")
    p.add_argument("--hrnet-weights", type=Path, default=None, help="HRNet checkpoint (pose_hrnet_w32_256x192.pth)")
    p.add_argument("--lifter-weights", type=Path, default=None,
                   help="VideoPose3D checkpoint with COCO-17 input (pretrained_h36m_detectron_coco.bin)")
    p.add_argument("--hmr-weights", type=Path, default=None, help="SPIN checkpoint (model_checkpoint.pt)")
    p.add_argument("--mean-params", type=Path, default=None, help="SPIN's smpl_mean_params.npz")
    p.add_argument("--body-model", default="mannequin", help="SMPL model file or folder (default: the mannequin)")
    p.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"))
    p.add_argument("--prior", type=Path, default=None, help="SMPLify pose prior gmm_08.pkl")
    p.add_argument("--j-regressor-extra", type=Path, default=None, help="SPIN's J_regressor_extra.npy")
    p.add_argument("--no-smplify", action="store_true", help="skip SMPLify (meshes come from HMR alone)")
    p.add_argument("--iterations", type=int, default=None, help="SMPLify Adam steps per stage (default 100)")
    p.add_argument("--full-mesh", action="store_true",
                   help="SMPLify skins every vertex at every step, as SPIN (the same fit, slower; default: "
                        "only the joints its loss reads)")
    p.add_argument("--warm-start", type=int, default=0, metavar="N", help="SMPLify fits every N-th frame of each person from its own start and each frame between from the previous frame's fit, with --warm-iterations steps (default 0: every frame from its own start, SPIN's way)")
    p.add_argument("--warm-iterations", type=int, default=None, help="Adam steps per stage of a warm-started frame (default 20)")
    p.add_argument("--temporal-weight", type=float, default=0.0, help="SMPLify smoothness over frames (0: off)")
    p.add_argument("--orient-from-lifter", action="store_true",
                   help="SMPLify also starts from the body orientation of the lifter's 3D joints (1.5x the fit time)")
    p.add_argument("--focal-length", type=float, default=None, help="pixels (default: the image diagonal)")
    p.add_argument("--fov", type=float, default=None, help="horizontal field of view, degrees (instead of --focal-length)")
    p.add_argument("--calibration", type=Path, default=None,
                   help="OpenCV-style camera calibration, YAML or JSON with K and distortion (overrides both)")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=None,
                   help="image size for keypoint files that do not record it (must match --video's frames)")
    p.add_argument("--frame-offset", type=int, default=0,
                   help="added to a keypoints file's frame numbers (COCO image_id) to give the video's frame "
                        "indices, e.g. -1 when image_id 1 is the first frame (default 0)")
    p.add_argument("--boxes", type=Path, default=None, help="person boxes file (JSON or CSV)")
    p.add_argument("--detector", default="hog",
                   help="person detector without --boxes: hog (OpenCV's built-in, the default), a .onnx file "
                        "(MMDeploy layout), module:factory, keypoints (one person, followed by its keypoints), or "
                        "keypoints+hog (the same, found by HOG when lost)")
    p.add_argument("--no-flip", action="store_true", help="no flip test in HRNet and the lifter")
    add_refine_argument(p, default="dark" if p.prog.endswith("demo") else "official")
    p.add_argument("--device", default="auto",
                   help="where HRNet, HMR and SMPLify run: auto (the GPU when there is one), cpu, cuda, cuda:1, ...")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="auto: bf16 where the CPU (AMX/AVX512-BF16) or GPU has it, else fp32; fp32: the exact official outputs; bf16: autocast with BatchNorm folded and channels_last; for the networks only: SMPLify fits in fp32 (run.json records both)")
    p.add_argument("--batch-size", type=int, default=16, help="crops per network call")
    p.add_argument("--compile", action="store_true", help="HRNet and HMR through torch.compile: faster per crop after about 30 s of compiling per network and batch size on a CPU (pays on long videos; needs a C++ compiler)")
    p.add_argument("--no-meshes", action="store_true", help="skip the OBJ files")
    p.add_argument("--no-overlay", action="store_true", help="skip overlay.mp4")
    p.add_argument("--no-skeleton", action="store_true", help="no 2D skeletons on the overlay")
    p.add_argument("--side-by-side", action="store_true", help="add a panel with the lifter's 3D joints to the overlay")
    p.add_argument("--smooth", default="none",
                   help="none, one-euro or temporal: smooth the SMPL parameters and 3D joints over time (default: none)")
    p.add_argument("--no-world", action="store_true", help="skip world.npz (ground plane, world frame, contacts)")
    p.add_argument("--refine-contacts", action="store_true",
                   help="pin the feet in contact in world.npz (removes sliding, may add drift)")
    p.add_argument("--export", default=None, metavar="FORMATS",
                   help="also write animation files at the end: bvh, glb, amass, comma-separated (see `hmr export`)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``run`` and ``demo`` on the ``hmr`` parser."""
    run = sub.add_parser("run", help="video (or 2D keypoints file) in; keypoints, 3D joints, SMPL, meshes, overlay out")
    run.add_argument("input", type=Path, help="a video, an image folder, or keypoints2d.npz / COCO JSON / OpenPose folder")
    run.add_argument("--video", type=Path, default=None, help="the frames, when INPUT is a keypoints file")
    _add_pipeline_arguments(run)
    run.set_defaults(func=_run)

    demo = sub.add_parser("demo", help="the embedded default: a synthetic clip through the pipeline, scored")
    demo.add_argument("--frames", type=int, default=48, help="clip length in frames (default: 48)")
    demo.add_argument("--motion", default="walk", help="procedural motion: walk, wave, squat, reach, idle, ...")
    demo.add_argument("--seed", type=int, default=0, help="motion and keypoint-noise seed (default: 0)")
    demo.add_argument("--keypoints", choices=("hrnet", "noisy-truth"), default="hrnet",
                      help="hrnet: HRNet on the clip's pixels (--hrnet-weights, else the shipped demo HRNet; the "
                           "default); noisy-truth: the true 2D keypoints with 2 px noise and 5 %% of joints dropped, "
                           "to score the later stages apart from HRNet")
    _add_pipeline_arguments(demo)
    demo.set_defaults(func=_demo)
