"""Speed of the fast paths against the project's exact fp32 path, in one run, in one table.

    python benchmarks/bench_speed.py                       # everything (many minutes on a busy CPU)
    python benchmarks/bench_speed.py --only smplify lifter --rounds 5
    python benchmarks/bench_speed.py --only e2e --baseline 81a7b71

The exact fp32 path equals the official code (README "Exactness"), so each ratio is a ratio
against the official implementation. How it is measured, so that other load on a shared
machine does not bias the ratios:

- one thread (``torch.set_num_threads(1)``; the end-to-end children get ``OMP_NUM_THREADS=1``);
- CPU time of this process (``time.process_time``) or of the child (``RUSAGE_CHILDREN``),
  not wall time;
- the baseline and the fast path alternate, round after round, and the table gives medians.

Rows:

- HRNet W32 256×192, random weights: the keypoints stage's network call (``_Network.keypoints``:
  normalisation, network, decoding) on a batch of crops, ``--precision fp32`` (the model as
  loaded) against the fast path (``--precision auto``: a copy with BatchNorm folded,
  channels_last, its convolutions fused with the sums and ReLUs after them in bf16
  (``hmr.core.fused``), where the CPU has bf16; fp32 otherwise);
- HMR (SPIN's ResNet-50 regressor), random weights: the regress stage's network call
  (``hmr.regressor.stage.regressor_network``), likewise;
- the shipped demo HRNet and demo regressor (learned weights) on a small image world rendered
  for the benchmark (seed 99, not the training world): the same two paths, with the keypoints'
  and joints' change and each path's error against the world's truth;
- VideoPose3D: the shipped demo lifter (learned weights) and an official-size 243-frame,
  1024-channel one (random weights): the whole sequence at once in fp32 (the official way)
  against chunks of ``lifting.CHUNK_FRAMES`` with the receptive field's overlap and auto precision;
- SMPLify at batch 1 and 64: the full-mesh path (``joints_only=False``: every step skins all
  vertices, as SPIN) against the joints-only path (``joints_only=True``, the default), the same
  Adam steps, on synthetic mannequin bodies seen by SPIN's crop camera; PA-MPJPE of each fit
  against the true joints;
- end to end: ``hmr run`` on a generated 640×480 one-person clip with official-size
  random-weight models (HRNet W32, HMR, VideoPose3D 243f/1024c, SMPLify 100 + 100), in a checkout
  of the baseline revision (today's per-frame path) against this checkout with its defaults, and
  with ``--compile`` (its compilation time included).

HRNet and HMR rows also give ``--compile`` (``hmr.core.fastpath.CompiledNetwork``: torch.compile with
frozen weights on the fast path's network), with the wall time its compilation took.

Accuracy columns: the largest and mean change of the fast path's output against the exact
path's on the same inputs (keypoint pixels, joint millimetres). On random weights they only show
the arithmetic's rounding; the lifter row with the demo weights is the learned-weights number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's packages, not whatever is installed
DEFAULT_BASELINE = "81a7b71"  # main before the fast paths (issue 18): per-frame regress, full-mesh SMPLify, fp32


def _interleaved(fns: dict, rounds: int) -> dict[str, float]:
    """Median CPU seconds per call of each function, calling them in turn, round after round."""
    for fn in fns.values():  # warm-up: allocator, one-off kernels, lazy buffers
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _row(rows: list, what: str, unit: str, count: float, base: float, fast: float, cost: str) -> None:
    rows.append((what, unit, count / base, count / fast, base / fast, cost))


def bench_hrnet(rows: list, rounds: int, batch: int, precision: str) -> None:
    from hmr.pose2d.stage import _Network
    from hmr.pose2d import HRNet, HRNetConfig

    torch.manual_seed(0)
    model = HRNet(HRNetConfig()).eval()
    with torch.no_grad():
        model.final_layer.bias.fill_(1.0)  # positive heatmaps: every joint found
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (batch, 256, 192, 3), dtype=np.uint8)
    center = np.tile([[320.0, 240.0]], (batch, 1))
    scale = np.tile([[1.2, 1.6]], (batch, 1))
    exact = _Network(model, flip=False, refine=None, batch_size=batch, device="cpu", precision="fp32")
    fast = _Network(model, flip=False, refine=None, batch_size=batch, device="cpu", precision=precision)
    started = time.perf_counter()
    compiled = _Network(model, flip=False, refine=None, batch_size=batch, device="cpu", precision=precision,
                        compile=True)
    compile_s = time.perf_counter() - started
    paths = {"exact": exact, "fast": fast, "compiled": compiled}
    with torch.no_grad():
        t = _interleaved({name: (lambda n=n: n.keypoints(images, center, scale)) for name, n in paths.items()}, rounds)
        out = {name: n.keypoints(images, center, scale)[..., :2] for name, n in paths.items()}
    for name, label, extra in (("fast", "", ""), ("compiled", ", --compile", f"; compiling {compile_s:.0f} s wall")):
        change = np.linalg.norm(out[name] - out["exact"], axis=-1)
        _row(rows, f"HRNet W32 keypoints stage, batch {batch}{label}", "crops/s", batch, t["exact"], t[name],
             f"kp max {change.max():.2f} / mean {change.mean():.2f} px (random weights){extra}")


def bench_hmr(rows: list, rounds: int, batch: int, precision: str) -> None:
    from body_models.smpl import load_smpl
    from hmr.core.fastpath import autocast
    from hmr.regressor import HMR, HMRConfig
    from hmr.regressor.stage import regressor_network

    torch.manual_seed(0)
    model = HMR(HMRConfig()).eval()
    images = torch.randn(batch, 3, 224, 224)
    paths = {"fast": regressor_network(model, "cpu", precision)}
    started = time.perf_counter()
    paths["compiled"] = regressor_network(model, "cpu", precision, compile=True, batch_size=batch)
    compile_s = time.perf_counter() - started

    def call(name):  # as the regress stage calls it
        with autocast("cpu", precision):
            rotmat, cam, betas = paths[name](images)
        return SimpleNamespace(rotmat=rotmat, cam=cam, betas=betas)

    fast, compiled = (lambda: call("fast")), (lambda: call("compiled"))

    with torch.no_grad():
        t = _interleaved({"exact": lambda: model(images), "fast": fast, "compiled": compiled}, rounds)
        outputs = {"exact": model(images), "fast": fast(), "compiled": compiled()}
        smpl = load_smpl("mannequin")
        joints = {name: smpl(betas=o.betas.float(), body_pose=o.rotmat[:, 1:].float(),
                             global_orient=o.rotmat[:, :1].float()).joints for name, o in outputs.items()}
    for name, label, extra in (("fast", "", ""), ("compiled", ", --compile", f"; compiling {compile_s:.0f} s wall")):
        change = 1000 * (joints[name] - joints["exact"]).norm(dim=-1)
        _row(rows, f"HMR regress stage, batch {batch}{label}", "crops/s", batch, t["exact"], t[name],
             f"joints max {change.max():.1f} / mean {change.mean():.1f} mm (random weights){extra}")


def _bench_world(num: int) -> tuple[Path, dict]:
    """A small image world (seed 99, not the training world's) and its SPIN-layout arrays."""
    from hmr.synthetic.images import make_synthetic_images
    from hmr.synthetic.spin_layout import world_to_spin

    root = Path(tempfile.mkdtemp(prefix="bench_world_"))
    make_synthetic_images(root, num, seed=99)
    written = world_to_spin(root, num_mocap=8)
    arrays = {}
    for split in ("train", "val"):
        with np.load(written[split]) as z, np.load(written[f"{split}_keypoints"]) as k:
            for key, value in [*z.items(), ("coco", k["keypoints"])]:
                arrays.setdefault(key, []).append(value)
    return root, {key: np.concatenate(values) for key, values in arrays.items()}


def bench_learned(rows: list, rounds: int, num: int, precision: str) -> None:
    import cv2

    from body_models.smpl import load_smpl
    from hmr.evaluation.harness import load_crops
    from hmr.core.fastpath import autocast
    from hmr.pose2d.stage import _Network
    from hmr.pose2d import DEMO_WEIGHTS as DEMO_HRNET, load_pretrained as load_hrnet
    from hmr.pose2d.topdown import crop_people
    from hmr.regressor import DEMO_WEIGHTS as DEMO_REGRESSOR, load_pretrained as load_regressor
    from hmr.regressor.stage import regressor_network

    root, world = _bench_world(num)
    # HRNet on crops of the world's boxes (center, scale as the pipeline cuts them), flip test on.
    hrnet = load_hrnet(DEMO_HRNET).eval()
    crops = []
    for name, center, scale in zip(world["imgname"], world["center"], world["scale"]):
        frame = cv2.cvtColor(cv2.imread(str(root / "images" / str(name))), cv2.COLOR_BGR2RGB)
        half = 100.0 * float(scale)  # SPIN's scale is the box side / 200
        box = np.array([[center[0] - half, center[1] - half, center[0] + half, center[1] + half]])
        crops.append(crop_people(frame, box, image_size=hrnet.config.image_size))
    images = np.concatenate([c.images for c in crops])
    center, scale = np.concatenate([c.center for c in crops]), np.concatenate([c.scale for c in crops])
    exact = _Network(hrnet, flip=True, refine=None, batch_size=8, device="cpu", precision="fp32")
    fast = _Network(hrnet, flip=True, refine=None, batch_size=8, device="cpu", precision=precision)
    with torch.no_grad():
        t = _interleaved({"exact": lambda: exact.keypoints(images, center, scale),
                          "fast": lambda: fast.keypoints(images, center, scale)}, rounds)
        a, b = exact.keypoints(images, center, scale)[..., :2], fast.keypoints(images, center, scale)[..., :2]
    change = np.linalg.norm(b - a, axis=-1)
    seen = world["coco"][..., 2] > 0
    error = [np.linalg.norm(p - world["coco"][..., :2], axis=-1)[seen].mean() for p in (a, b)]
    _row(rows, f"demo HRNet W16 128x160 (learned), {len(images)} people, flip", "crops/s", len(images),
         t["exact"], t["fast"], f"kp max {change.max():.2f} / mean {change.mean():.3f} px; error against the "
         f"truth {error[0]:.2f} vs {error[1]:.2f} px")

    # The regressor on SPIN's crops of the same people; joints of the estimates against the truth's.
    model = load_regressor(DEMO_REGRESSOR).eval()
    fast_net = regressor_network(model, "cpu", precision)
    batch = load_crops(root / "images", [str(n) for n in world["imgname"]], world["center"], world["scale"],
                       model.config.image_size)

    def fast_hmr():  # as the regress stage calls it
        with autocast("cpu", precision):
            rotmat, cam, betas = fast_net(batch)
        return SimpleNamespace(rotmat=rotmat, cam=cam, betas=betas)

    smpl = load_smpl("mannequin")
    with torch.no_grad():
        t = _interleaved({"exact": lambda: model(batch), "fast": fast_hmr}, rounds)
        joints = [smpl(betas=o.betas.float(), body_pose=o.rotmat[:, 1:].float(),
                       global_orient=o.rotmat[:, :1].float()).h36m for o in (model(batch), fast_hmr())]
        pose = torch.as_tensor(world["pose"], dtype=torch.float32)
        truth = smpl(betas=torch.as_tensor(world["shape"], dtype=torch.float32), body_pose=pose[:, 3:],
                     global_orient=pose[:, :3]).h36m
    change = 1000 * (joints[1] - joints[0]).norm(dim=-1)
    error = [1000 * ((j - j[:, :1]) - (truth - truth[:, :1])).norm(dim=-1).mean() for j in joints]
    _row(rows, f"demo HMR ResNet-18 160 px (learned), {len(images)} people", "crops/s", len(images),
         t["exact"], t["fast"], f"joints max {change.max():.1f} / mean {change.mean():.2f} mm; MPJPE against the "
         f"truth {error[0]:.1f} vs {error[1]:.1f} mm")
    shutil.rmtree(root)


def _lifter_input(frames: int) -> tuple[np.ndarray, tuple[int, int]]:
    """A mannequin walk in pixels of a 1000×1002 camera (Human3.6M's S9), COCO-17."""
    from body_models.cameras import image_coordinates, project_to_2d, world_to_camera
    from body_models.smpl import load_smpl
    from lifting.data import h36m_cameras
    from lifting.synthetic import synthetic_joint_sets

    joints = synthetic_joint_sets("walk", frames, seed=5, smpl=load_smpl("mannequin"), joint_sets=("coco_17",))
    cam = h36m_cameras("S9")[1]
    camera = world_to_camera(joints["coco_17"], cam.orientation, cam.translation)
    return image_coordinates(project_to_2d(camera, cam.intrinsic), cam.res_w, cam.res_h), (cam.res_w, cam.res_h)


def bench_lifter(rows: list, rounds: int, frames: int, precision: str) -> None:
    from lifting import DEMO_WEIGHTS, TemporalModel, lift_keypoints, load_pretrained
    from lifting.inference import CHUNK_FRAMES

    pixels, size = _lifter_input(frames)
    torch.manual_seed(0)
    for name, model in (("demo 27f/256c, learned", load_pretrained(DEMO_WEIGHTS)),
                        ("official-size 243f/1024c, random", TemporalModel(17, 2, 17, (3, 3, 3, 3, 3), channels=1024).eval())):
        exact = lambda: lift_keypoints(model, pixels, size, chunk_frames=None, precision="fp32").joints  # noqa: E731
        fast = lambda: lift_keypoints(model, pixels, size, chunk_frames=CHUNK_FRAMES, precision=precision).joints  # noqa: E731
        t = _interleaved({"exact": exact, "fast": fast}, rounds)
        change = 1000 * np.linalg.norm(fast() - exact(), axis=-1)
        _row(rows, f"VideoPose3D {name}, {frames} frames", "frames/s", frames, t["exact"], t["fast"],
             f"joints max {change.max():.2f} / mean {change.mean():.3f} mm")


def bench_smplify(rows: list, rounds: int, batches: list[int], iters: int) -> None:
    from body_models import mannequin
    from body_models.cameras import SPIN_CROP_SIZE, SPIN_FOCAL_LENGTH, perspective_project
    from body_models.metrics import pa_mpjpe
    from body_models.motion import sample_poses
    from body_models.smpl import load_smpl
    from hmr.smplify import SMPLify, SMPLifyConfig

    smpl = load_smpl("mannequin")
    prior = mannequin.gmm_prior_path()
    for batch in batches:
        torch.manual_seed(0)
        pose = torch.from_numpy(sample_poses(batch, seed=1))
        orient = torch.tensor([math.pi, 0.0, 0.0]).expand(batch, 3)
        with torch.no_grad():
            body = smpl(body_pose=pose, global_orient=orient, transl=torch.tensor([0.0, 0.2, 10.0]).expand(batch, 3))
        uv = perspective_project(body.joint_set("coco_17"), SPIN_FOCAL_LENGTH, torch.full((2,), SPIN_CROP_SIZE / 2))
        keypoints = torch.cat([uv + torch.randn_like(uv), torch.ones(batch, 17, 1)], dim=-1)
        fits = {jo: SMPLify(smpl, prior, SMPLifyConfig(num_iters=iters, joints_only=jo),
                            mean_params=mannequin.mean_params()) for jo in (False, True)}
        results = {}

        def run(jo):
            results[jo] = fits[jo](keypoints)

        t = _interleaved({"exact": lambda: run(False), "fast": lambda: run(True)}, rounds)
        truth = body.joints.numpy()
        pa = {jo: 1000 * pa_mpjpe(results[jo].joints.numpy(), truth) for jo in (False, True)}
        change = 1000 * (results[True].joints - results[False].joints).norm(dim=-1)
        _row(rows, f"SMPLify {iters}+{iters} steps, batch {batch}", "fits/s", batch, t["exact"], t["fast"],
             f"PA-MPJPE {pa[True]:.2f} vs {pa[False]:.2f} mm; joints max {change.max():.4f} mm")


def _e2e_weights(folder: Path) -> list[str]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_pipeline import _weights

    weights = _weights(folder)
    return ["--hrnet-weights", str(weights["hrnet_weights"]), "--lifter-weights", str(weights["lifter_weights"]),
            "--hmr-weights", str(weights["hmr_weights"])]


def _child_cpu(cmd: list[str], cwd: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(cwd))
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_e2e(rows: list, rounds: int, frames: int, baseline: str) -> None:
    from hmr.synthetic.clip import make_synthetic_clip

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = tmp / "baseline"
        old.mkdir()
        archive = subprocess.run(["git", "archive", baseline], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        clip = make_synthetic_clip(tmp / "clip", num_frames=frames, focal_length=736.0, elevation_deg=15.0)
        gt = np.load(clip.ground_truth)
        boxes = tmp / "boxes.json"
        boxes.write_text(json.dumps({str(t): [gt["boxes"][t, 0].tolist()] for t in range(frames)}))
        args = [str(clip.video), *_e2e_weights(tmp), "--boxes", str(boxes), "--no-flip", "--quiet", "--device", "cpu"]
        count = [0]

        stages: dict[str, dict] = {}

        def run(tree: Path, extra: list[str], name: str):
            count[0] += 1
            out = tmp / f"out{count[0]}"
            cpu = _child_cpu([sys.executable, "-m", "hmr.cli", "run", *args, "--out", str(out), *extra], tree)
            stages[name] = json.loads((out / "run.json").read_text())["timings_s"]
            return cpu

        times: dict[str, list[float]] = {"exact": [], "fast": [], "compiled": []}
        for _ in range(rounds):
            times["exact"].append(run(old, ["--precision", "fp32"], "exact"))
            times["fast"].append(run(REPO, [], "fast"))
            times["compiled"].append(run(REPO, ["--compile"], "compiled"))
        median = {name: statistics.median(t) for name, t in times.items()}
        for name, seconds in stages.items():
            print(f"hmr run {name}: CPU s {median[name]:.1f}; wall s per stage (last round) "
                  + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    _row(rows, f"hmr run, {frames} frames 640x480, vs {baseline} per-frame fp32", "frames/CPU-s", frames,
         median["exact"], median["fast"], "all stages; fast path with its defaults (--precision auto)")
    _row(rows, f"hmr run --compile, {frames} frames 640x480, vs {baseline}", "frames/CPU-s", frames,
         median["exact"], median["compiled"], "the same, HRNet and HMR compiled (compile time included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["hrnet", "hmr", "learned", "lifter", "smplify", "e2e"],
                        choices=["hrnet", "hmr", "learned", "lifter", "smplify", "e2e"])
    parser.add_argument("--people", type=int, default=32, help="images of the learned-weights rows' world")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per row (median)")
    parser.add_argument("--batch", type=int, default=8, help="crops per network call (HRNet, HMR)")
    parser.add_argument("--frames", type=int, default=1000, help="lifter sequence length")
    parser.add_argument("--smplify-batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--iters", type=int, default=100, help="SMPLify Adam steps per stage (SPIN: 100)")
    parser.add_argument("--e2e-frames", type=int, default=16)
    parser.add_argument("--e2e-rounds", type=int, default=1)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision of the per-frame path")
    args = parser.parse_args()

    from hmr.core.fastpath import cpu_bf16_flags, resolve_precision

    torch.set_num_threads(1)
    precision = resolve_precision("auto", "cpu")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    print(f"bench_speed, commit {commit}, torch {torch.__version__}, 1 thread, CPU bf16 flags: "
          f"{', '.join(cpu_bf16_flags()) or 'none'} -> --precision auto = {precision}; "
          f"load average {os.getloadavg()[0]:.1f}; CPU time, medians of {args.rounds} interleaved rounds")
    rows: list = []
    if "hrnet" in args.only:
        bench_hrnet(rows, args.rounds, args.batch, precision)
    if "hmr" in args.only:
        bench_hmr(rows, args.rounds, args.batch, precision)
    if "learned" in args.only:
        bench_learned(rows, args.rounds, args.people, precision)
    if "lifter" in args.only:
        bench_lifter(rows, args.rounds, args.frames, precision)
    if "smplify" in args.only:
        bench_smplify(rows, args.rounds, args.smplify_batches, args.iters)
    if "e2e" in args.only:
        bench_e2e(rows, args.e2e_rounds, args.e2e_frames, args.baseline)
    print()
    print("| what | unit | exact fp32 | fast path | speed-up | accuracy cost of the fast path |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for what, unit, base, fast, ratio, cost in rows:
        print(f"| {what} | {unit} | {base:.3g} | {fast:.3g} | {ratio:.2f}x | {cost} |", flush=True)


if __name__ == "__main__":
    main()
